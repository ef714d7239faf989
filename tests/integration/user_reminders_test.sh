#!/usr/bin/env bash
# user_reminders_test.sh — the limit on the reminders of the tasks one user
# owns (hardening: limits per user), as a black box: 500 across 26 tasks,
# the 501st is 409 ERR_LIMIT_REMINDERS naming that limit (the per-task one
# keeps its own message) and is not stored, also when a member sets it on
# the owner's task; a replacement still goes; deleting a reminder or a
# task frees their places; the count survives a restart; a one-shot, an
# Rn/ and a ttl'd reminder free theirs by their last fire; a corrupt count
# or task entry is 409 ERR_STATE_CORRUPT for a new reminder (deletes still
# go), and deleting it through the Dapr state API mends it. The count is read as UserActor's "rn" (int64)
# through the Dapr state API, so that a drift shows at once.
# Usage: user_reminders_test.sh PATH_TO_VACTORD
vactord="$1"
source "$(dirname "$0")/lib.sh"

# The bulk of the requests on one keep-alive connection: fill.py PORT USER
# FIRST LAST N creates tasks tFIRST..tLAST of USER (t26 with member bob)
# and sets reminders r0..r(N-1) on each, due in an hour; exit 0 when every
# answer was 201 or 204.
cat >"$dir/fill.py" <<'EOF'
import http.client, json, sys
port, user, first, last, n = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
def call(method, path, body):
    c.request(method, path, json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    text = r.read()
    if r.status not in (201, 204):
        sys.exit(f"{method} {path}: {r.status} {text!r}")
for i in range(first, last + 1):
    task = f"/v1/users/{user}/tasks/t{i}"
    call("PUT", task, {"title": f"task {i}", "members": ["bob"] if i == 26 else []})
    for k in range(n):
        call("PUT", f"{task}/reminders/r{k}", {"dueTime": "1h"})
EOF

u() { timeout 10 curl -s -m 8 "$@"; }
t="$url/v1/users/ann/tasks"
a="$url/v1.0/actors"
# count USER: the reminders USER is charged for (0 without a count)
count() {
  u "$a/UserActor/$1/state/rn" | python3 -c 'import struct, sys
b = sys.stdin.buffer.read()
print(struct.unpack("<q", b)[0] if len(b) == 8 else 0 if not b else "bad")'
}
is_count() { [ "$(count "$1")" = "$2" ]; }
# set TASK NAME [BODY]: the status of setting reminder NAME on ann's TASK
set_rem() { u -o /dev/null -w '%{http_code}' -X PUT "$t/$1/reminders/$2" -d "${3:-{\"dueTime\":\"1h\"\}}"; }
# refused STATUS CODE TEXT CURL-ARGS...: the answer has that status,
# errorCode and a piece of the message
refused() {
  local want="$1 $2" text="$3"; shift 3
  local body; body=$(u -w ' %{http_code}' "$@") || return 1
  [ "$(sed -E 's/.*"errorCode":"([A-Z_]+)".* ([0-9]+)$/\2 \1/' <<<"$body")" = "$want" ] &&
    grep -qF "$text" <<<"$body"
}
# gone TASK NAME: within 60 s, ann's reminder NAME on TASK is no more
gone() { for _ in $(seq 600); do [ "$(status "$t/$1/reminders/$2")" = 404 ] && return 0; sleep 0.1; done; return 1; }
# count_becomes USER N: within 60 s
count_becomes() { for _ in $(seq 600); do is_count "$1" "$2" && return 0; sleep 0.1; done; return 1; }
put_state() {
  [ "$(status -X POST "$a/$1/$2/state" -d "[{\"operation\":\"upsert\",\"request\":{\"key\":\"$3\",\"value\":$4}}]")" = 204 ]
}
del_state() {
  [ "$(status -X POST "$a/$1/$2/state" -d "[{\"operation\":\"delete\",\"request\":{\"key\":\"$3\"}}]")" = 204 ]
}

check "starts (the Dapr API may write native state)" start --repair-state
t="$url/v1/users/ann/tasks"
a="$url/v1.0/actors"
check "ann sets 20 reminders on each of 25 tasks (500), and makes t26" \
  bash -c "python3 '$dir/fill.py' $port ann 1 25 20 && python3 '$dir/fill.py' $port ann 26 26 0"
check "... her count is 500" is_count ann 500
check "the 501st is 409 ERR_LIMIT_REMINDERS, naming the per-user limit" \
  refused 409 ERR_LIMIT_REMINDERS "a user owns at most 500 reminders" -X PUT "$t/t26/reminders/r0" -d '{"dueTime":"1h"}'
check "... and is not stored" test "$(status "$t/t26/reminders/r0")" = 404
check "... nor counted" is_count ann 500
check "a 21st on one task still names the per-task limit" \
  refused 409 ERR_LIMIT_REMINDERS "a task has at most 20 reminders" -X PUT "$t/t1/reminders/r20" -d '{"dueTime":"1h"}'
check "replacing one of the 500 goes (204)" test "$(set_rem t1 r0 '{"dueTime":"2h","message":"later"}')" = 204
check "... and is not counted twice" is_count ann 500
check "a member setting one on ann's task is refused: ann is charged" \
  refused 409 ERR_LIMIT_REMINDERS "at most 500" -X PUT "$url/v1/users/bob/tasks/ann:t26/reminders/b" -d '{"dueTime":"1h"}'
check "... while bob's own tasks have room" bash -c \
  "[ \$(curl -s -o /dev/null -w '%{http_code}' -X PUT '$url/v1/users/bob/tasks/b1' -d '{\"title\":\"b\"}') = 201 ] &&
   [ \$(curl -s -o /dev/null -w '%{http_code}' -X PUT '$url/v1/users/bob/tasks/b1/reminders/b' -d '{\"dueTime\":\"1h\"}') = 204 ]"
check "... and bob's count is his own" is_count bob 1

check "deleting one of ann's reminders (204)" test "$(status -X DELETE "$t/t1/reminders/r0")" = 204
check "... frees its place" is_count ann 499
check "... which a new one takes" test "$(set_rem t26 r0)" = 204
check "... and the next is refused again" test "$(set_rem t26 r1)" = 409
check "deleting a task with 20 reminders (204)" test "$(status -X DELETE "$t/t2")" = 204
check "... frees their 20 places" is_count ann 480
check "... which 19 new ones take" bash -c \
  "for k in \$(seq 1 19); do [ \$(curl -s -o /dev/null -w '%{http_code}' -X PUT '$t/t26/reminders/r'\$k -d '{\"dueTime\":\"1h\"}') = 204 ] || exit 1; done"
check "... to 499" is_count ann 499

check "stops on SIGTERM (exit 0)" stop
check "restarts" start --repair-state
check "the count is kept" is_count ann 499
check "a task for short reminders" test "$(status -X PUT "$t/t27" -d '{"title":"short"}')" = 201
check "a one-shot due in 8s takes the 500th place" test "$(set_rem t27 once '{"dueTime":"8s"}')" = 204
check "... the next is refused" test "$(set_rem t27 x)" = 409
check "... the one-shot fires and is gone (within 60 s)" gone t27 once
check "... and its place is free" count_becomes ann 499
check "... for a new one" test "$(set_rem t27 x)" = 204
check "delete it again" test "$(status -X DELETE "$t/t27/reminders/x")" = 204
check "deleting t3 frees 20 more" bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -X DELETE '$t/t3') = 204 ]"
check "... to 479" is_count ann 479
check "R2/PT1S (two fires) goes" test "$(set_rem t27 twice '{"dueTime":"8s","period":"R2/PT1S"}')" = 204
check "a 1s period with a 10s ttl goes" test "$(set_rem t27 ttl '{"dueTime":"8s","period":"1s","ttl":"10s"}')" = 204
check "... both counted (481)" is_count ann 481
check "... R2 is gone after its second fire (within 60 s)" gone t27 twice
check "... the ttl'd one once its ttl runs out" gone t27 ttl
check "... and both places are free again (479)" count_becomes ann 479
check "their fires reached ann's chat" \
  json '[.messages[] | select(.reminder == "twice")] | length == 2' "$url/v1/users/ann/chat?limit=100"

# Charges that lost their reminder are mended: the settle a new set queues
# (for a set whose own save failed after the charge), the task's next new
# reminder (for one whose ttl ran out while the server was down, so that
# it ended without a fire), the task's delete.
invoke() { status -X POST "$a/$1/$2/method/$3" -d "$4"; }
check "a charge without its reminder (as a set whose save failed leaves)" \
  test "$(invoke UserActor ann charge_reminder '{"task":"ann:t4","name":"ghost"}')" = 200
check "... counts (480)" is_count ann 480
check "... the settle that the set queued releases it" \
  test "$(invoke TaskActor ann:t4 settle_reminder '{"owner":"ann","name":"ghost"}')" = 200
check "... (479)" is_count ann 479
check "... a settle keeps the charge of a reminder the task has" \
  bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -X POST '$a/TaskActor/ann:t4/method/settle_reminder' -d '{\"owner\":\"ann\",\"name\":\"r0\"}') = 200 ]"
check "... (479)" is_count ann 479
check "a task t28" test "$(status -X PUT "$t/t28" -d '{"title":"mended"}')" = 201
check "... with a charge without its reminder (480)" \
  bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -X POST '$a/UserActor/ann/method/charge_reminder' -d '{\"task\":\"ann:t28\",\"name\":\"ghost\"}') = 200 ]"
