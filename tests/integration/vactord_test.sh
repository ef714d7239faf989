#!/usr/bin/env bash
# vactord_test.sh — black-box tests of a real vactord process with a real
# HTTP client (curl) and raw sockets: health, metrics, JSON errors for bad
# routes, methods and malformed requests, limits (413, 414, 431), keep-alive
# with pipelining, a clean stop on SIGTERM (exit 0) that a restart on the
# same data directory survives, and the API token (Dapr's rule, checked by
# the routes on each request's head).
# Usage: vactord_test.sh PATH_TO_VACTORD
vactord="$1"
source "$(dirname "$0")/lib.sh"
raw() { # send $1 on a fresh connection, print what comes back within 1 s
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  printf '%b' "$1" >&3
  timeout 1 cat <&3 2>/dev/null
  exec 3<&-
}

check "starts and answers health" start
check "healthz is 204" test "$(status "$url/v1.0/healthz")" = 204
check "metrics are Prometheus text" bash -c "curl -s $url/metrics | grep -q '^vactor_turns_total [0-9]'"
check "unknown route is 404" test "$(status "$url/no/such/route")" = 404
check "404 body is a JSON error" bash -c "curl -s $url/nope | grep -q '\"errorCode\":\"ERR_NOT_FOUND\"'"
check "wrong method is 405" test "$(status -X DELETE "$url/v1.0/healthz")" = 405
check "malformed request line is 400" bash -c "$(declare -f raw); port=$port; raw 'GARBAGE\r\n\r\n' | grep -q 'HTTP/1.1 400'"
check "bad header is 400" bash -c "$(declare -f raw); port=$port; raw 'GET / HTTP/1.1\r\nno colon here\r\n\r\n' | grep -q 'HTTP/1.1 400'"
head -c 2000000 /dev/zero > "$dir/big"
check "body over 1 MiB is 413" test "$(status -X POST --data-binary @"$dir/big" "$url/v1.0/healthz")" = 413
long=$(head -c 9000 /dev/zero | tr '\0' a)
check "9 KB URL is 414" test "$(status "$url/$long")" = 414
check "20 KB of headers is 431" test "$(status -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' b)" "$url/v1.0/healthz")" = 431
check "pipelined requests get their answers in order" bash -c "$(declare -f raw); port=$port; raw 'GET /v1.0/healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | grep -o 'HTTP/1.1 [0-9]*' | tr '\n' ' ' | grep -q '^HTTP/1.1 204 HTTP/1.1 404 \$'"
check "keep-alive: three requests, one connection" bash -c "curl -s -o /dev/null -o /dev/null -o /dev/null -w '%{num_connects}\n' $url/v1.0/healthz $url/v1.0/healthz $url/v1.0/healthz | awk '{ n += \$1 } END { exit n != 1 }'"
check "still serving after all that" test "$(status "$url/v1.0/healthz")" = 204
# The request fuzz target's corpus, replayed against the real server.
corpus="$(dirname "$0")/../fuzz/http-corpus"
for f in "$corpus"/*; do
  exec 3<>"/dev/tcp/127.0.0.1/$port" && cat "$f" >&3 && timeout 0.3 cat <&3 >/dev/null 2>&1
  exec 3<&-
done
check "serves after the fuzz corpus ($(ls "$corpus" | wc -l) inputs)" test "$(status "$url/v1.0/healthz")" = 204

# The Task API.
t="$url/v1/users"
check "create a task (PUT)" bash -c "curl -s -X PUT $t/alice/tasks/t1 -d '{\"title\":\"docs\",\"members\":[\"bob\"]}' | grep -q '\"owner\":\"alice\"'"
check "create twice is 409" test "$(status -X PUT "$t/alice/tasks/t1" -d '{"title":"x"}')" = 409
check "log time" bash -c "curl -s -X POST $t/alice/tasks/t1/log -d '{\"minutes\":30}' | grep -qx '{\"minutes\":30}'"
check "a member may log" bash -c "curl -s -X POST $t/bob/tasks/alice:t1/log -d '{\"minutes\":15}' | grep -qx '{\"minutes\":45}'"
check "anyone else gets 404" test "$(status "$t/carol/tasks/alice:t1")" = 404
check "read shows the total" bash -c "curl -s $t/bob/tasks/alice:t1 | grep -q '\"minutes\":45'"
check "bad JSON is 400" test "$(status -X POST "$t/alice/tasks/t1/log" -d 'nope')" = 400
check "wrong type is 400" test "$(status -X POST "$t/alice/tasks/t1/log" -d '{"minutes":"x"}')" = 400
check "id with %00 is 400" test "$(status "$t/al%00ice/tasks/t1")" = 400
check "129-character id is 400" test "$(status "$t/$(head -c 129 /dev/zero | tr '\0' u)/tasks/t1")" = 400
check "unknown task is 404" test "$(status "$t/alice/tasks/nope")" = 404
check "the owner's list has the task" bash -c "curl -s $t/alice/tasks | grep -q '\"id\":\"t1\"'"
check "a member's list has it too" bash -c "curl -s $t/bob/tasks | grep -q '\"id\":\"alice:t1\"'"
check "someone else's list is empty" bash -c "curl -s $t/carol/tasks | grep -qx '{\"tasks\":\[\],\"count\":0,\"next\":null}'"
check "DELETE on a list is 405" test "$(status -X DELETE "$t/alice/tasks")" = 405
# Many clients at once on one task: no update lost.
seq 200 | xargs -P 16 -I{} curl -s -o /dev/null -X POST "$t/alice/tasks/t1/log" -d '{"minutes":1}'
check "200 concurrent logs on one task add up" bash -c "curl -s $t/alice/tasks/t1 | grep -q '\"minutes\":245'"
# Many users, each on its own task.
seq 50 | xargs -P 16 -I{} curl -s -o /dev/null -X PUT "$t/u{}/tasks/own{}" -d '{"title":"mine"}'
seq 50 | xargs -P 16 -I{} sh -c 'for i in 1 2 3; do curl -s -o /dev/null -X POST "$0/u{}/tasks/own{}/log" -d "{\"minutes\":2}"; done' "$t"
check "50 users on their own tasks, no lost update" bash -c "for i in \$(seq 50); do curl -s $t/u\$i/tasks/own\$i | grep -q '\"minutes\":6' || exit 1; done"
check "SIGTERM: exit 0" stop
check "the log is structured" grep -q 'level=info msg="stopped"' "$dir/log"
check "restarts on the same data" start
check "the task survived the restart" bash -c "curl -s $url/v1/users/alice/tasks/t1 | grep -q '\"minutes\":245'"
check "stops again" stop
check "refuses a non-loopback address" bash -c "! $vactord --listen 0.0.0.0:$port --data $dir/data 2>/dev/null"

# With an API token.
check "starts with a token" start --token s3cret
check "token: health needs none" test "$(status "$url/v1.0/healthz")" = 204
check "token: missing is 401" test "$(status "$url/metrics")" = 401
check "token: wrong is 401" test "$(status -H 'dapr-api-token: nope' "$url/metrics")" = 401
check "token: dapr-api-token works" test "$(status -H 'dapr-api-token: s3cret' "$url/metrics")" = 200
check "token: Bearer works" test "$(status -H 'Authorization: Bearer s3cret' "$url/metrics")" = 200
check "token: 401 is a JSON error" bash -c "curl -s $url/metrics | grep -q ERR_UNAUTHORIZED"
check "token: healthz/outbound needs none" test "$(status "$url/v1.0/healthz/outbound")" = 204
check "token: only GET of health is exempt" test "$(status -X POST "$url/v1.0/healthz")" = 401
check "token: the header's name in any case" test "$(status -H 'DAPR-API-TOKEN: s3cret' "$url/metrics")" = 200
check "token: a longer one is wrong" test "$(status -H 'dapr-api-token: s3cretX' "$url/metrics")" = 401
check "token: Bearer with a wrong one is 401" test "$(status -H 'Authorization: Bearer nope' "$url/metrics")" = 401
# A request without its token is refused on its head: the server neither
# waits for nor keeps the body it announces (here never sent).
check "token: 401 before an announced body is sent" python3 - "$port" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
s.sendall(b"POST /v1/users/ann/tasks HTTP/1.1\r\nHost: x\r\nContent-Length: 900000\r\n\r\n")
data = b""
while b"ERR_UNAUTHORIZED" not in data:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
sys.exit(0 if data.startswith(b"HTTP/1.1 401") and b"ERR_UNAUTHORIZED" in data else 1)
EOF
check "stops (token)" stop
finish
