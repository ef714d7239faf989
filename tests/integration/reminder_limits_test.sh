#!/usr/bin/env bash
# reminder_limits_test.sh — issue 9, items 1 and 8, as a black box: the
# reproductions that hung a worker for good (a reminder with a 1 ns period
# through the Task API and the Dapr API, a 1 ms period due in year 1, a timer
# with a 1 ns period) each answer at once with a refusal naming the minimum
# period; the server keeps answering health and stops on
# SIGTERM (exit 0); a 1 s reminder due in year 1 fires once and then once a
# second; a reminder stored with a 1 ns period (the old code's, written into
# the SQLite file) neither hangs the restart nor floods, and can be deleted;
# a hundred reminders firing together do not starve other requests. Every
# curl has a deadline, so a regression fails instead of hanging.
# Usage: reminder_limits_test.sh PATH_TO_VACTORD
vactord="$1"
source "$(dirname "$0")/lib.sh"
u() { timeout 5 curl -s -m 4 "$@"; }
# answer STATUS ERRORCODE TEXT CURL-ARGS...: the status, the errorCode and a
# piece of the message, within 5 s
answer() {
  local want="$1 $2" text="$3"; shift 3
  local body; body=$(u -w ' %{http_code}' "$@") || return 1
  [ "$(sed -E 's/.*"errorCode":"([A-Z_]+)".* ([0-9]+)$/\2 \1/' <<<"$body")" = "$want" ] &&
    grep -qF "$text" <<<"$body"
}
# healthy: health answers within 3 s (a hung worker never answers; a busy
# machine may take a while)
healthy() { [ "$(timeout 3 curl -s -m 3 -o /dev/null -w '%{http_code}' "$url/v1.0/healthz")" = 204 ]; }
# at_least N NAME: waits (up to 20 s) until reminder NAME fired N times
at_least() { for _ in $(seq 200); do [ "$(fires "$2")" -ge "$1" ] 2>/dev/null && return 0; sleep 0.1; done; return 1; }
stop_in_time() { # SIGTERM; true when vactord exits 0 within 10 s
  kill -TERM "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; wait "$pid"; pid=; return 1; fi
  wait "$pid"; local code=$?; pid=; return "$code"
}
# fires NAME: how many chat messages ann has from reminder NAME
fires() { u "$url/v1/users/ann/chat" | jq "[.messages[]|select(.reminder==\"$1\")]|length"; }
# in_range LOW HIGH CMD...: CMD's number is in [LOW, HIGH]
in_range() { local n; n=$("${@:3}") && [ -n "$n" ] && [ "$n" -ge "$1" ] && [ "$n" -le "$2" ]; }

check "starts" start
t="$url/v1/users/ann/tasks"
a="$url/v1.0/actors/TaskActor"
check "a task to hang reminders on" test "$(u -o /dev/null -w '%{http_code}' -X PUT "$t/h1" -d '{"title":"x"}')" = 201

# The issue's reproductions: each a prompt refusal.
check "Task API: period 1ns is 400 ERR_BAD_PERIOD at once" test "$(u -X PUT "$t/h1/reminders/r" -d '{"dueTime":"0s","period":"1ns"}' | jq -r .errorCode)" = ERR_BAD_PERIOD
check "... health answers" healthy
check "... and nothing was stored" test "$(u -o /dev/null -w '%{http_code}' "$t/h1/reminders/r")" = 404
check "Dapr: period 1ns is 500 ERR_ACTOR_REMINDER_CREATE naming the minimum" \
  answer 500 ERR_ACTOR_REMINDER_CREATE "period 1ns is shorter than the minimum of 1s" -X POST "$a/x/reminders/r" -d '{"dueTime":"0s","period":"1ns"}'
check "... health answers" healthy
check "Dapr: 1ms due 0001-01-01 is refused the same way" \
  answer 500 ERR_ACTOR_REMINDER_CREATE "period 1ms is shorter than the minimum of 1s" -X POST "$a/x/reminders/r" -d '{"dueTime":"0001-01-01T00:00:00Z","period":"1ms"}'
check "Dapr: 999ms is refused too" \
  answer 500 ERR_ACTOR_REMINDER_CREATE "minimum of 1s" -X POST "$a/x/reminders/r" -d '{"dueTime":"1h","period":"999ms"}'
