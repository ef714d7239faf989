#!/usr/bin/env python3
"""cluster_load.py — load through several vactord nodes, and the check that
nothing acknowledged was lost.

  cluster_load.py load --nodes URL,URL,... --user U --tasks N --seconds S
                       --threads T --out FILE [--stop-file PATH]
  cluster_load.py check --nodes URL,... --in FILE

load: creates tasks U-t0..U-tN-1 of user U (task ids are global) (PUT; ones that exist are kept),
then T threads post {"minutes": 1} to .../log, each request to the next
task and the next node in turn, for S seconds (or until PATH exists). Every
answer is counted: per task the logs acknowledged (200) and attempted, and
per node the failures by status. FILE gets the counts as JSON.

check: reads each task's minutes through the nodes (the first that
answers) and fails unless acknowledged <= minutes <= attempted for every
task (nothing acknowledged lost, nothing counted that was never sent).
Prints a one-line summary either way.
"""
import argparse
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse


def connect(url):
    u = urllib.parse.urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=30)


def request(conns, i, nodes, method, path, body=None):
    """One request to node i on its kept-alive connection: (status, body);
    status 0 when the connection failed (it is opened again next time)."""
    try:
        if conns[i] is None:
            conns[i] = connect(nodes[i])
        data = json.dumps(body).encode() if body is not None else None
        conns[i].request(method, path, body=data,
                         headers={"Content-Type": "application/json"})
        r = conns[i].getresponse()
        return r.status, r.read()
    except (OSError, http.client.HTTPException):
        if conns[i] is not None:
            conns[i].close()
        conns[i] = None
        return 0, b""


def error_code(body):
    try:
        return json.loads(body).get("errorCode", "")
    except ValueError:
        return ""


def create_tasks(nodes, user, n):
    conns = [None] * len(nodes)
    for t in range(n):
        for attempt in range(200):
            st, _ = request(conns, attempt % len(nodes), nodes, "PUT",
                            f"/v1/users/{user}/tasks/{user}-t{t}", {"title": f"t{t}"})
            if st in (201, 409):
                break
            time.sleep(0.05)
        else:
            sys.exit(f"cluster_load: cannot create t{t}")


def load(args):
    nodes = args.nodes.split(",")
    create_tasks(nodes, args.user, args.tasks)
    acked = [0] * args.tasks
    tried = [0] * args.tasks
    failures = {}
    lock = threading.Lock()
    until = time.monotonic() + args.seconds

    def worker(k):
        conns = [None] * len(nodes)
        n = k
        while time.monotonic() < until and not (
                args.stop_file and os.path.exists(args.stop_file)):
            t, i = n % args.tasks, n % len(nodes)
            n += args.threads
            with lock:
                tried[t] += 1
            st, body = request(conns, i, nodes, "POST",
                            f"/v1/users/{args.user}/tasks/{args.user}-t{t}/log",
                            {"minutes": 1})
            with lock:
                if st == 200:
                    acked[t] += 1
                else:
                    key = f"{nodes[i]} {st} {error_code(body)}"
                    failures[key] = failures.get(key, 0) + 1

    threads = [threading.Thread(target=worker, args=(k,))
               for k in range(args.threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    out = {"user": args.user, "acked": acked, "tried": tried,
           "failures": failures, "total_acked": sum(acked)}
    with open(args.out, "w") as f:
        json.dump(out, f)
    print(f"cluster_load: {sum(acked)} of {sum(tried)} logs acknowledged, "
          f"failures {failures}")


def check(args):
    nodes = args.nodes.split(",")
    with open(args.inp) as f:
        done = json.load(f)
    conns = [None] * len(nodes)
    bad = []
    for t, (acked, tried) in enumerate(zip(done["acked"], done["tried"])):
        minutes = None
        for attempt in range(100):
            st, body = request(conns, attempt % len(nodes), nodes, "GET",
                               f"/v1/users/{done['user']}/tasks/{done['user']}-t{t}")
            if st == 200:
                minutes = json.loads(body)["minutes"]
                break
            time.sleep(0.1)
        if minutes is None or not acked <= minutes <= tried:
            bad.append(f"t{t}: acked {acked} tried {tried} stored {minutes}")
    print(f"cluster_load: checked {len(done['acked'])} tasks, "
          f"{done['total_acked']} acknowledged logs; bad: {bad[:5]}")
    sys.exit(1 if bad else 0)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    lp = sub.add_parser("load")
    lp.add_argument("--nodes", required=True)
    lp.add_argument("--user", required=True)
    lp.add_argument("--tasks", type=int, default=20)
    lp.add_argument("--seconds", type=float, default=5)
    lp.add_argument("--threads", type=int, default=8)
    lp.add_argument("--out", required=True)
    lp.add_argument("--stop-file")
    cp = sub.add_parser("check")
    cp.add_argument("--nodes", required=True)
    cp.add_argument("--in", dest="inp", required=True)
    args = p.parse_args()
    load(args) if args.cmd == "load" else check(args)


if __name__ == "__main__":
    main()