check "... the task's next new reminder drops it (still 480)" \
  bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -X PUT '$t/t28/reminders/real' -d '{\"dueTime\":\"1h\"}') = 204 ]"
check "... (480, the task's entry names only the real one)" \
  bash -c "[ \$(curl -s '$a/UserActor/ann/state/r:ann:t28') = '[\"real\"]' ]"
check "... 480" is_count ann 480
check "a 1s period with a 3s ttl on t28 (481)" test "$(set_rem t28 brief '{"dueTime":"1s","period":"1s","ttl":"3s"}')" = 204
check "the server stops at once" stop
sleep 4 # past the ttl: at the restart it ends without a (last) fire
check "... restarts past the ttl" start --repair-state
check "... the reminder is gone" gone t28 brief
check "... t28's next new reminder leaves the count right (481)" \
  bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -X PUT '$t/t28/reminders/after' -d '{\"dueTime\":\"1h\"}') = 204 ]"
check "... 481" is_count ann 481
check "a charge of t28 without its reminder" test "$(invoke UserActor ann charge_reminder '{"task":"ann:t28","name":"ghost"}')" = 200
check "... deleting t28 releases it with the real ones (479)" \
  bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -X DELETE '$t/t28') = 204 ]"
check "... 479" is_count ann 479

# Stored state written from outside: a clear 409, never a 500.
check "the Dapr API writes a count that is not one" put_state UserActor ann rn '5'
check "... a new reminder is 409 ERR_STATE_CORRUPT" \
  refused 409 ERR_STATE_CORRUPT "reminder" -X PUT "$t/t27/reminders/y" -d '{"dueTime":"1h"}'
