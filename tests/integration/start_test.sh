#!/usr/bin/env bash
# start_test.sh — refused starts and the operator's log (issue 9, items 4 and
# 6): empty or unusable API tokens, a second vactord on a port or a data
# directory already served, bad flags (the cluster's too, issue 11), a
# cluster database that refuses or never answers, the errno's text in the
# line of a refused start, the access log (on by default, --access-log
# off), and a store failure at run time (a file size limit makes SQLite's writes fail)
# logged with SQLite's message, and a log reader that stops reading.
# Usage: start_test.sh PATH_TO_VACTORD
vactord="$1"
source "$(dirname "$0")/lib.sh"

# refused EXIT-CODE PATTERN ARGS...: vactord exits with EXIT-CODE within 10 s
# (a server that starts instead is killed by timeout: exit 124) and its
# stderr matches PATTERN. Runs with the environment the caller exported.
refused() {
  local want="$1" pattern="$2"; shift 2
  timeout 10 "$vactord" "$@" >"$dir/refused.out" 2>&1
  local code=$?
  cat "$dir/refused.out" >>"$dir/refused.log"
  [ "$code" = "$want" ] && grep -q -- "$pattern" "$dir/refused.out"
}
other=$(free_port)

# Item 4: an empty token is no token; unusable ones are refused too.
check "--token= is refused (exit 2)" \
  refused 2 "token is empty" --token= --listen "0.0.0.0:$other" --data "$dir/d4"
check "VACTORD_API_TOKEN set but empty is refused (exit 2)" \
  env VACTORD_API_TOKEN= bash -c "$(declare -f refused); dir=$dir vactord=$vactord; refused 2 'VACTORD_API_TOKEN: the token is empty' --listen 0.0.0.0:$other --data $dir/d4"
check "an empty token with a loopback address is refused too" \
  refused 2 "token is empty" --token= --listen "127.0.0.1:$other" --data "$dir/d4"
check "a token with CR LF is refused" \
  refused 2 "not printable ASCII" --token "$(printf 'ab\r\nX-Evil: 1')" --data "$dir/d4"
check "a token with a trailing space is refused" \
  refused 2 "space" --token "abc " --data "$dir/d4"
check "a 257-byte token is refused" \
  refused 2 "longer than 256" --token "$(head -c 257 /dev/zero | tr '\0' t)" --data "$dir/d4"
check "--app-token= is refused" \
  refused 2 "app-token: the token is empty" --app-token= --data "$dir/d4"
check "APP_API_TOKEN set but empty is refused" \
  env APP_API_TOKEN= bash -c "$(declare -f refused); dir=$dir vactord=$vactord; refused 2 'APP_API_TOKEN: the token is empty' --data $dir/d4"
check "non-loopback without a token is refused" \
  refused 2 "only loopback" --listen "0.0.0.0:$other" --data "$dir/d4"
check "nothing listens after those" bash -c "! curl -s -m 1 -o /dev/null http://127.0.0.1:$other/v1.0/healthz"
long=$(head -c 256 /dev/zero | tr '\0' t)
check "a 256-byte token is accepted" start --token "$long"
check "256-byte token: it opens the API" test "$(status -H "dapr-api-token: $long" "$url/metrics")" = 200
check "256-byte token: one byte less is 401" test "$(status -H "dapr-api-token: ${long%t}" "$url/metrics")" = 401
check "stops (long token)" stop

# Bad flags: strict parsing, exit 2.
check "--min-period 0 is refused" refused 2 "at least 1ms" --min-period 0
check "--min-period 500us is refused" refused 2 "at least 1ms" --min-period 500us
check "--min-period garbage is refused" refused 2 "at least 1ms" --min-period soon
check "--min-period P1D is refused" refused 2 "at least 1ms" --min-period P1D
check "VACTORD_MIN_PERIOD=0 is refused" env VACTORD_MIN_PERIOD=0 bash -c "$(declare -f refused); dir=$dir vactord=$vactord; refused 2 'at least 1ms'"
check "--access-log maybe is refused" refused 2 "expected on or off" --access-log maybe
check "VACTORD_ACCESS_LOG=yes is refused" env VACTORD_ACCESS_LOG=yes bash -c "$(declare -f refused); dir=$dir vactord=$vactord; refused 2 'expected on or off'"
check "--threads 3x is refused" refused 2 "whole number" --threads 3x
check "--threads 0 is refused" refused 2 "whole number" --threads 0
check "VACTORD_THREADS=two is refused" env VACTORD_THREADS=two bash -c "$(declare -f refused); dir=$dir vactord=$vactord; refused 2 'whole number'"
check "--idle-timeout 10s is refused" refused 2 "whole number" --idle-timeout 10s
check "--log-level loud is refused" refused 2 "info or debug" --log-level loud
check "--listen with a host name is refused" refused 2 "IPV4-ADDRESS:PORT" --listen "localhost:$other"

