# lib.sh — what the integration scripts share; source it after setting
# `vactord` (the binary). It gives a temporary directory ($dir, removed at
# exit with any server still running), check (one "ok -" / "not ok -" line
# per check, counted), start and stop of vactord on a free loopback port
# (the same port across restarts; $url), status and json helpers, and
# finish (no sanitizer report in the server's log, the counts, the exit
# status), and for the cluster scripts minutes_of and same_minutes (a
# task's minutes read through a node, and compared between two). Extra processes to kill at exit go in $also_kill.
set -uo pipefail
dir=$(mktemp -d /tmp/vactord-test.XXXXXX)
pid= port= url= also_kill=
pass=0 fail=0
cleanup() {
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  [ -n "$also_kill" ] && kill $also_kill 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT

check() { # name, then a command that must succeed
  local name="$1"; shift
  if "$@"; then pass=$((pass + 1)); echo "ok - $name"
  else fail=$((fail + 1)); echo "not ok - $name"; fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() { # vactord with the flags given; true once it answers health
  port=${port:-$(free_port)}
  url="http://127.0.0.1:$port"
  "$vactord" --listen "127.0.0.1:$port" --data "$dir/data" "$@" 2>>"$dir/log" &
  pid=$!
  for _ in $(seq 200); do
    curl -s -o /dev/null "$url/v1.0/healthz" && return 0
    sleep 0.05
  done
  return 1
}

stop() { # SIGTERM; true when vactord exits 0
  kill -TERM "$pid"; wait "$pid"; local code=$?
  pid=
  return "$code"
}

status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
# json FILTER CURL-ARGS...: the answer through jq -e (fails on false/null).
json() { local f="$1"; shift; curl -s "$@" | jq -e "$f" >/dev/null; }

finish() {
  check "no sanitizer report in the server's log" bash -c "! grep -q Sanitizer '$dir/log'"
  echo "$pass passed, $fail failed"
  [ "$fail" = 0 ]
}

# The minutes logged on user $2's task $3, read through $1: retried (bounded)
# until a 200; prints nothing if none came. $VACTOR_TEST_TOKEN, if set, goes
# as a bearer token.
minutes_of() {
  local body auth=()
  [ -n "${VACTOR_TEST_TOKEN:-}" ] && auth=(-H "Authorization: Bearer $VACTOR_TEST_TOKEN")
  for _ in $(seq 100); do
    body=$(curl -s --max-time 10 "${auth[@]}" -w '\n%{http_code}' "$1/v1/users/$2/tasks/$3")
    if [ "${body##*$'\n'}" = 200 ]; then
      echo "${body%$'\n'*}" | jq -r '.minutes'
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# True if user $2's tasks $3-t0..$3-t($4-1) read the same minutes through
# $1 and through $5 (prints the first difference).
same_minutes() {
  local a b t
  for t in $(seq 0 $(($4 - 1))); do
    a=$(minutes_of "$1" "$2" "$3-t$t") b=$(minutes_of "$5" "$2" "$3-t$t")
    if [ -z "$a" ] || [ "$a" != "$b" ]; then
      echo "# $3-t$t: '$a' through $1, '$b' through $5"
      return 1
    fi
  done
}
