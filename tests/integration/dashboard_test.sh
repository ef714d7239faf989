#!/usr/bin/env bash
# dashboard_test.sh — the live dashboard (/dashboard, web/) in a real
# browser: Debian's /usr/bin/chromium, headless, driven over the DevTools
# protocol by tests/browser/dashboard_check.js (no npm package). Against a
# real vactord under a small bounded load (tasks created, read and logged
# for four users at once with curl), it checks that the page's numbers are
# live and match /metrics, that the actor browser pages, finds and opens a task
# actor, that the page shows a lost stream and comes back, and that with
# --token the page needs the token (?token=T sets the cookie).
# The screenshot goes to $DASHBOARD_SCREENSHOT (relative to the repository,
# e.g. docs/dashboard.png) if set, else to WORK_DIR/dashboard.png.
# Usage: dashboard_test.sh PATH_TO_VACTORD [WORK_DIR]
vactord="$1"
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
source "$here/lib.sh"
work="${2:-$dir/work}"
mkdir -p "$work"
# However the script ends, the load stops (lib.sh's cleanup does the rest).
trap 'touch "$work/load-stop" 2>/dev/null; cleanup' EXIT
rm -f "$work"/{load-stop,load-done,please-stop,may-restart,restarted}
shot="$work/dashboard.png"
if [ -n "${DASHBOARD_SCREENSHOT:-}" ]; then
  case "$DASHBOARD_SCREENSHOT" in
    /*) shot="$DASHBOARD_SCREENSHOT" ;;
    *) shot="$repo/$DASHBOARD_SCREENSHOT" ;;
  esac
fi
check_js="$repo/tests/browser/dashboard_check.js"
chromium="${CHROMIUM:-/usr/bin/chromium}"
token="dash-token-$RANDOM$RANDOM"
if [ ! -x "$chromium" ] || ! command -v node >/dev/null; then
  echo "not ok - chromium ($chromium) and node are needed (scripts/install-deps.sh)"
  exit 1
fi

# waits (bounded) for a file the browser driver writes
wait_file() {
  for _ in $(seq 1200); do [ -e "$1" ] && return 0; sleep 0.1; done
  return 1
}
put_json() { curl -s -o /dev/null -w '%{http_code}' --max-time 30 -X PUT \
  -H 'Content-Type: application/json' -d "$2" "$url$1"; }

# The load: four users at once, each until the driver asks it to stop, at
# most 1500 rounds or 300 s. Each round creates a task (a new TaskActor),
# logs time on it, reads it, and now and then reads one that is not there
# (a 4xx).
load_user() {
  local u="$1" end=$((SECONDS + 300)) i=0 t
  while [ "$i" -lt 1500 ] && [ "$SECONDS" -lt "$end" ] && [ -d "$work" ] && [ ! -e "$work/load-stop" ]; do
    t="load-$$-$u-$i"
    put_json "/v1/users/$u/tasks/$t" "{\"title\": \"load $i\"}" >/dev/null
    curl -s -o /dev/null --max-time 30 -X POST -H 'Content-Type: application/json' \
      -d '{"minutes": 5}' "$url/v1/users/$u/tasks/$t/log"
    curl -s -o /dev/null --max-time 30 "$url/v1/users/$u/tasks/$t"
    [ $((i % 10)) = 0 ] && curl -s -o /dev/null --max-time 30 "$url/v1/users/$u/tasks/none-$i"
    i=$((i + 1))
    sleep 0.05
  done
}
load() {
  local u
  for u in dashload0 dashload1 dashload2 dashload3; do load_user "$u" & done
  wait
  touch "$work/load-done"
}

check "starts" start
check "GET /dashboard is the page, with a Content-Security-Policy" bash -c \
  "h=\$(curl -s -D - -o '$dir/page.html' --max-time 30 '$url/dashboard'); \
   grep -qi '^HTTP/1.1 200' <<<\"\$h\" && grep -qi '^content-type: text/html' <<<\"\$h\" && \
   grep -qi \"^content-security-policy: .*default-src 'self'\" <<<\"\$h\" && \
   grep -q 'dashboard.js' '$dir/page.html'"
check "GET /dashboard/dashboard.js and .css, embedded" bash -c \
  "curl -s --max-time 30 '$url/dashboard/dashboard.js' | cmp -s - '$repo/web/dashboard.js' && \
   curl -s --max-time 30 '$url/dashboard/dashboard.css' | cmp -s - '$repo/web/dashboard.css'"
check "GET /dashboard/<no such file> is 404" test "$(status --max-time 30 "$url/dashboard/nope.js")" = 404
check "GET /dashboard/events sends a JSON event at once" bash -c \
  "curl -s -N --max-time 5 '$url/dashboard/events' | sed -n 's/^data: //p' | head -n 1 | \
   jq -e '(.t | type) == \"number\" and (.actors.by_type | type) == \"array\"' >/dev/null"

# Known tasks for the actor browser (more than one page of them), one
# with a reminder.
known_ok=true
for i in $(seq -w 0 59); do
  [ "$(put_json "/v1/users/dashowner/tasks/dash-known-$i" "{\"title\": \"Known task $i\"}")" = 201 ] || known_ok=false
done
check "60 known tasks created" $known_ok
check "a reminder on dash-known-00" test "$(put_json /v1/users/dashowner/tasks/dash-known-00/reminders/checkin \
  '{"dueTime": "1h", "message": "check in"}')" = 204

load &
load_pid=$!
also_kill="$load_pid"
check "the live page (chromium)" node "$check_js" live "$url" "$work" "$shot"
touch "$work/load-stop"
wait "$load_pid"
also_kill=
echo "# screenshot: $shot"
# After the load every route has counted: events are larger now.
check "every event of the stream is whole JSON, ended by a blank line" \
  python3 "$repo/tests/browser/sse_events.py" "$url" 4 2

# A lost stream: the driver asks for the stop, then for the restart.
node "$check_js" disconnect "$url" "$work" &
driver=$!
also_kill="$driver"
check "the driver asks to stop vactord" wait_file "$work/please-stop"
check "stops cleanly under a viewer" stop
check "the driver saw the disconnect" wait_file "$work/may-restart"
check "restarts" start
touch "$work/restarted"
check "the page, disconnected and back (chromium)" wait "$driver"
also_kill=
check "stops cleanly" stop

# The token.
check "starts with --token" start --token "$token"
check "GET /dashboard without the token is 401" test "$(status --max-time 30 "$url/dashboard")" = 401
check "GET /dashboard/events without the token is 401" test "$(status --max-time 30 "$url/dashboard/events")" = 401
check "GET /dashboard?token=<wrong> is 401" test "$(status --max-time 30 "$url/dashboard?token=wrong")" = 401
check "GET /dashboard?token=T is a 303 to /dashboard that sets the cookie" bash -c \
  "h=\$(curl -s -D - -o /dev/null --max-time 30 '$url/dashboard?token=$token'); \
   grep -qi '^HTTP/1.1 303' <<<\"\$h\" && grep -qi '^location: /dashboard' <<<\"\$h\" && \
   grep -i '^set-cookie: vactor_token=$token' <<<\"\$h\" | grep -i httponly | grep -qi 'samesite=lax'"
check "the cookie alone opens /dashboard and /v1/actors" bash -c \
  "[ \$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 -b 'vactor_token=$token' '$url/dashboard') = 200 ] && \
   [ \$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 -b 'vactor_token=$token' '$url/v1/actors') = 200 ]"
check "the token in the browser (chromium)" node "$check_js" token "$url" "$token"
check "stops cleanly with --token" stop
# On a failure, the server's log (a sanitizer's report, an exit status).
[ "$fail" = 0 ] || { echo "# the server's log:"; sed 's/^/# /' "$dir/log" | tail -n 200; }
finish