# Bad cluster flags (issue 11): exit 2 before anything starts.
pg="postgresql://127.0.0.1:1/vactor"
check "--node-id without --cluster is refused" refused 2 "need --cluster" --node-id n1
check "--cluster-link without --cluster is refused" refused 2 "need --cluster" --cluster-link "127.0.0.1:$other"
check "--cluster with another scheme is refused" refused 2 "postgresql:// URI" --cluster "mysql://127.0.0.1/x" --node-id n1
check "--cluster without --node-id is refused" refused 2 "needs --node-id" --cluster "$pg"
check "VACTORD_CLUSTER without a node id is refused" env VACTORD_CLUSTER="$pg" bash -c "$(declare -f refused); dir=$dir vactord=$vactord; refused 2 'needs --node-id'"
check "a node id with a slash is refused" refused 2 "needs --node-id" --cluster "$pg" --node-id "a/b"
check "a 64-byte node id is refused" refused 2 "needs --node-id" --cluster "$pg" --node-id "$(head -c 64 /dev/zero | tr '\0' n)"
check "--lease-ms 100 is refused" refused 2 "at least 400" --cluster "$pg" --node-id n1 --lease-ms 100
check "--lease-ms 2s is refused" refused 2 "whole number" --cluster "$pg" --node-id n1 --lease-ms 2s
check "--cluster-link with a host name is refused" refused 2 "IPV4-ADDRESS:PORT" --cluster "$pg" --node-id n1 --cluster-link "localhost:$other"
check "--cluster-link off loopback without a token is refused" refused 2 "loopback without --token" --cluster "$pg" --node-id n1 --cluster-link "0.0.0.0:$other"
# A database that refuses, and one that accepts but never answers: exit 1
# with libpq's message, the second within its connect timeout.
check "an unreachable database: exit 1, libpq's message" \
  refused 1 'msg="cannot connect to the database".*Connection refused' --cluster "$pg" --node-id n1 --listen "127.0.0.1:$other" --data "$dir/d5"
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True); time.sleep(120)' >"$dir/deaf.port" &
deaf=$!
also_kill="$also_kill $deaf"
for _ in $(seq 300); do [ -s "$dir/deaf.port" ] && break; sleep 0.1; done
check "the silent server listens" test -s "$dir/deaf.port"
refused_slowly() { # as refused, with 30 s for libpq's connect timeout
  timeout 30 "$vactord" "$@" >"$dir/refused.out" 2>&1
  local code=$?
  cat "$dir/refused.out" >>"$dir/refused.log"
  [ "$code" = 1 ] && grep -q 'msg="cannot connect to the database".*timeout expired' "$dir/refused.out"
}
check "a database that never answers: exit 1 after libpq's timeout, no hang" \
  refused_slowly --cluster "postgresql://127.0.0.1:$(cat "$dir/deaf.port")/vactor" --node-id n1 \
  --listen "127.0.0.1:$other" --data "$dir/d5"
kill "$deaf" 2>/dev/null

# Refused starts are logged with the errno's (or SQLite's) own text.
touch "$dir/a-file"
check "--data on a file: exit 1, the errno's text" \
  refused 1 'error="Not a directory"' --data "$dir/a-file" --listen "127.0.0.1:$other"
mkdir -p "$dir/db-is-a-dir/vactor.db"
check "a store that cannot open: SQLite's message and the errno's text" \
  refused 1 'msg="cannot open the store".*error="unable to open database file".*os_error="Is a directory"' \
  --data "$dir/db-is-a-dir" --listen "127.0.0.1:$other"

# Item 6: one server per port and per data directory.
check "the first server starts (min period 1ms)" start --min-period 1ms
check "its start line has the new settings" grep -q 'msg="listening".*pid=[0-9].*min_period_ms=1 access_log=on' "$dir/log"
check "a second on the same port is refused: address already in use" \
  refused 1 'error="Address already in use"' --listen "127.0.0.1:$port" --data "$dir/other"
check "the first serves every request after it (20 new connections)" \
  bash -c "for i in \$(seq 20); do [ \"\$(curl -s -o /dev/null -w '%{http_code}' $url/v1.0/healthz)\" = 204 ] || exit 1; done"
check "a second on the same data directory is refused, naming the holder" \
  refused 1 "msg=\"data directory in use by another process\".*pid=$pid" --listen "127.0.0.1:$other" --data "$dir/data"
check "the refused one wrote nothing into the lock" grep -qx "$pid" "$dir/data/vactor.lock"
check "the first still writes" test "$(status -X PUT "$url/v1/users/ann/tasks/t1" -d '{"title":"one"}')" = 201
# Leave a connection the server will close, so that the port has a socket
# in TIME_WAIT on the server's side when it restarts.
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /v1.0/healthz HTTP/1.1\r\nHost: x\r\n\r\n' >&3
sleep 0.2
check "the first stops" stop
exec 3<&-
check "then the same data directory and port start again" start
check "the task is there" test "$(status "$url/v1/users/ann/tasks/t1")" = 200

