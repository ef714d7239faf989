#!/usr/bin/env bash
# dapr_api_test.sh — the Dapr actor API of a real vactord, route by route
# with raw HTTP (curl, jq): statuses, bodies and Dapr's error codes for
# invoke, state (get, transactions, ttlInSeconds), reminders (create, get,
# delete, one firing into a native actor), timers (calling a native
# method), metadata, health, ids and names, and the API token.
# Usage: dapr_api_test.sh PATH_TO_VACTORD
vactord="$1"
source "$(dirname "$0")/lib.sh"
# code STATUS ERRORCODE CURL-ARGS...: the status and the errorCode
code() { local want="$1 $2"; shift 2; [ "$(curl -s -w ' %{http_code}' "$@" | sed -E 's/.*"errorCode":"([A-Z_]+)".* ([0-9]+)$/\2 \1/')" = "$want" ]; }

check "starts (the Dapr API may write native state)" start --repair-state
a="$url/v1.0/actors"

# Metadata and health.
check "metadata is a JSON object with the actor types" json '.id=="vactord" and (.actors|map(.type)|index("TaskActor")) != null and .actorRuntime.hostReady==true' "$url/v1.0/metadata"
check "metadata: PUT /v1.0/metadata/{key} is 204" test "$(status -X PUT "$url/v1.0/metadata/owner.team" -d 'tasks-crew')" = 204
check "metadata: ... and GET shows it under extended" json '.extended["owner.team"]=="tasks-crew"' "$url/v1.0/metadata"
check "metadata: a second PUT replaces it" test "$(status -X PUT "$url/v1.0/metadata/owner.team" -d 'core')$(curl -s "$url/v1.0/metadata" | jq -r '.extended["owner.team"]')" = 204core
check "metadata: a key with a bad byte is 400" code 400 ERR_BAD_REQUEST -X PUT "$url/v1.0/metadata/a%2Fb" -d 'x'
check "metadata: a value past 511 bytes is 400" code 400 ERR_BAD_REQUEST -X PUT "$url/v1.0/metadata/big" --data-binary "$(head -c 512 /dev/zero | tr '\0' v)"
check "metadata: a value not UTF-8 is 400" code 400 ERR_BAD_REQUEST -X PUT "$url/v1.0/metadata/bin" --data-binary "$(printf 'a\xff')"
keys() { for i in $(seq 1 "$1"); do status -X PUT "$url/v1.0/metadata/k$i" -d v; echo; done | sort | uniq -c | awk '{print $2 "x" $1}' | tr '\n' ' '; }
check "metadata: 15 more keys (16 in all) are 204" test "$(keys 15)" = "204x15 "
check "metadata: the 17th is 400, an existing one still 204" test "$(status -X PUT "$url/v1.0/metadata/k16" -d v)$(status -X PUT "$url/v1.0/metadata/k1" -d w)" = 400204
check "metadata: GET of a key's route is 405" test "$(status "$url/v1.0/metadata/k1")" = 405
check "healthz/outbound is 204" test "$(status "$url/v1.0/healthz/outbound")" = 204

# Invoke a native actor (TaskActor): a one-element JSON array is unwrapped.
check "invoke: create through the method route (SDK-style [arg])" json '.owner=="ann" and .title=="via dapr"' -X POST "$a/TaskActor/d1/method/create" -H 'content-type: application/json' -d '[{"user":"ann","title":"via dapr"}]'
check "invoke: a plain JSON body works too (PUT)" json '.id=="d1"' -X PUT "$a/TaskActor/d1/method/get" -d '{"user":"ann"}'
check "invoke: GET is accepted" test "$(status -X GET "$a/TaskActor/d1/method/get" -d '{"user":"ann"}')" = 200
check "invoke: the Task API sees the same task" json '.title=="via dapr"' "$url/v1/users/ann/tasks/d1"
check "invoke: unknown type is 404 ERR_ACTOR_NO_ADDRESS" code 404 ERR_ACTOR_NO_ADDRESS -X POST "$a/NoSuchActor/x/method/m"
check "invoke: unknown method is 500 ERR_ACTOR_INVOKE_METHOD" code 500 ERR_ACTOR_INVOKE_METHOD -X POST "$a/TaskActor/d1/method/fly"
check "invoke: a failing method is 500 ERR_ACTOR_INVOKE_METHOD" code 500 ERR_ACTOR_INVOKE_METHOD -X POST "$a/TaskActor/d1/method/get" -d '{"user":"stranger"}'
check "invoke: PATCH is 405" test "$(status -X PATCH "$a/TaskActor/d1/method/get")" = 405
check "invoke: %00 in an id is 400 ERR_BAD_REQUEST" code 400 ERR_BAD_REQUEST -X POST "$a/TaskActor/d%001/method/get"
check "invoke: an encoded id is decoded (user%2F42)" json '.id=="user/42"' -X POST "$a/TaskActor/user%2F42/method/create" -d '{"user":"ann","title":"slash"}'

