#!/usr/bin/env python3
"""many_users.py — the Task API's concurrency check against a running
vactord: USERS users each create their own task and log time on it LOGS
times, from THREADS keep-alive connections at once (a user's requests are
spread over several connections); then 60 members and the owner of one
shared task log on it at once. Every total must add up: no lost update.
Usage: many_users.py PORT [USERS] [LOGS] [THREADS]"""
import http.client
import json
import sys
import threading

PORT = int(sys.argv[1])
USERS = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
LOGS = int(sys.argv[3]) if len(sys.argv) > 3 else 2
THREADS = int(sys.argv[4]) if len(sys.argv) > 4 else 32
errors = []


def request(conn, method, path, body=None):
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers={"Content-Type": "application/json"})
    res = conn.getresponse()
    return res.status, res.read()


def run(jobs):
    """Runs jobs (method, path, body, expected status) over THREADS
    connections, job i on connection i % THREADS."""
    def worker(k):
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
        for method, path, body, want in jobs[k::THREADS]:
            for attempt in range(50):
                status, data = request(conn, method, path, body)
                if status not in (429, 503):
                    break
            if status != want:
                errors.append(f"{method} {path}: {status} {data[:200]!r}")
        conn.close()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main():
    run([("PUT", f"/v1/users/mu{i}/tasks/mt{i}", {"title": f"task {i}"}, 201)
         for i in range(USERS)])
    # Interleaved: a user's logs go out on different connections at once.
    run([("POST", f"/v1/users/mu{i}/tasks/mt{i}/log", {"minutes": 3}, 200)
         for _ in range(LOGS) for i in range(USERS)])
    members = [f"member{i}" for i in range(60)]
    run([("PUT", "/v1/users/boss/tasks/shared", {"title": "shared", "members": members}, 201)])
    run([("POST", f"/v1/users/{u}/tasks/{ref}/log", {"minutes": 1}, 200)
         for _ in range(20)
         for u, ref in [(m, "boss:shared") for m in members] + [("boss", "shared")]])
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
    for i in range(USERS):
        status, data = request(conn, "GET", f"/v1/users/mu{i}/tasks/mt{i}")
        if status != 200 or json.loads(data)["minutes"] != 3 * LOGS:
            errors.append(f"task mt{i}: {status} {data[:200]!r}")
    status, data = request(conn, "GET", "/v1/users/member7/tasks/boss:shared")
    total = json.loads(data)["minutes"] if status == 200 else None
    if total != 20 * 61:
        errors.append(f"shared task: {total} minutes, want {20 * 61}")
    for e in errors[:20]:
        print(e, file=sys.stderr)
    print(f"{USERS} users x {LOGS} logs, shared task {total} minutes, "
          f"{len(errors)} errors")
    sys.exit(1 if errors else 0)


main()
