# lib.sh — what the integration scripts share; source it after setting
# `vactord` (the binary). It gives a temporary directory ($dir, removed at
# exit with any server still running), check (one "ok -" / "not ok -" line
# per check, counted), start and stop of vactord on a free loopback port
# (the same port across restarts; $url), status and json helpers, and
# finish (no sanitizer report in the server's log, the counts, the exit
# status). Extra processes to kill at exit go in $also_kill.
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