# State.
check "state: a native actor's key reads as stored" json '.title=="via dapr"' "$a/TaskActor/d1/state/doc"
check "state: a missing key is 204" test "$(status "$a/TaskActor/d1/state/nope")" = 204
check "state: a transaction is 204" test "$(status -X POST "$a/TaskActor/d9/state" -d '[{"operation":"upsert","request":{"key":"note","value":{"a":1}}},{"operation":"upsert","request":{"key":"s","value":"text"}}]')" = 204
check "state: read back as JSON" json '.a==1' "$a/TaskActor/d9/state/note"
check "state: a string value keeps its quotes" test "$(curl -s "$a/TaskActor/d9/state/s")" = '"text"'
check "state: delete in a transaction (PUT)" test "$(status -X PUT "$a/TaskActor/d9/state" -d '[{"operation":"delete","request":{"key":"note"}}]')$(status "$a/TaskActor/d9/state/note")" = 204204
check "state: ttlInSeconds" test "$(status -X POST "$a/TaskActor/d9/state" -d '[{"operation":"upsert","request":{"key":"t","value":1,"metadata":{"ttlInSeconds":"1"}}}]')$(status "$a/TaskActor/d9/state/t")" = 204200
sleep 2.1
check "state: the key expired" test "$(status "$a/TaskActor/d9/state/t")" = 204
check "state: not an array is 400 ERR_MALFORMED_REQUEST" code 400 ERR_MALFORMED_REQUEST -X POST "$a/TaskActor/d9/state" -d '{"operation":"upsert"}'
check "state: bad JSON is 400 ERR_MALFORMED_REQUEST" code 400 ERR_MALFORMED_REQUEST -X POST "$a/TaskActor/d9/state" -d '[{'
check "state: an unknown operation is 400, nothing applied" test "$(status -X POST "$a/TaskActor/d9/state" -d '[{"operation":"upsert","request":{"key":"x","value":1}},{"operation":"merge","request":{"key":"y"}}]')$(status "$a/TaskActor/d9/state/x")" = 400204
check "state: a bad ttlInSeconds is 400" test "$(status -X POST "$a/TaskActor/d9/state" -d '[{"operation":"upsert","request":{"key":"x","value":1,"metadata":{"ttlInSeconds":"soon"}}}]')" = 400
check "state: DELETE on the state route is 405" test "$(status -X DELETE "$a/TaskActor/d9/state")" = 405

