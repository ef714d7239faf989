#!/usr/bin/env bash
# task_api_test.sh — the Task API against a real vactord with a real HTTP
# client (curl, jq): every route and its error paths; tasks with history,
# members, If-Match updates, delete; preferences; reminders on a task
# firing into the history and the owner's chat; the chat assistant (built
# in, then against a fake model that the test starts: tool calls, a slow
# model's timeout, a failing one); 10,000 users at once and one shared
# task with no lost update (many_users.py); idle deactivation seen in
# /metrics with the state intact; and a restart that keeps everything.
# Usage: task_api_test.sh PATH_TO_VACTORD
vactord="$1"
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
say() { curl -s -X POST "$u/$1/chat" -d "$(jq -n --arg m "$2" '{message:$m}')"; }

check "starts" start --idle-timeout 1
u="$url/v1/users"

# Tasks: create, read, list with filters.
check "PUT creates (201)" test "$(status -X PUT "$u/ann/tasks/plan" -d '{"title":"Plan the trip","priority":"high","due":"2030-01-02T10:00:00Z","members":["ben"]}')" = 201
check "the task as created" json '.id=="plan" and .owner=="ann" and .status=="open" and .priority=="high" and .version==1 and .members==["ben"] and .minutes==0' "$u/ann/tasks/plan"
check "ETag is the version" bash -c "curl -si $u/ann/tasks/plan | grep -qi '^etag: \"1\"'"
loc=$(curl -si -X POST "$u/ann/tasks" -d '{"title":"Buy milk"}' | tr -d '\r' | awk 'tolower($1)=="location:" {print $2}')
check "POST creates with a generated id (Location)" test -n "$loc"
check "the generated task reads back" json '.title=="Buy milk"' "$url$loc"
milk=${loc##*/}
check "PUT again is 409" test "$(status -X PUT "$u/ann/tasks/plan" -d '{"title":"x"}')" = 409
check "create without title is 400" json '.errorCode=="ERR_BAD_REQUEST" and (.message|test("title"))' -X PUT "$u/ann/tasks/x1" -d '{}'
check "bad priority is 400" json '.message|test("priority")' -X PUT "$u/ann/tasks/x1" -d '{"title":"a","priority":"meh"}'
check "bad due is 400" test "$(status -X PUT "$u/ann/tasks/x1" -d '{"title":"a","due":"soon"}')" = 400
check "unknown field is 400" test "$(status -X PUT "$u/ann/tasks/x1" -d '{"title":"a","colour":"red"}')" = 400
check "wrong type is 400" test "$(status -X PUT "$u/ann/tasks/x1" -d '{"title":5}')" = 400
check "bad JSON is 400" json '.errorCode=="ERR_MALFORMED_JSON"' -X PUT "$u/ann/tasks/x1" -d '{"title":'
check "a JSON array is 400" test "$(status -X PUT "$u/ann/tasks/x1" -d '[1]')" = 400
check "the list has both tasks" json '.count==2 and ([.tasks[].id]|sort)==(["plan","'"$milk"'"]|sort)' "$u/ann/tasks"
check "list ?priority=high" json '.count==1 and .tasks[0].id=="plan"' "$u/ann/tasks?priority=high"
check "list ?q=MILK (case-insensitive title search)" json '.count==1 and .tasks[0].title=="Buy milk"' "$u/ann/tasks?q=MILK"
check "list ?q=plan%20the (encoded)" json '.count==1' "$u/ann/tasks?q=plan%20the"
check "list ?role=member for ben" json '.count==1 and .tasks[0].id=="ann:plan"' "$u/ben/tasks?role=member"
check "unknown query parameter is 400" json '.errorCode=="ERR_BAD_QUERY"' "$u/ann/tasks?colour=red"
check "bad encoding is 400" test "$(status "$u/ann/tasks?q=%zz")" = 400

# Access: owner and members only.
check "a member reads it" test "$(status "$u/ben/tasks/ann:plan")" = 200
check "anyone else gets 404" json '.errorCode=="ERR_TASK_NOT_FOUND"' "$u/cat/tasks/ann:plan"
check "anyone else cannot log (404)" test "$(status -X POST "$u/cat/tasks/ann:plan/log" -d '{"minutes":5}')" = 404

# Updates with If-Match.
check "PATCH with the right If-Match" json '.title=="Plan the holiday" and .version==2' -X PATCH -H 'If-Match: "1"' "$u/ann/tasks/plan" -d '{"title":"Plan the holiday"}'
check "PATCH with a stale If-Match is 412" json '.errorCode=="ERR_VERSION_MISMATCH"' -X PATCH -H 'If-Match: "1"' "$u/ann/tasks/plan" -d '{"title":"lost"}'
check "the stale update changed nothing" json '.title=="Plan the holiday"' "$u/ann/tasks/plan"
check "a bad If-Match is 400" test "$(status -X PATCH -H 'If-Match: yes' "$u/ann/tasks/plan" -d '{"title":"x"}')" = 400
check "a member may update (no If-Match)" json '.status=="in_progress" and .version==3' -X PATCH "$u/ben/tasks/ann:plan" -d '{"status":"in_progress"}'
check "PATCH may not change the owner" test "$(status -X PATCH "$u/ann/tasks/plan" -d '{"owner":"cat"}')" = 400
check "the lists see the update" json '.tasks[0].status=="in_progress"' "$u/ben/tasks"
check "log time" json '.minutes==30' -X POST "$u/ann/tasks/plan/log" -d '{"minutes":30}'
check "a member logs time" json '.minutes==45' -X POST "$u/ben/tasks/ann:plan/log" -d '{"minutes":15}'
check "minutes 0 is 400" test "$(status -X POST "$u/ann/tasks/plan/log" -d '{"minutes":0}')" = 400
check "minutes as a string is 400" test "$(status -X POST "$u/ann/tasks/plan/log" -d '{"minutes":"5"}')" = 400
check "complete" json '.status=="done" and .version==4' -X POST "$u/ann/tasks/plan/complete"
check "list ?status=done" json '.count==1 and .tasks[0].id=="plan"' "$u/ann/tasks?status=done"

# Members.
check "members" json '.owner=="ann" and .members==["ben"]' "$u/ben/tasks/ann:plan/members"
check "the owner adds a member" json '.members==["ben","cat"]' -X PUT "$u/ann/tasks/plan/members/cat"
check "the new member sees it" test "$(status "$u/cat/tasks/ann:plan")" = 200
check "the new member's list has it" json '.count==1' "$u/cat/tasks"
check "a member may not add members (403)" json '.errorCode=="ERR_FORBIDDEN"' -X PUT "$u/ben/tasks/ann:plan/members/dan"
check "the owner removes a member" json '.members==["ben"]' -X DELETE "$u/ann/tasks/plan/members/cat"
check "the removed member gets 404" test "$(status "$u/cat/tasks/ann:plan")" = 404
check "and their list forgot it" json '.count==0' "$u/cat/tasks"
check "removing a non-member is 404" test "$(status -X DELETE "$u/ann/tasks/plan/members/zed")" = 404

# History.
check "history records each change" json '[.entries[].action]==["created","updated","updated","completed","member_added","member_removed"] and .total==6' "$u/ann/tasks/plan/history"
check "history pages (?limit=2)" json '[.entries[].action]==["member_added","member_removed"]' "$u/ann/tasks/plan/history?limit=2"
check "history ?limit=x is 400" test "$(status "$u/ann/tasks/plan/history?limit=x")" = 400

# Delete.
check "a member may not delete (403)" test "$(status -X DELETE "$u/ben/tasks/ann:plan")" = 403
check "delete with a stale If-Match is 412" test "$(status -X DELETE -H 'If-Match: "7"' "$u/ann/tasks/$milk")" = 412
check "the owner deletes (204)" test "$(status -X DELETE "$u/ann/tasks/$milk")" = 204
check "a deleted task is 404" test "$(status "$u/ann/tasks/$milk")" = 404
check "and left the list" json '.count==1' "$u/ann/tasks"
check "its id can be used again" test "$(status -X PUT "$u/ann/tasks/$milk" -d '{"title":"again"}')" = 201

# Bad routes and ids.
check "unknown route under a user is 404" test "$(status "$u/ann/nothing")" = 404
check "wrong method is 405" json '.errorCode=="ERR_METHOD_NOT_ALLOWED"' -X POST "$u/ann/tasks/plan"
check "id with %00 is 400" json '.errorCode=="ERR_BAD_ID"' "$u/ann/tasks/pl%00an"
check "id with %2F is 400" test "$(status "$u/ann/tasks/a%2Fb")" = 400
check "an id with / is another route (404)" test "$(status "$u/ann/tasks/a/b/c/d/e")" = 404
check "129-character id is 400" test "$(status "$u/ann/tasks/$(head -c 129 /dev/zero | tr '\0' t)")" = 400
check "empty segment is 404" test "$(status "$u/ann//tasks")" = 404

# Preferences.
check "default time zone is UTC" json '.timeZone=="UTC"' "$u/ann/preferences"
check "set time zone" json '.timeZone=="+02:00"' -X PUT "$u/ann/preferences" -d '{"timeZone":"+02:00"}'
check "bad time zone is 400" json '.message|test("timeZone")' -X PUT "$u/ann/preferences" -d '{"timeZone":"Mars/Base"}'
check "named time zone" json '.timeZone=="Europe/Berlin"' -X PUT "$u/bea/preferences" -d '{"timeZone":"Europe/Berlin"}'
check "named time zone kept" json '.timeZone=="Europe/Berlin"' "$u/bea/preferences"
# The assistant reads times in it, daylight saving included: tomorrow at
# 10:00 in Berlin, whatever the season (Python's zoneinfo says when).
berlin_10=$(python3 -c 'import datetime as d, zoneinfo as z
b = z.ZoneInfo("Europe/Berlin"); t = d.datetime.now(b) + d.timedelta(days=1)
print(t.replace(hour=10, minute=0, second=0, microsecond=0).astimezone(d.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"))')
check "chat in Berlin: due tomorrow at 10:00 is 10:00 Berlin time" bash -c "$(declare -f say); u=$u
  say bea 'add call the bank due tomorrow at 10:00' >/dev/null &&
  curl -s '$u/bea/tasks' | jq -e --arg at '$berlin_10' '.tasks[0].due | startswith(\$at)' >/dev/null"
check "an offset past 14:59 is 400" test "$(status -X PUT "$u/bea/preferences" -d '{"timeZone":"+15:00"}')" = 400
check "unknown preference is 400" test "$(status -X PUT "$u/ann/preferences" -d '{"shoe":42}')" = 400

# Reminders on a task: fire into the history and the chat of who set it
# (here ben, a member).
check "set a reminder (204)" test "$(status -X PUT "$u/ben/tasks/ann:plan/reminders/pack" -d '{"dueTime":"1s","message":"pack the bags"}')" = 204
check "read the reminder" json '.name=="pack" and .dueTime=="1s" and .message=="pack the bags"' "$u/ann/tasks/plan/reminders/pack"
check "bad dueTime is 400" test "$(status -X PUT "$u/ann/tasks/plan/reminders/x" -d '{"dueTime":"someday"}')" = 400
check "a stranger cannot set one (404)" test "$(status -X PUT "$u/cat/tasks/ann:plan/reminders/x" -d '{"dueTime":"1h"}')" = 404
check "set and delete another" test "$(status -X PUT "$u/ann/tasks/plan/reminders/later" -d '{"dueTime":"1h","period":"PT1H"}')$(status -X DELETE "$u/ann/tasks/plan/reminders/later")" = 204204
check "a deleted reminder is 404" test "$(status "$u/ann/tasks/plan/reminders/later")" = 404
fired() { for _ in $(seq 60); do curl -s "$u/ben/chat" | jq -e '.messages|map(select(.reminder=="pack"))|length==1' >/dev/null && return 0; sleep 0.1; done; return 1; }
check "the reminder reached the chat of ben, who set it" fired
check "the chat message names the task" json '.messages[-1].text|test("Plan the holiday.*pack the bags")' "$u/ben/chat"
check "... and not the owner's" json '.messages|map(select(.reminder=="pack"))|length==0' "$u/ann/chat"
# (The chat hears of the fire by a one-way send from the fire's turn, which
# may still be saving its history entry then.)
recorded() { for _ in $(seq 100); do curl -s "$u/ann/tasks/plan/history" | jq -e '.entries[-1].action=="reminder" and .entries[-1].name=="pack"' >/dev/null && return 0; sleep 0.1; done; return 1; }
check "the history recorded it" recorded
check "a fired one-shot reminder is gone" test "$(status "$u/ann/tasks/plan/reminders/pack")" = 404

# The built-in assistant.
check "chat: help" bash -c "$(declare -f say); u=$u; say eve help | jq -e '.reply|test(\"remind me\")' >/dev/null"
check "chat: add with a due time" bash -c "$(declare -f say); u=$u; say eve 'add water the plants due tomorrow at 18:00' | jq -e '.actions[0].op==\"add\" and (.reply|test(\"water the plants\"))' >/dev/null"
check "chat: the task exists, due tomorrow" json '.count==1 and .tasks[0].title=="water the plants" and (.tasks[0].due|test("T18:00:00"))' "$u/eve/tasks"
check "chat: list" bash -c "$(declare -f say); u=$u; say eve 'list my tasks' | jq -e '.actions[0].count==1 and (.reply|test(\"water the plants\"))' >/dev/null"
check "chat: log time by title" bash -c "$(declare -f say); u=$u; say eve 'log 25 minutes on plants' | jq -e '.actions[0].op==\"log\" and .actions[0].minutes==25' >/dev/null"
check "chat: complete by title" bash -c "$(declare -f say); u=$u; say eve 'complete water the plants' | jq -e '.actions[0].op==\"complete\"' >/dev/null"
check "chat: the task is done with 25 minutes" json '.tasks[0].status=="done"' "$u/eve/tasks?status=done"
check "chat: remind me in N minutes" bash -c "$(declare -f say); u=$u; say eve 'remind me in 10 minutes to stretch' | jq -e '.actions[0].op==\"remind\" and (.reply|test(\"stretch\"))' >/dev/null"
check "chat: remind me at 17:00" bash -c "$(declare -f say); u=$u; say eve 'remind me at 17:00 to leave' | jq -e '.actions[0].op==\"remind\"' >/dev/null"
check "chat: nonsense gets a clear answer" bash -c "$(declare -f say); u=$u; say eve 'flibber' | jq -e '(.reply|test(\"did not understand\")) and .actions==[]' >/dev/null"
check "chat: the history pages" json '.total==16 and (.messages|length)==2 and .messages[0].role=="user"' "$u/eve/chat?limit=2"
check "chat: a long message of many-byte characters is cut between them" bash -c "$(declare -f say); u=$u; say eve \"add x\$(printf 'é%.0s' \$(seq 150))\" | jq -e '.actions[0].op==\"add\"' >/dev/null"
check "chat: it is private" json '.total==0' "$u/zed/chat"
check "chat: empty message is 400" test "$(status -X POST "$u/eve/chat" -d '{"message":""}')" = 400
check "chat: a number is 400" test "$(status -X POST "$u/eve/chat" -d '{"message":5}')" = 400

# Many users at once, and one shared task (no lost update).
check "10,000 users at once, and a shared task: no lost update" python3 "$here/many_users.py" "$port" 10000 2 32

# Idle deactivation (--idle-timeout 1): visible in /metrics, state intact.
active() { curl -s "$url/metrics" | awk '$1=="vactor_active_actors" {print $2}'; }
idle() { for _ in $(seq 100); do [ "$(active)" -lt 100 ] && return 0; sleep 0.1; done; return 1; }
check "20,000 actors were activated" bash -c "curl -s $url/metrics | awk '\$1==\"vactor_activations_total\" && \$2 > 20000 {ok=1} END {exit !ok}'"
check "idle actors leave memory" idle
check "deactivations are counted" bash -c "curl -s $url/metrics | awk '\$1==\"vactor_deactivations_total\" && \$2 > 10000 {ok=1} END {exit !ok}'"
check "metrics: active actors by type" bash -c "curl -s $url/metrics | grep -q '^vactor_active_actors_by_type{type=\"TaskActor\"}'"
check "metrics: reminders fired" bash -c "curl -s $url/metrics | awk '\$1==\"vactor_reminders_fired_total\" && \$2 >= 1 {ok=1} END {exit !ok}'"
check "state intact after deactivation" json '.minutes==6' "$u/mu42/tasks/mt42"
check "the shared task too" json '.minutes==1220' "$u/boss/tasks/shared"

# A restart keeps everything.
check "stops cleanly (exit 0)" stop
check "restarts" start
check "tasks survive" json '.title=="Plan the holiday" and .minutes==45 and .version==6' "$u/ann/tasks/plan"
check "lists survive" json '.count==2' "$u/eve/tasks"
check "preferences survive" json '.timeZone=="+02:00"' "$u/ann/preferences"
check "chat survives" json '.total==18' "$u/eve/chat"
check "history survives" json '.total==10' "$u/ann/tasks/plan/history"
check "stops cleanly again" stop

# The model: tool calls, a slow one, a failing one.
llm_port=$(free_port)
python3 "$here/fake_llm.py" "$llm_port" k3y &
also_kill=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$llm_port/" && break; sleep 0.1; done
check "starts with a model" start --llm-url "http://127.0.0.1:$llm_port/v1/chat/completions" --llm-model fake-model --llm-key k3y --llm-timeout 1000 --chat-history 20
check "model: a tool call adds a task, and the model words the result" bash -c "$(declare -f say); u=$u; say fay 'add learn go' | jq -e '.via==\"model\" and .actions[0].op==\"add\" and (.reply|test(\"^All done: Added .learn go. \\\\(task t\"))' >/dev/null"
check "model: its second answer failing, the result is the reply" bash -c "$(declare -f say); u=$u; say fay 'add quietly rest' | jq -e '.via==\"model\" and .actions[0].op==\"add\" and (.reply|test(\"^Added .quietly rest.\"))' >/dev/null"
check "model: the tasks exist" json '[.tasks[].title] == ["learn go","quietly rest"]' "$u/fay/tasks"
check "model: a list of what is due today, in the user's day" bash -c "$(declare -f say); u=$u; say fay 'due today' | jq -e '.actions[0].op==\"list\" and .actions[0].count==0 and (.reply|test(\"^All done: You have no tasks due from \"))' >/dev/null"
check "model: deleting a task by its title" bash -c "$(declare -f say); u=$u; say fay 'delete quietly rest' | jq -e '.actions[0].op==\"delete\" and (.reply|test(\"^All done: Deleted task t\"))' >/dev/null"
check "model: ... it is gone" json '[.tasks[].title] == ["learn go"]' "$u/fay/tasks"
check "model: plain text" bash -c "$(declare -f say); u=$u; say fay 'hello' | jq -e '.via==\"model\" and .reply==\"echo: hello\"' >/dev/null"
check "model: too slow, the built-in assistant answers" bash -c "$(declare -f say); u=$u; say fay 'slow list' | jq -e '.via==\"built-in\" and (.reply|test(\"did not answer in time\"))' >/dev/null"
# Served meanwhile: another request, sent while the model keeps the chat
# waiting (up to --llm-timeout), is answered before the chat is (an order,
# not a time: a loaded machine may be slow at both).
check "model: meanwhile others are served" bash -c "$(declare -f say); u=$u
  ( say fay 'slow help' >/dev/null; date +%s%N > '$dir/slow.done' ) & sleep 0.1
  curl -s $u/ann/tasks >/dev/null; date +%s%N > '$dir/fast.done'; wait
  [ \$(cat '$dir/fast.done') -lt \$(cat '$dir/slow.done') ]"
check "model: failing, the built-in assistant answers" bash -c "$(declare -f say); u=$u; say fay 'fail list' | jq -e '.via==\"built-in\" and (.reply|test(\"failed\"))' >/dev/null"
check "model failures are logged, one line each" bash -c "grep -q 'msg=\"model failed\" status=0 error=VA_ETIMEDOUT' '$dir/log' && grep 'msg=\"model failed\"' '$dir/log' | grep -q 'status=5[0-9][0-9] error=VA_EFAILED'"
for i in $(seq 12); do say fay "help" >/dev/null; done
check "chat history is bounded (--chat-history 20), the count kept" json '.total>=30 and .kept==20 and (.messages|length)==20' "$u/fay/chat?limit=100"
check "SIGTERM with a model: exit 0" stop
# A model allowed 59 s, with the call timeout 60 s: no time is left for a
# second request after a tool call, so the result is the reply at once.
check "starts with a model that may take 59 s" start --llm-url "http://127.0.0.1:$llm_port/v1/chat/completions" --llm-model fake-model --llm-key k3y --llm-timeout 59000
check "model: no second request past the call's time" bash -c "$(declare -f say); u=$u; say fay 'add one more' | jq -e '.via==\"model\" and .actions[0].op==\"add\" and (.reply|test(\"^Added .one more.\"))' >/dev/null"
check "stops" stop
finish