check "... the server log names the key" grep -q 'msg="stored state invalid" type=UserActor id="ann" key="rn"' "$dir/log"
check "... deleting a reminder still goes (204)" test "$(status -X DELETE "$t/t26/reminders/r18")" = 204
check "... and so does deleting a task" test "$(status -X DELETE "$t/t25")" = 204
check "... while new reminders are still refused" test "$(set_rem t27 y)" = 409
check "... deleting the count through the Dapr API mends it (it restarts at 0)" del_state UserActor ann rn
check "... then the reminder goes" test "$(set_rem t27 y)" = 204
check "... counted from 0" is_count ann 1
check "the Dapr API writes a task's entry that is not one" put_state UserActor ann r:ann:t27 '{"y":1}'
check "... a new reminder on that task is 409 ERR_STATE_CORRUPT" \
  refused 409 ERR_STATE_CORRUPT "reminder" -X PUT "$t/t27/reminders/z" -d '{"dueTime":"1h"}'
check "... and so is deleting one of its reminders" \
  refused 409 ERR_STATE_CORRUPT "reminder" -X DELETE "$t/t27/reminders/y"
check "... other tasks are not concerned" test "$(set_rem t26 r19 '{"dueTime":"3h"}')" = 204
check "... the task can be deleted, and its entry goes with it" \
  bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -X DELETE '$t/t27') = 204 ] &&
           [ \$(curl -s -o /dev/null -w '%{http_code}' '$a/UserActor/ann/state/r:ann:t27') = 204 ]"
check "... (what it counted stays counted: 1)" is_count ann 1
check "health answers" test "$(status "$url/v1.0/healthz")" = 204
check "stops on SIGTERM (exit 0)" stop
finish