# Reminders.
check "reminders: create is 204" test "$(status -X POST "$a/TaskActor/d1/reminders/r1" -d '{"dueTime":"1h","period":"R3/PT1H","data":{"x":1}}')" = 204
check "reminders: get shows it as registered" json '.actorID=="d1" and .actorType=="TaskActor" and .dueTime=="1h" and .period=="R3/PT1H" and .data.x==1' "$a/TaskActor/d1/reminders/r1"
check "reminders: overwrite false on an existing name is 409 ERR_ACTOR_REMINDER_ALREADY_EXISTS" code 409 ERR_ACTOR_REMINDER_ALREADY_EXISTS -X POST "$a/TaskActor/d1/reminders/r1" -d '{"dueTime":"2h","overwrite":false}'
check "reminders: ... and the reminder is as it was" json '.dueTime=="1h" and .data.x==1' "$a/TaskActor/d1/reminders/r1"
check "reminders: overwrite false on a new name is 204" test "$(status -X POST "$a/TaskActor/d1/reminders/r3" -d '{"dueTime":"2h","overwrite":false}')$(status -X DELETE "$a/TaskActor/d1/reminders/r3")" = 204204
check "reminders: overwrite true (the default) replaces" test "$(status -X POST "$a/TaskActor/d1/reminders/r1" -d '{"dueTime":"1h","period":"R3/PT1H","data":{"x":2},"overwrite":true}')$(curl -s "$a/TaskActor/d1/reminders/r1" | jq .data.x)" = 2042
check "reminders: overwrite not a boolean is 400 ERR_MALFORMED_REQUEST" code 400 ERR_MALFORMED_REQUEST -X POST "$a/TaskActor/d1/reminders/r1" -d '{"overwrite":"no"}'
check "reminders: a bad dueTime is 500 ERR_ACTOR_REMINDER_CREATE" code 500 ERR_ACTOR_REMINDER_CREATE -X POST "$a/TaskActor/d1/reminders/r2" -d '{"dueTime":"soon"}'
check "reminders: R0/ is refused" code 500 ERR_ACTOR_REMINDER_CREATE -X PUT "$a/TaskActor/d1/reminders/r2" -d '{"dueTime":"1s","period":"R0/PT1S"}'
check "reminders: a period under the minimum (1s) is refused, naming it" json '.errorCode=="ERR_ACTOR_REMINDER_CREATE" and (.message|test("period 1ns is shorter than the minimum of 1s"))' -m 5 -X PUT "$a/TaskActor/d1/reminders/r2" -d '{"dueTime":"0s","period":"1ns"}'
check "reminders: an expired ttl is refused" code 500 ERR_ACTOR_REMINDER_CREATE -X PUT "$a/TaskActor/d1/reminders/r2" -d '{"dueTime":"1s","ttl":"2020-01-01T00:00:00Z"}'
check "reminders: bad JSON is 400 ERR_MALFORMED_REQUEST" code 400 ERR_MALFORMED_REQUEST -X PUT "$a/TaskActor/d1/reminders/r2" -d 'x'
check "reminders: delete is 204" test "$(status -X DELETE "$a/TaskActor/d1/reminders/r1")" = 204
check "reminders: a deleted one is 404 ERR_ACTOR_REMINDER_NOT_FOUND" code 404 ERR_ACTOR_REMINDER_NOT_FOUND "$a/TaskActor/d1/reminders/r1"
check "reminders: deleting again is 204" test "$(status -X DELETE "$a/TaskActor/d1/reminders/r1")" = 204
check "reminders: one fires into the native actor (chat message)" test "$(status -X POST "$a/TaskActor/d1/reminders/soon" -d '{"dueTime":"0.5s"}')" = 204
fired() { for _ in $(seq 50); do curl -s "$url/v1/users/ann/chat" | jq -e '.messages|map(select(.reminder=="soon"))|length==1' >/dev/null && return 0; sleep 0.1; done; return 1; }
check "reminders: ... and it arrived" fired

