#!/usr/bin/env bash
# http_limits_test.sh — black-box tests of vactord's HTTP limits, timeouts
# and metrics, with curl and raw sockets (python3): a request sent by half
# gets a 408 after --request-timeout; an idle keep-alive connection is
# closed quietly after --client-timeout, one in use is not; with
# VACTORD_MAX_CONNECTIONS=5 the 6th connection gets a 503 with Retry-After
# while the other five still work; /metrics counts requests by route and
# status, their latency, connections and timeouts; the flags are in --help,
# bad values and a limit above the fd limit are refused; the server keeps
# serving throughout and stops with exit 0.
# Usage: http_limits_test.sh PATH_TO_VACTORD
set -uo pipefail
vactord="$1"
source "$(dirname "$0")/lib.sh"
metrics() { curl -s "$url/metrics"; }

# The raw-socket clients: python3 "$dir/client.py" PORT CASE; exit 0 = pass.
cat > "$dir/client.py" <<'EOF'
import socket, sys, time
port, case = int(sys.argv[1]), sys.argv[2]
REQ = b"GET /v1.0/healthz HTTP/1.1\r\nHost: t\r\n\r\n"

def connect():
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(5)
    return s

def read_to_eof(s):
    data = b""
    while True:
        try:
            d = s.recv(65536)
        except ConnectionResetError:
            return data, "reset"
        if not d:
            return data, "eof"
        data += d

def answer(s):  # one response with an empty body (healthz: 204)
    data = b""
    while b"\r\n\r\n" not in data:
        d = s.recv(4096)
        if not d:
            break
        data += d
    return data

def fail(msg):
    print("  " + msg)
    sys.exit(1)

def slow(partial, low, high):  # half a request: 408, then the close
    s = connect()
    t = time.monotonic()
    s.sendall(partial)
    data, end = read_to_eof(s)
    took = time.monotonic() - t
    if not data.startswith(b"HTTP/1.1 408 "):
        fail("got %r" % data[:80])
    if b"ERR_REQUEST_TIMEOUT" not in data or b"Connection: close" not in data:
        fail("no JSON error or no close: %r" % data)
    if end != "eof" or not low <= took <= high:
        fail("end %s after %.2f s" % (end, took))

def idle(low, high):  # a request, its answer, then a quiet close
    s = connect()
    s.sendall(REQ)
    if not answer(s).startswith(b"HTTP/1.1 204"):
        fail("no 204")
    t = time.monotonic()
    data, end = read_to_eof(s)
    took = time.monotonic() - t
    if data or end != "eof" or not low <= took <= high:
        fail("%r, %s after %.2f s" % (data, end, took))

def busy(every, n):  # a request every `every` s keeps the connection open
    s = connect()
    for i in range(n):
        s.sendall(REQ)
        if not answer(s).startswith(b"HTTP/1.1 204"):
            fail("request %d: no 204" % i)
        time.sleep(every)

def limit(n):  # n connections work, the next is refused, the n still work
    socks = [connect() for _ in range(n)]
    for s in socks:
        s.sendall(REQ)
        if not answer(s).startswith(b"HTTP/1.1 204"):
            fail("one of the first %d: no 204" % n)
    extra = connect()
    try:
        extra.sendall(REQ)
    except OSError:
        pass  # refused before the request was sent: the answer is there
    data, end = read_to_eof(extra)
    head = data.split(b"\r\n\r\n")[0].split(b"\r\n")
    if head[0] != b"HTTP/1.1 503 Service Unavailable":
        fail("extra: %r" % data)
    if b"Retry-After: 1" not in head or b"ERR_TOO_MANY_CONNECTIONS" not in data:
        fail("extra: no Retry-After or no error code: %r" % data)
    for s in socks:
        s.sendall(REQ)
        if not answer(s).startswith(b"HTTP/1.1 204"):
            fail("one of the first %d failed after the refusal" % n)
    for s in socks:
        s.close()

cases = {
    "slow-headers": lambda: slow(b"GET /v1.0/healthz HTTP/1.1\r\nHost: t\r\n",
                                 0.45, 3.0),
    "slow-body": lambda: slow(b"POST /v1.0/healthz HTTP/1.1\r\nHost: t\r\n"
                              b"Content-Length: 100\r\n\r\n0123456789",
                              0.45, 3.0),
    "idle": lambda: idle(0.9, 4.0),
    "busy": lambda: busy(0.4, 6),
    "limit": lambda: limit(5),
}
cases[case]()
EOF
client() { python3 "$dir/client.py" "$port" "$1"; }

# Histogram sanity: for every route, buckets never decrease, +Inf == count.
cat > "$dir/histogram.py" <<'EOF'
import re, sys
text = sys.stdin.read()
name = "vactor_http_request_duration_seconds"
buckets, counts = {}, {}
for m in re.finditer(name + r'_bucket\{route="([^"]*)",le="([^"]*)"\} (\d+)', text):
    buckets.setdefault(m[1], []).append(int(m[3]))
