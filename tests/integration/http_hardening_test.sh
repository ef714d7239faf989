#!/usr/bin/env bash
# http_hardening_test.sh — one client must not exhaust, spin or confuse the
# HTTP server (issue 9), tried with raw sockets (python3) against vactord:
# a client that pipelines tens of MB of requests and never reads its
# answers leaves the server's RSS bounded; one that half-closes and never
# reads costs no CPU and is closed after --client-timeout; malformed or
# unsupported requests get the right status (400, 401, 413, 414, 431, 505) with
# a JSON error body, at once, and exactly one answer (Upgrade is ignored,
# not half-honoured); bare LF, folded headers and a space before a colon
# are refused; well-formed requests split byte by byte or pipelined still
# work; the access log has a line per request; a failing bind is logged
# with errno's text. Every loop is bounded in count and time.
# Usage: http_hardening_test.sh PATH_TO_VACTORD
set -uo pipefail
vactord="$1"
source "$(dirname "$0")/lib.sh"

cat > "$dir/client.py" <<'EOF'
import json, os, select, socket, sys, time
port, pid, case = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
HEALTH = b"GET /v1.0/healthz HTTP/1.1\r\nHost: t\r\n\r\n"
METRICS = b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n"

def fail(msg):
    print("  " + msg)
    sys.exit(1)

def connect(rcvbuf=None):
    s = socket.socket()
    if rcvbuf:  # before connect, so the window stays small
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(20)  # generous: the machine may be busy
    s.connect(("127.0.0.1", port))
    return s

def read_to_eof(s, limit=8 << 20):
    data = b""
    deadline = time.monotonic() + 60
    while len(data) < limit and time.monotonic() < deadline:
        try:
            d = s.recv(65536)
        except (ConnectionResetError, socket.timeout) as e:
            return data, type(e).__name__
        if not d:
            return data, "eof"
        data += d
    return data, "limit"

def rss_kb():
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0

def cpu_s():  # the server's user + system time
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