# The access log: one line per request, on by default (written in blocks,
# at least once a second and at the stop).
curl -s -o /dev/null "$url/no/such/route/start-test"
check "stops (access log on)" stop
check "access log: a line for the 404 (on by default)" \
  grep -Eq 'msg="request" method=GET route=unmatched status=404 duration_us=[0-9]+ bytes_in=0 bytes_out=[0-9]+' "$dir/log"
: >"$dir/log"
check "starts with --access-log off" start --access-log off
curl -s -o /dev/null "$url/no/such/route/start-test"
check "stops (access log off)" stop
check "access log off: no line for the 404" bash -c "! grep -q 'status=404' '$dir/log'"
check "its start line says access_log=off" grep -q 'access_log=off' "$dir/log"

# A store failure at run time: with a file size limit, SQLite's writes
# fail with EFBIG (vactord ignores SIGXFSZ); every failure is logged with
# SQLite's message, and the client gets a 5xx, not a hang.
cat >"$dir/limited" <<EOF
#!/usr/bin/env bash
ulimit -f 256
exec "$1" "\$@"
EOF
chmod +x "$dir/limited"
plain=$vactord vactord="$dir/limited" port= 
rm -rf "$dir/data"
check "starts under a 256 KiB file size limit" start
body=$(head -c 4000 /dev/zero | tr '\0' x)
codes=
for i in $(seq 200); do
  c=$(status -m 10 -X PUT "$url/v1/users/u$i/tasks/big$i" -d "{\"title\":\"t\",\"description\":\"$body\"}")
  codes="$codes $c"
  case "$c" in 5*) break ;; esac
done
check "a write past the limit fails with a 5xx (got:$codes)" bash -c "echo '$codes' | grep -q ' 5[0-9][0-9]'"
# (SQLite's own errno for a failed write is not reliable: its message and
# extended code are what the line must carry.)
check "the commit failure is logged with SQLite's message and code" \
  grep -Eq 'level=error msg="state commit failed" saves=[0-9]+ error="[^"]+" code=[0-9]+' "$dir/log"
check "the actor's failed save is logged with its type and id" \
  grep -q 'level=error msg="state save failed" type=[A-Za-z]* id="' "$dir/log"
check "still answers health" test "$(status "$url/v1.0/healthz")" = 204
check "stops (file size limit)" stop
vactord=$plain
# Two servers started at the same moment on one port (each with its own
# data directory): the probe alone could let both through and SO_REUSEPORT
# would split the port; exactly one must be left serving.
race_once() {
  local p a b alive=0
  p=$(free_port)
  "$vactord" --listen "127.0.0.1:$p" --data "$dir/race-a" 2>>"$dir/race.log" & a=$!
  "$vactord" --listen "127.0.0.1:$p" --data "$dir/race-b" 2>>"$dir/race.log" & b=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$p/v1.0/healthz" && break
    sleep 0.05
  done
  sleep 0.5
  kill -0 "$a" 2>/dev/null && alive=$((alive + 1))
  kill -0 "$b" 2>/dev/null && alive=$((alive + 1))
  kill -TERM "$a" "$b" 2>/dev/null; wait "$a" "$b" 2>/dev/null
  [ "$alive" = 1 ]
}
check "two servers started at once on one port: one is left (5 rounds)" \
  bash -c "$(declare -f race_once free_port); vactord='$vactord' dir='$dir'; for i in 1 2 3 4 5; do race_once || exit 1; done"

# A log reader that stops reading (stderr a pipe nobody reads) must not
# block the workers: lines past the log's buffer are dropped and counted,
# and requests are answered all the while.
mkfifo "$dir/stalled"
exec 9<>"$dir/stalled" # the read end, held open and not read
p=$(free_port)
"$vactord" --listen "127.0.0.1:$p" --data "$dir/stalled-data" 2>"$dir/stalled" &
stalled=$!
for _ in $(seq 200); do
  curl -s -o /dev/null "http://127.0.0.1:$p/v1.0/healthz" && break
  sleep 0.05
done
check "40,000 requests answered while the log's reader reads nothing" \
  timeout 300 python3 -c "
import http.client
c = http.client.HTTPConnection('127.0.0.1', $p, timeout=30)
for _ in range(40000):
    c.request('GET', '/v1.0/healthz'); c.getresponse().read()
"
timeout 5 cat <&9 >"$dir/stalled.out"
check "the lines that did not fit are counted in a line of their own" \
  grep -Eq 'level=warn msg="log lines dropped" lines=[0-9]+' "$dir/stalled.out"
kill -TERM "$stalled"
check "stops while its log's reader reads nothing" \
  timeout 30 bash -c "while kill -0 $stalled 2>/dev/null; do sleep 0.1; done"
wait "$stalled" 2>/dev/null
exec 9<&-

finish