check "Dapr: a timer with period 1ns is 500 ERR_ACTOR_TIMER_CREATE naming the minimum" \
  answer 500 ERR_ACTOR_TIMER_CREATE "period 1ns is shorter than the minimum of 1s" -X POST "$a/x/timers/t" -d '{"dueTime":"0s","period":"1ns","callback":"get"}'
check "Dapr: nothing was stored" test "$(u -o /dev/null -w '%{http_code}' "$a/x/reminders/r")" = 404
check "Dapr: R5/P9999Y due in year 1 is taken" test "$(u -o /dev/null -w '%{http_code}' -X POST "$a/x/reminders/far" -d '{"dueTime":"0001-01-01T00:00:00Z","period":"R5/P9999Y"}')" = 204
check "... health answers" healthy

# A 1 s period due in year 1: one fire for the missed ones, then one a second.
set_at=$(date +%s%N)
check "Task API: 1s due in year 1 is taken" test "$(u -o /dev/null -w '%{http_code}' -X PUT "$t/h1/reminders/old" -d '{"dueTime":"0001-01-01T00:00:00Z","period":"1s"}')" = 204
check "... it fires once for the centuries missed, then again" at_least 2 old
check "... health answers" healthy
# never more often than the floor: one fire, then at most one a second
most=$(( ($(date +%s%N) - set_at) / 1000000000 + 2 ))
check "... at most once a second since it was set (<= $most)" in_range 2 "$most" fires old
check "... and moved on into the future, not a loop" test "$(u -o /dev/null -w '%{http_code}' "$t/h1/reminders/old")" = 200

# A hundred reminders due together must not starve other requests.
for i in $(seq 100); do
  u -o /dev/null -X POST "$a/flood$i/reminders/f" -d '{"dueTime":"1s","period":"1s"}' &
  setters+=($!)
  [ $((i % 20)) = 0 ] && { wait "${setters[@]}"; setters=(); }
done
slowest=0
for _ in $(seq 20); do
  ms=$(u -o /dev/null -w '%{time_total}' "$t/h1" | awk '{printf "%d", $1 * 1000}')
  [ "${ms:-9999}" -gt "$slowest" ] && slowest=${ms:-9999}
  sleep 0.1
done
echo "# slowest task read while 100 reminders fired: ${slowest} ms"
check "... reads of other actors are served meanwhile (each under 3 s)" test "$slowest" -lt 3000
check "stops on SIGTERM (exit 0)" stop_in_time

# A reminder stored with a 1 ns period, due in year 1, as the old code left
# it: the restart answers, the reminder fires at most once a second, and it
# can be deleted.
check "the old reminder rewritten in the file to 1ns, due in year 1" python3 - "$dir/data/vactor.db" old <<'EOF'
import sqlite3, struct, sys
db = sqlite3.connect(sys.argv[1])
name = sys.argv[2]
key = "\x01r:" + name
rows = db.execute("SELECT type, id, value FROM state WHERE key = ?", (key,)).fetchall()
assert len(rows) == 1, rows
kind, actor, value = rows[0]
value = bytearray(value)
due = -62135596800000  # 0001-01-01T00:00:00Z
value[0:8] = struct.pack("<q", due)
value[24:36] = bytes(12)              # no calendar part
value[36:44] = struct.pack("<q", 1)   # 1 ns
db.execute("UPDATE state SET value = ? WHERE type = ? AND id = ? AND key = ?",
           (bytes(value), kind, actor, key))
db.execute("UPDATE reminder SET due = ? WHERE type = ? AND id = ? AND name = ?",
           (due, kind, actor, name))
db.commit()
EOF
started_at=$(date +%s%N)
check "restarts" start
base=$(fires old)
fired_since() { local n; n=$(fires old) && echo "# fired since the restart: $((n - base)) (of $n)" >&2 && echo $((n - base)); }
check "... the stored 1ns reminder fires" at_least $((base + 1)) old
check "... health answers" healthy
most=$(( ($(date +%s%N) - started_at) / 1000000000 + 2 ))
check "... at most once a second since the restart (<= $most)" in_range 1 "$most" fired_since
check "... and it can be deleted" test "$(u -o /dev/null -w '%{http_code}' -X DELETE "$t/h1/reminders/old")" = 204
check "stops on SIGTERM (exit 0)" stop_in_time
finish