def health_ok():
    s = connect()
    s.sendall(b"GET /v1.0/healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    data, _ = read_to_eof(s)
    s.close()
    return data.startswith(b"HTTP/1.1 204")

def open_connections():
    s = connect()
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    data, _ = read_to_eof(s)
    s.close()
    for line in data.decode(errors="replace").split("\n"):
        if line.startswith("vactor_http_connections "):
            return int(line.split()[1])
    return -1

def responses(data):
    """The (status, body) of each response in data (Content-Length framed)."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            fail("a response without an end of head: %r" % data[:200])
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for l in lines[1:]:
            k, _, v = l.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        out.append((status, rest[:length]))
        data = rest[length:]
    return out

def pipeline():  # 20 MB of requests, none of the answers read
    base = rss_kb()
    s = connect(rcvbuf=4096)
    s.setblocking(False)
    chunk = METRICS * 2000
    sent, deadline = 0, time.monotonic() + 6
    closed = None
    while sent < (20 << 20) and time.monotonic() < deadline:
        _, w, _ = select.select([], [s], [], 0.2)
        if w:
            try:
                sent += s.send(chunk)
            except BlockingIOError:
                pass
            except (ConnectionResetError, BrokenPipeError):
                closed = time.monotonic() - (deadline - 6)
                break  # the server gave up on a client that does not read
    time.sleep(1)
    grown = (rss_kb() - base) // 1024
    print("  sent %.1f MB, server RSS +%d MB, %s" % (sent / 1e6, grown,
          "closed by the server after %.1f s" % closed if closed else "open"))
    if grown > 100:
        fail("RSS grew by %d MB" % grown)
    if not health_ok():
        fail("another client is not served meanwhile")
    s.close()

def halfclose():  # answers the client never reads, then SHUT_WR
    before = open_connections()
    s = connect(rcvbuf=4096)
    s.sendall(METRICS * 3000)
    s.shutdown(socket.SHUT_WR)
    time.sleep(0.3)
    t0 = cpu_s()
    time.sleep(3)
    burnt = cpu_s() - t0
    print("  server CPU over 3 s: %.2f s" % burnt)
    if burnt > 1.0:
        fail("the server spins on the half-closed socket")
    for _ in range(40):  # --client-timeout is 2 s: closed within 4 s more
        if open_connections() <= before:
            break
        time.sleep(0.1)
    else:
        fail("the half-closed connection is still open")
    s.close()

def halfclose_answered():  # SHUT_WR after a request: answered, then closed
    s = connect()
    s.sendall(HEALTH + HEALTH)
    s.shutdown(socket.SHUT_WR)
    data, end = read_to_eof(s)
    got = [st for st, _ in responses(data)]
    if got != [204, 204] or end != "eof":
        fail("got %r, %s" % (got, end))

def refused(request, status, code, fast=True):
    """request gets exactly one answer: status, with a JSON error body."""
    s = connect()
    t = time.monotonic()
    try:
        s.sendall(request)
    except OSError:
        pass  # refused before all was sent: the answer is there
    data, end = read_to_eof(s)
    took = time.monotonic() - t
    got = responses(data)
    if len(got) != 1 or got[0][0] != status:
        fail("got %r (%s), wanted one %d" % ([g[0] for g in got], end, status))
    try:
        body = json.loads(got[0][1])
    except ValueError:
        fail("not JSON: %r" % got[0][1][:200])
    if body.get("errorCode") != code or not isinstance(body.get("message"), str):
        fail("body %r" % body)
    if end != "eof":
        fail("not closed cleanly: %s" % end)
    if fast and took > 5:  # well below the 10 s request timeout
        fail("took %.2f s" % took)
    return body

def held(request, status, code):  # sent, then kept open: answered at once
    s = connect()
    s.sendall(request)
    t = time.monotonic()
    data, end = read_to_eof(s)
    took = time.monotonic() - t
    got = responses(data)
    if [g[0] for g in got] != [status] or code.encode() not in data:
        fail("got %r" % data[:300])
    if took > 5 or end != "eof":  # well below the 10 s request timeout
        fail("%s after %.2f s" % (end, took))

def served(request, statuses, close=True):
    s = connect()
    s.sendall(request)
    if close:
        s.shutdown(socket.SHUT_WR)
    data, end = read_to_eof(s)
    got = [st for st, _ in responses(data)]
    if got != statuses:
        fail("got %r, wanted %r" % (got, statuses))

def byte_by_byte():
    s = connect()
    for b in HEALTH:
        s.send(bytes([b]))
        time.sleep(0.002)
    s.shutdown(socket.SHUT_WR)
    data, _ = read_to_eof(s)
    if [st for st, _ in responses(data)] != [204]:
        fail("got %r" % data[:200])

def many_pipelined():  # more than the queue's bound, answered late (actors)
    reqs = b"".join(b"PUT /v1/users/pip/tasks/t%d HTTP/1.1\r\nHost: t\r\n"
                    b"Content-Length: 13\r\n\r\n{\"title\":\"x\"}" % i
                    for i in range(400))
    reqs += METRICS * 300  # and more output than the output's bound
    s = connect()
    s.sendall(reqs + b"GET /v1.0/healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
    data, end = read_to_eof(s, limit=64 << 20)
    got = [st for st, _ in responses(data)]
    if got != [201] * 400 + [200] * 300 + [204] or end != "eof":
        fail("got %d answers (%r...), %s" % (len(got), sorted(set(got)), end))

def if_match():
    body = refused(b"PATCH /v1/users/ann/tasks/t1 HTTP/1.1\r\nHost: t\r\n"
                   b"If-Match: abc\r\nContent-Type: application/json\r\n"
                   b"Connection: close\r\nContent-Length: 13\r\n\r\n"
                   b'{"title":"y"}', 400, "ERR_BAD_REQUEST")
    if '"3"' not in body["message"]:
        fail("message %r" % body["message"])

def trailer():
    """A chunked body's trailers are not headers: an If-Match in them
    (malformed here, a 400 if read as the header) is not looked at."""
    served(b"PUT /v1/users/ann/tasks/tr1 HTTP/1.1\r\nHost: t\r\n"
           b"Content-Type: application/json\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n"
           b"d\r\n" + b'{"title":"y"}' + b"\r\n0\r\nIf-Match: abc\r\n\r\n",
           [201])

R = b"GET /v1.0/healthz HTTP/1.1\r\nHost: t\r\n"
cases = {
    "trailer": trailer,
    "pipeline": pipeline,
    "halfclose": halfclose,
    "halfclose-answered": halfclose_answered,
    "http2": lambda: refused(b"GET /v1.0/healthz HTTP/2.0\r\nHost: t\r\n\r\n",
                             505, "ERR_HTTP_VERSION_NOT_SUPPORTED"),
    "http99": lambda: refused(b"GET /v1.0/healthz HTTP/9.9\r\nHost: t\r\n\r\n",
                              505, "ERR_HTTP_VERSION_NOT_SUPPORTED"),
    "no-version": lambda: refused(b"GET /v1.0/healthz\r\nHost: t\r\n\r\n",
                                  400, "ERR_MALFORMED_REQUEST"),
    "announced-body": lambda: held(b"POST /v1.0/healthz HTTP/1.1\r\nHost: t\r\n"
                                   b"Content-Length: 5000\r\n\r\n",
                                   413, "ERR_BODY_TOO_LARGE"),
    "chunked-body": lambda: held(b"POST /v1.0/healthz HTTP/1.1\r\nHost: t\r\n"
                                 b"Transfer-Encoding: chunked\r\n\r\n" +
                                 (b"190\r\n" + b"x" * 400 + b"\r\n") * 3,
                                 413, "ERR_BODY_TOO_LARGE"),
    "long-url": lambda: refused(b"GET /" + b"u" * 100000 + b" HTTP/1.1\r\n\r\n",
                                414, "ERR_URI_TOO_LONG"),
    "long-header": lambda: refused(R + b"X-Big: " + b"b" * 100000 + b"\r\n\r\n",
                                   431, "ERR_HEADERS_TOO_LARGE"),
    "many-headers": lambda: refused(R + b"X-A: 0123456789012345678901234\r\n" * 3000
                                    + b"\r\n", 431, "ERR_HEADERS_TOO_LARGE"),
    "upgrade": lambda: served(R + b"Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
                              + HEALTH, [204, 204]),
    "space-before-colon": lambda: refused(R + b"X-A : 1\r\n\r\n", 400,
                                          "ERR_MALFORMED_REQUEST"),
    "space-in-name": lambda: refused(R + b"X A: 1\r\n\r\n", 400,
                                     "ERR_MALFORMED_REQUEST"),
    "folded": lambda: refused(R + b"X-A: 1\r\n 2\r\n\r\n", 400,
                              "ERR_MALFORMED_REQUEST"),
    "bare-lf": lambda: refused(b"GET /v1.0/healthz HTTP/1.1\nHost: t\n\n", 400,
                               "ERR_MALFORMED_REQUEST"),
    "bare-lf-end": lambda: refused(R + b"\n", 400, "ERR_MALFORMED_REQUEST"),
    "bare-cr": lambda: refused(R + b"X-A: 1\rX-B: 2\r\n\r\n", 400,
                               "ERR_MALFORMED_REQUEST"),
    "if-match": if_match,
    "many-pipelined": many_pipelined,
    # vactord started with --token: refused on the head, the body never sent
    "no-token-body": lambda: held(b"POST /v1/users/ann/tasks HTTP/1.1\r\nHost: t\r\n"
                                  b"Content-Length: 900000\r\n\r\n",
                                  401, "ERR_UNAUTHORIZED"),
    "pipelined": lambda: served(HEALTH + b"POST /v1.0/healthz HTTP/1.1\r\nHost: t\r\n"
                                b"Content-Length: 3\r\n\r\nabc" + HEALTH +
                                b"GET /nope HTTP/1.1\r\n\r\n", [204, 405, 204, 404]),
    "leading-crlf": lambda: served(b"\r\n" + HEALTH, [204]),
    "byte-by-byte": byte_by_byte,
}
cases[case]()
EOF
client() { python3 "$dir/client.py" "$port" "$pid" "$1"; }

check "starts" start --client-timeout 2000 --request-timeout 10000 --max-body 1000
# ---- Back-pressure and half-close (items 2, 3) ----
check "pipelining 20 MB without reading: RSS stays bounded" client pipeline
check "half-closed and not reading: no CPU burnt, closed after --client-timeout" client halfclose
check "half-closed after two requests: both answered, then the end" client halfclose-answered
check "idle timeouts counted" bash -c "curl -s $url/metrics | grep -Eq '^vactor_http_client_timeouts_total\\{kind=\"idle\"\\} [1-9]'"
# ---- Answers to malformed requests (item 9) ----
for c in http2 http99 no-version announced-body chunked-body long-url \
         long-header many-headers upgrade space-before-colon space-in-name \
         folded bare-lf bare-lf-end bare-cr if-match trailer pipelined leading-crlf \
         byte-by-byte many-pipelined; do
  check "request: $c" client "$c"
done
check "still serving" test "$(status "$url/v1.0/healthz")" = 204
# ---- The access log (on by default) ----
sleep 1.2 # the sweep hands the buffered lines over at least once a second
check "access log: a line per request" grep -Eq 'level=info msg="request" method=GET route=healthz status=204 duration_us=[0-9]+ bytes_in=0 bytes_out=0$' "$dir/log"
check "access log: the refused ones too" grep -q 'msg="request" method=GET route=unmatched status=505 ' "$dir/log"
check "SIGTERM: exit 0" stop
lines=$(grep -c 'msg="request"' "$dir/log")
check "starts with --access-log off" start --access-log off
curl -s -o /dev/null "$url/v1.0/healthz"
sleep 1.2
check "SIGTERM: exit 0" stop
check "--access-log off: no request lines" test "$(grep -c 'msg="request"' "$dir/log")" = "$lines"
# ---- A request without its token: 401 on its head (body never read) ----
check "starts with a token" start --token s3cret --request-timeout 10000 --max-body 1000000
check "no token, 900 kB announced and not sent: 401 at once, closed" client no-token-body
check "token: a request with it is served" test "$(status -H 'dapr-api-token: s3cret' "$url/metrics")" = 200
check "SIGTERM: exit 0" stop
# ---- A failing system call at start is logged with errno's text ----
check "a bind that fails is logged with errno's text" bash -c "'$vactord' --listen 192.0.2.1:$(free_port) --token secret --data '$dir/data2' 2>'$dir/bindlog'; grep -Eq 'msg=\"cannot (bind|listen)\" addr=192.0.2.1:[0-9]* error=\"Cannot assign requested address\"' '$dir/bindlog'"
finish