# Timers: the callback is a method of the native type.
check "timers: create is 204" test "$(status -X POST "$a/TaskActor/d1/timers/finish" -d '{"dueTime":"0.2s","callback":"complete","data":{"user":"ann"}}')" = 204
done_yet() { for _ in $(seq 50); do curl -s "$url/v1/users/ann/tasks/d1" | jq -e '.status=="done"' >/dev/null && return 0; sleep 0.1; done; return 1; }
check "timers: it called the method" done_yet
check "timers: delete is 204 (also when gone)" test "$(status -X DELETE "$a/TaskActor/d1/timers/finish")" = 204
check "timers: an unknown callback is 500 ERR_ACTOR_TIMER_CREATE" code 500 ERR_ACTOR_TIMER_CREATE -X POST "$a/TaskActor/d1/timers/t2" -d '{"dueTime":"1s","callback":"fly"}'
check "timers: a period under the minimum (1s) is 500 ERR_ACTOR_TIMER_CREATE, naming it" json '.errorCode=="ERR_ACTOR_TIMER_CREATE" and (.message|test("period 500ms is shorter than the minimum of 1s"))' -m 5 -X POST "$a/TaskActor/d1/timers/t3" -d '{"dueTime":"1s","period":"500ms","callback":"get"}'
check "timers: a bad period is 500 ERR_ACTOR_TIMER_CREATE" code 500 ERR_ACTOR_TIMER_CREATE -X POST "$a/TaskActor/d1/timers/t2" -d '{"dueTime":"1s","period":"often","callback":"get"}'
check "timers: bad JSON is 400" code 400 ERR_MALFORMED_REQUEST -X POST "$a/TaskActor/d1/timers/t2" -d '[]'
# Timers that end: after R<n>/ fires, or at their ttl (from the first due
# time); the actor's listing (GET /v1/actors/...) shows its live timers.
timers() { curl -s "$url/v1/actors/TaskActor/d1" | jq -r '[.timers[].name]|sort|join(",")'; }
ended() { for _ in $(seq 150); do [ "$(timers)" = steady ] && return 0; sleep 0.1; done; return 1; }
check "timers: R2/PT2S is 204" test "$(status -X POST "$a/TaskActor/d1/timers/twice" -d '{"period":"R2/PT2S","callback":"get","data":{"user":"ann"}}')" = 204
check "timers: a ttl is 204" test "$(status -X POST "$a/TaskActor/d1/timers/brief" -d '{"dueTime":"0s","period":"2s","ttl":"3s","callback":"get","data":{"user":"ann"}}')" = 204
check "timers: one without an end is 204" test "$(status -X POST "$a/TaskActor/d1/timers/steady" -d '{"period":"2s","callback":"get","data":{"user":"ann"}}')" = 204
check "timers: the two with an end end; the other goes on" ended
check "timers: a ttl before the due time is 500 ERR_ACTOR_TIMER_CREATE" json '.errorCode=="ERR_ACTOR_TIMER_CREATE" and (.message|test("already expired"))' -X POST "$a/TaskActor/d1/timers/t4" -d '{"dueTime":"10s","ttl":"2020-01-01T00:00:00Z","callback":"get"}'
check "timers: a bad ttl is 500 ERR_ACTOR_TIMER_CREATE" code 500 ERR_ACTOR_TIMER_CREATE -X POST "$a/TaskActor/d1/timers/t4" -d '{"ttl":"later","callback":"get"}'
check "timers: a period in months is 500 ERR_ACTOR_TIMER_CREATE" code 500 ERR_ACTOR_TIMER_CREATE -X POST "$a/TaskActor/d1/timers/t4" -d '{"period":"P1M","callback":"get"}'
check "timers: delete the one without an end" test "$(status -X DELETE "$a/TaskActor/d1/timers/steady")$(timers)" = 204
# Native actors' state is written from outside too: they must not trust it.
check "a summary without owner through the Dapr API" test "$(status -X POST "$a/UserActor/odd/method/upsert_task" -d '{"id":"x"}')" = 200
check "... and the list still answers" json '.count==0' "$url/v1/users/odd/tasks?role=owner"
check "a task document with odd members through the state API" test "$(status -X POST "$a/TaskActor/odd/state" -d '[{"operation":"upsert","request":{"key":"doc","value":{"owner":"u","members":[1,null]}}}]')" = 204
check "... is 409 ERR_TASK_CORRUPT to the owner and 404 to a stranger" test "$(status "$url/v1/users/u/tasks/odd")$(status "$url/v1/users/v/tasks/odd")" = 409404
check "a type name that is not UTF-8 is 400" code 400 ERR_BAD_REQUEST "$a/N%C3/x/state/k"
check "still serving" test "$(status "$url/v1.0/healthz")" = 204
check "unknown route under actors is 404" test "$(status "$a/TaskActor/d1/other/x")" = 404
check "stops cleanly" stop
check "restarts" start
check "the transaction's value is still there" test "$(curl -s "$a/TaskActor/d9/state/s")" = '"text"'
check "stops cleanly" stop

# With a token: health is exempt, the rest needs it.
check "starts with a token" start --token s3cret
check "token: metadata without it is 401" test "$(status "$url/v1.0/metadata")" = 401
check "token: the 401 is daprd's, plain text 'invalid api token'" test "$(curl -s -w ' %{http_code} %{content_type}' -H 'dapr-api-token: wrong' "$a/TaskActor/d1/method/get" | tr -d '\n')" = "invalid api token 401 text/plain; charset=utf-8"
check "token: healthz/outbound needs none" test "$(status "$url/v1.0/healthz/outbound")" = 204
check "token: with dapr-api-token, 200" test "$(status -H 'dapr-api-token: s3cret' "$url/v1.0/metadata")" = 200
# Without --repair-state a native actor's state is read, not written.
curl -s -o "$dir/readonly" -w '%{http_code}' -H 'dapr-api-token: s3cret' -X POST "$a/TaskActor/d1/state" \
  -d '[{"operation":"upsert","request":{"key":"doc","value":{"owner":"x"}}}]' > "$dir/readonly-status"
check "a native actor's state write is 403 ERR_ACTOR_STATE_READONLY" \
  bash -c "[ \$(cat '$dir/readonly-status') = 403 ] && jq -e '.errorCode==\"ERR_ACTOR_STATE_READONLY\"' '$dir/readonly' >/dev/null"
check "... and the task's document is as it was" json '.title=="via dapr"' -H 'dapr-api-token: s3cret' "$a/TaskActor/d1/state/doc"
check "stops cleanly (token)" stop
finish
