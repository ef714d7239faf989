#!/usr/bin/env bash
# task_hardening_test.sh — issue 9's reproductions against the Task API's
# actors, as a black box (curl, jq, python3): stored documents written
# through the Dapr state API (a version of 2^63 - 1, wrong types) get a
# clear 409, never a 500 or a sanitizer report; too-long ids are a 400;
# every per-user and per-task limit answers its 4xx; a create that fails
# leaves no entry in anyone's list; a user's list keeps one small key per
# task (so a change costs O(1), whatever the list's length) and an old
# one-document list still loads. Also prints creates/s at the start and the
# end of 3,000 creates for one user (a figure, not asserted: the assertion
# is the structural one above).
# Usage: task_hardening_test.sh PATH_TO_VACTORD
vactord="$1"
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"

check "starts (the Dapr API may write native state)" start --repair-state
u="$url/v1/users"
a="$url/v1.0/actors"
# code STATUS ERRORCODE CURL-ARGS...: the answer has both.
code() {
  local want="$1" err="$2"; shift 2
  local out; out=$(curl -s -w '\n%{http_code}' "$@")
  [ "$(tail -n1 <<<"$out")" = "$want" ] &&
    head -n -1 <<<"$out" | jq -e --arg e "$err" '.errorCode==$e' >/dev/null
}
# put_state TYPE ID KEY JSON-VALUE: one upsert through the Dapr state API.
put_state() {
  [ "$(status -X POST "$a/$1/$2/state" -d "[{\"operation\":\"upsert\",\"request\":{\"key\":\"$3\",\"value\":$4}}]")" = 204 ]
}
doc() { # doc ID VERSION: a stored task document of ann's
  echo "{\"id\":\"$1\",\"owner\":\"ann\",\"title\":\"a\",\"description\":\"\",\"status\":\"open\",\"priority\":\"medium\",\"due\":null,\"members\":[],\"version\":$2,\"created\":\"2026-12-01T10:00:00.000Z\",\"updated\":\"2026-12-01T10:00:00.000Z\"}"
}

# 5. The overflow: a version of 2^63 - 1, then PATCH.
check "a task to corrupt" test "$(status -X PUT "$u/ann/tasks/v1" -d '{"title":"a"}')" = 201
check "the Dapr API writes version 2^63-1" put_state TaskActor ann:v1 doc "$(doc ann:v1 9223372036854775807)"
check "PATCH then is 409 ERR_TASK_CORRUPT (no overflow)" code 409 ERR_TASK_CORRUPT -X PATCH "$u/ann/tasks/v1" -d '{"title":"b"}'
check "add member then is 409 ERR_TASK_CORRUPT" code 409 ERR_TASK_CORRUPT -X PUT "$u/ann/tasks/v1/members/bob"
check "the largest version kept (2^53-1) reads" put_state TaskActor ann:v1 doc "$(doc ann:v1 9007199254740991)"
check "... GET is 200" test "$(status "$u/ann/tasks/v1")" = 200
check "... but cannot grow: PATCH is 409 ERR_VERSION_EXHAUSTED" code 409 ERR_VERSION_EXHAUSTED -X PATCH "$u/ann/tasks/v1" -d '{"title":"b"}'
check "a mended document works again" put_state TaskActor ann:v1 doc "$(doc ann:v1 7)"
check "... PATCH is 200, version 8" json '.version==8 and .title=="b"' -X PATCH "$u/ann/tasks/v1" -d '{"title":"b"}'

# Wrong types in a stored document: a 409 for every route that reads it.
check "the Dapr API writes wrong types" put_state TaskActor ann:v1 doc '{"id":"ann:v1","owner":"ann","title":5,"members":"x","version":"1"}'
for route in "GET $u/ann/tasks/v1" "PATCH $u/ann/tasks/v1" "POST $u/ann/tasks/v1/complete" \
             "GET $u/ann/tasks/v1/members" "PUT $u/ann/tasks/v1/members/bob" \
             "DELETE $u/ann/tasks/v1/members/bob" "POST $u/ann/tasks/v1/log" \
             "GET $u/ann/tasks/v1/history" "PUT $u/ann/tasks/v1/reminders/r" "DELETE $u/ann/tasks/v1"; do
  set -- $route
  body='{}'
  case "$2" in */log) body='{"minutes":5}' ;; */reminders/*) body='{"dueTime":"1h"}' ;; esac
  [ "$1" = PATCH ] && body='{"title":"b"}'
  check "wrong types: $1 ${2#$u} is 409 ERR_TASK_CORRUPT" code 409 ERR_TASK_CORRUPT -X "$1" "$2" -d "$body"
done
check "... a stranger still hears 404 ERR_TASK_NOT_FOUND" code 404 ERR_TASK_NOT_FOUND "$u/zed/tasks/ann:v1"
check "not JSON at all: 409" put_state TaskActor ann:v1 doc '"just a string"'
check "... GET is 409 (no owner to tell apart: for anyone)" code 409 ERR_TASK_CORRUPT "$u/ann/tasks/v1"
check "create over a corrupt task is 409 ERR_TASK_EXISTS" code 409 ERR_TASK_EXISTS -X PUT "$u/ann/tasks/v1" -d '{"title":"a"}'
check "the server log says what is wrong" grep -q 'msg="stored state invalid" type=TaskActor id="ann:v1" key=doc' "$dir/log"
check "a non-JSON reminder spec reads (GET 200)" bash -c "
  [ \$(curl -s -o /dev/null -w '%{http_code}' -X PUT '$u/ann/tasks/r1' -d '{\"title\":\"a\"}') = 201 ] &&
  [ \$(curl -s -o /dev/null -w '%{http_code}' -X POST '$a/TaskActor/ann:r1/reminders/x' -d '{\"dueTime\":\"1h\",\"data\":\"bm90IGpzb24=\"}') = 204 ] &&
  [ \$(curl -s -o /dev/null -w '%{http_code}' '$u/ann/tasks/r1/reminders/x') = 200 ]"

# Preferences with wrong types are mended on read.
check "the Dapr API writes bad preferences" put_state UserActor pat prefs '{"timeZone":5,"language":"de","x":[1]}'
check "preferences read: bad fields dropped" json '.timeZone=="UTC" and .language=="de" and (has("x")|not)' "$u/pat/preferences"
check "a chat with them answers" test "$(status -X POST "$u/pat/chat" -d '{"message":"list"}')" = 200

# Ids: too long is a 400 everywhere, also a 1 MB member id.
long=$(printf 'm%.0s' $(seq 129))
check "a 129-byte member id is 400 ERR_BAD_ID" code 400 ERR_BAD_ID -X PUT "$u/ann/tasks/r1/members/$long"
check "a 129-byte task id is 400 ERR_BAD_ID" code 400 ERR_BAD_ID "$u/ann/tasks/$long"
check "a 129-byte user id is 400 ERR_BAD_ID" code 400 ERR_BAD_ID "$u/$long/tasks"
python3 -c 'import json; print(json.dumps({"title":"a","members":["m"*1000000]}))' >"$dir/big-member"
check "a 1 MB member id in a create is 400" code 400 ERR_BAD_REQUEST -X PUT "$u/ann/tasks/big" --data-binary @"$dir/big-member"
python3 -c 'import json; print(json.dumps({"user":"ann","member":"m"*1000000}))' >"$dir/big-add"
check "a 1 MB member id through the Dapr API is no stack-depth error" bash -c \
  "! curl -s -X POST '$a/TaskActor/ann:r1/method/add_member' --data-binary @'$dir/big-add' | grep -q ERR_ACTOR_STACK_DEPTH"
check "... and the task has no such member" json '.members==[]' "$u/ann/tasks/r1/members"
check "a 1 MB member id in the URL is a 4xx" python3 - "$port" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"PUT /v1/users/ann/tasks/r1/members/" + b"m" * 1000000 +
          b" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
answer = b""
try:
    while b"\r\n" not in answer:
        chunk = s.recv(4096)
        if not chunk: break
        answer += chunk
except (ConnectionResetError, socket.timeout):
    pass
print("  1 MB URL answered:", answer.split(b"\r\n")[0].decode(errors="replace"))
sys.exit(0 if answer.split(b" ")[1:2] and answer.split(b" ")[1][:1] == b"4" else 1)
EOF

# Sizes.
check "a 201-byte title is 400" code 400 ERR_BAD_REQUEST -X PUT "$u/ann/tasks/s1" -d "{\"title\":\"$(printf 'x%.0s' $(seq 201))\"}"
check "a 4001-byte description is 400" code 400 ERR_BAD_REQUEST -X PUT "$u/ann/tasks/s1" -d "{\"title\":\"a\",\"description\":\"$(head -c 4001 /dev/zero | tr '\0' x)\"}"
check "a 1001-byte chat message is 400" code 400 ERR_BAD_REQUEST -X POST "$u/ann/chat" -d "{\"message\":\"$(head -c 1001 /dev/zero | tr '\0' x)\"}"

# Members per task: 64.
members=$(python3 -c 'import json; print(json.dumps(["m%d" % i for i in range(64)]))')
check "a task with 64 members" test "$(status -X PUT "$u/ann/tasks/crowd" -d "{\"title\":\"a\",\"members\":$members}")" = 201
check "a 65th member is 409 ERR_LIMIT_MEMBERS" code 409 ERR_LIMIT_MEMBERS -X PUT "$u/ann/tasks/crowd/members/m64"
check "65 members in a create is 400" test "$(status -X PUT "$u/ann/tasks/crowd2" -d "{\"title\":\"a\",\"members\":$(python3 -c 'import json; print(json.dumps(["m%d" % i for i in range(65)]))')}")" = 400

# Reminders per task: 20.
status -X PUT "$u/ann/tasks/r2" -d '{"title":"a"}' >/dev/null
for i in $(seq 20); do status -X PUT "$u/ann/tasks/r2/reminders/n$i" -d '{"dueTime":"1h"}' >/dev/null; done
check "20 reminders are kept" test "$(status "$u/ann/tasks/r2/reminders/n20")" = 200
check "a 21st is 409 ERR_LIMIT_REMINDERS" code 409 ERR_LIMIT_REMINDERS -X PUT "$u/ann/tasks/r2/reminders/n21" -d '{"dueTime":"1h"}'
check "replacing one of the 20 is fine" test "$(status -X PUT "$u/ann/tasks/r2/reminders/n1" -d '{"dueTime":"2h"}')" = 204

# 7. A user's list: one small key per task, the old format still loads.
check "one create: the user's entry is its own small key" bash -c \
  "[ \$(curl -s '$a/UserActor/ann/state/t:ann:r1' | jq -r .task.id) = ann:r1 ] &&
   [ \$(curl -s '$a/UserActor/ann/state/t:ann:r1' | wc -c) -lt 400 ]"
check "no whole-list document" test "$(status "$a/UserActor/ann/state/tasks")" = 204
check "an old-format list written from outside" put_state UserActor olga tasks '{"o1":{"id":"o1","title":"old one","status":"open","priority":"low","due":null,"owner":"olga","version":1},"bad":5}'
check "... lists (migrated; the unusable entry dropped)" json '.count==1 and .tasks[0].title=="old one"' "$u/olga/tasks"
check "... and is stored per task now" bash -c \
  "[ \$(curl -s -o /dev/null -w '%{http_code}' '$a/UserActor/olga/state/tasks') = 204 ] &&
   [ \"\$(curl -s '$a/UserActor/olga/state/t:o1' | jq -r .task.title)\" = 'old one' ]"
check "a corrupt entry is skipped, not a 500" put_state UserActor olga t:o1 '"garbage"'
check "... the list answers 200" json '.count==0' "$u/olga/tasks"
check "a list count that is not one (JSON text, not 8 bytes)" put_state UserActor olga n '5'
check "... listing is 409 ERR_STATE_CORRUPT" code 409 ERR_STATE_CORRUPT "$u/olga/tasks"
check "... and so is a create for that user" code 409 ERR_STATE_CORRUPT -X PUT "$u/olga/tasks/o2" -d '{"title":"a"}'
check "... which leaves no task behind" test "$(status "$u/olga/tasks/o2")" = 404
check "the count deleted through the Dapr API" test "$(status -X POST "$a/UserActor/olga/state" -d '[{"operation":"delete","request":{"key":"n"}}]')" = 204
check "... a new task lists again" bash -c \
  "[ \$(curl -s -o /dev/null -w '%{http_code}' -X PUT '$u/olga/tasks/o3' -d '{\"title\":\"a\"}') = 201 ] &&
   curl -s '$u/olga/tasks' | jq -e '.count==1 and .tasks[0].id==\"o3\"' >/dev/null"

# Tasks per user (10,000) and a failed create leaving nothing behind: the
# limit is reached through the stored count (the Dapr API writes JSON, so
# the test stops the server and sets it in the SQLite file).
check "stops" stop
check "bob's list claims 10,000 tasks (in the store)" python3 - "$dir/data/vactor.db" <<'EOF'
import sqlite3, struct, sys
db = sqlite3.connect(sys.argv[1])
db.execute("insert or replace into state (type, id, key, value) values (?, ?, ?, ?)",
           ("UserActor", sqlite3.Binary(b"bob"), "n", sqlite3.Binary(struct.pack("<q", 10000))))
db.commit()
EOF
check "restarts" start
check "bob cannot get an 10,001st task: 409 ERR_LIMIT_TASKS" code 409 ERR_LIMIT_TASKS -X PUT "$u/bob/tasks/over" -d '{"title":"a"}'
check "... the task does not exist" test "$(status "$u/bob/tasks/over")" = 404
check "ann's create naming bob as a member is 409 ERR_LIMIT_TASKS" code 409 ERR_LIMIT_TASKS -X PUT "$u/ann/tasks/shared" -d '{"title":"a","members":["carl","bob"]}'
check "... no phantom in ann's list" bash -c "! curl -s '$u/ann/tasks' | jq -e '.tasks[]|select(.id==\"shared\")' >/dev/null"
check "... nor in carl's" json '.count==0' "$u/carl/tasks"
check "... nor its key in ann's state" test "$(status "$a/UserActor/ann/state/t:ann:shared")" = 204
check "... and the task does not exist" test "$(status "$u/ann/tasks/shared")" = 404

# 3,000 creates for one user: creates/s at the start and at the end.
python3 - "$port" <<'EOF'
import http.client, json, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=30)
def create(i):
    c.request("PUT", "/v1/users/heavy/tasks/h%d" % i, json.dumps({"title": "task %d" % i}))
    r = c.getresponse(); r.read()
    assert r.status == 201, r.status
rates, n, span = [], 3000, 300
for start in range(0, n, span):
    t = time.time()
    for i in range(start, start + span): create(i)
    rates.append(span / (time.time() - t))
print("creates/s for one user: first %d: %.0f, last %d (of %d): %.0f" % (span, rates[0], span, n, rates[-1]))
EOF
check "after 3,000 tasks an entry is still one small key" bash -c \
  "[ \$(curl -s '$a/UserActor/heavy/state/t:heavy:h2999' | wc -c) -lt 400 ] &&
   [ \$(curl -s '$u/heavy/tasks?q=task%202999' | jq .count) = 1 ]"
check "the list has all 3,000, in the order created" json '.count==3000 and .tasks[0].id=="h0" and .tasks[2999].id=="h2999"' "$u/heavy/tasks"
check "a delete moves the last entry into the hole, order kept" bash -c \
  "[ \$(curl -s -o /dev/null -w '%{http_code}' -X DELETE '$u/heavy/tasks/h5') = 204 ] &&
   curl -s '$u/heavy/tasks' | jq -e '.count==2999 and .tasks[5].id==\"h6\" and .tasks[-1].id==\"h2999\"' >/dev/null &&
   [ \$(curl -s '$a/UserActor/heavy/state/t:heavy:h2999' | jq .task.id) = '\"heavy:h2999\"' ]"
# (The Dapr API answers a method's failure 500 ERR_ACTOR_INVOKE_METHOD, as
# Dapr does: the 1 MB member above; no other route may answer a 5xx.)
check "no 5xx in the server's log" bash -c "! grep 'status=5' '$dir/log' | grep -v route=dapr.invoke"
check "stops" stop
finish