for m in re.finditer(name + r'_count\{route="([^"]*)"\} (\d+)', text):
    counts[m[1]] = int(m[2])
sums = re.findall(name + r'_sum\{route="[^"]*"\} [0-9.]+', text)
ok = buckets and len(sums) == len(buckets) and all(
    len(b) == 14 and b == sorted(b) and b[-1] == counts.get(r) and b[-1] > 0
    for r, b in buckets.items())
sys.exit(0 if ok else 1)
EOF

# ---- Flags ----
check "--help lists the limits" bash -c "'$vactord' --help | grep -q -- --max-connections && '$vactord' --help | grep -q -- --client-timeout && '$vactord' --help | grep -q -- --request-timeout && '$vactord' --help | grep -q -- --max-body"
check "--help shows the server's defaults" bash -c "'$vactord' --help | tr -s ' \n' ' ' | grep -q 'VACTORD_MAX_CONNECTIONS; default 16384).*VACTORD_CLIENT_TIMEOUT; default 60000).*VACTORD_REQUEST_TIMEOUT; default 10000).*VACTORD_MAX_BODY; default 1048576)'"
check "a bad --request-timeout is refused (exit 2)" bash -c "'$vactord' --request-timeout 5x 2>/dev/null; test \$? = 2"
check "a bad VACTORD_MAX_CONNECTIONS is refused (exit 2)" bash -c "VACTORD_MAX_CONNECTIONS=0 '$vactord' 2>/dev/null; test \$? = 2"
check "--max-connections above the fd limit is an error" bash -c "ulimit -n 256; '$vactord' --listen 127.0.0.1:$(free_port) --data '$dir/data' --max-connections 1000 2>'$dir/fdlog'; test \$? = 1 && grep -q 'level=error msg=\"max connections exceed the fd limit\"' '$dir/fdlog'"

# ---- Timeouts ----
check "starts with short timeouts" start --request-timeout 500 --client-timeout 1000
check "logs the fd limit" grep -q 'msg="fd limit' "$dir/log"
check "logs the limits" grep -q 'msg="http limits" max_connections=16384 client_timeout_ms=1000 request_timeout_ms=500' "$dir/log"
check "half a request line and headers: 408 after ~0.5 s, then closed" client slow-headers
check "half a body: 408 after ~0.5 s, then closed" client slow-body
check "an idle keep-alive connection is closed quietly after ~1 s" client idle
check "a connection in use is not idle (6 requests over 2.4 s)" client busy
for _ in 1 2 3; do curl -s -o /dev/null "$url/nope"; done
metrics > "$dir/m1"
check "metrics: requests by route and status" grep -Eq '^vactor_http_requests_total\{route="healthz",status="204"\} [0-9]+$' "$dir/m1"
check "metrics: the 404s counted" grep -Eq '^vactor_http_requests_total\{route="unmatched",status="404"\} 3$' "$dir/m1"
check "metrics: the 408s counted" grep -Eq '^vactor_http_requests_total\{route="unmatched",status="408"\} 2$' "$dir/m1"
check "metrics: latency histogram with _sum and _count" python3 "$dir/histogram.py" < "$dir/m1"
check "metrics: histogram type line" grep -q '^# TYPE vactor_http_request_duration_seconds histogram$' "$dir/m1"
check "metrics: request timeouts" grep -q '^vactor_http_client_timeouts_total{kind="request"} 2$' "$dir/m1"
check "metrics: idle timeouts" grep -Eq '^vactor_http_client_timeouts_total\{kind="idle"\} [1-9]' "$dir/m1"
check "metrics: connections accepted" grep -Eq '^vactor_http_connections_total [1-9]' "$dir/m1"
check "metrics: no reply's hand-off failed" grep -q '^vactor_http_handoffs_failed_total 0$' "$dir/m1"
check "metrics: the runtime's still there" grep -Eq '^vactor_turns_total [0-9]+$' "$dir/m1"
check "still serving after the timeouts" test "$(status "$url/v1.0/healthz")" = 204
check "SIGTERM: exit 0" stop

# ---- The connection limit (set through the environment) ----
export VACTORD_MAX_CONNECTIONS=5
check "starts with VACTORD_MAX_CONNECTIONS=5" start
unset VACTORD_MAX_CONNECTIONS
sleep 0.2 # the health probes' connections are closed
check "the 6th connection gets 503 + Retry-After; the 5 others still work" client limit
sleep 0.2
check "after the 5 close, a new connection works" test "$(status "$url/v1.0/healthz")" = 204
metrics > "$dir/m2"
check "metrics: the refusal counted" grep -Eq '^vactor_http_connections_refused_total [1-9]' "$dir/m2"
check "metrics: one connection open (this one)" grep -q '^vactor_http_connections 1$' "$dir/m2"
check "the Task API still works" bash -c "curl -s -X PUT $url/v1/users/ann/tasks/t1 -d '{\"title\":\"x\"}' | grep -q '\"owner\":\"ann\"'"
check "SIGTERM: exit 0" stop
finish
