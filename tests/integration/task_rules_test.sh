#!/usr/bin/env bash
# task_rules_test.sh — the Task API has no surprises, as a black box (curl,
# jq, python3): limits count characters, not bytes; a query parameter is
# checked as the same field is in a body and an error names it; log
# refuses what it does not take; a missing reminder or member and the
# owner named as a member each get their own answer; a member can leave a
# task; a member's reminder goes to the member's chat; the assistant says
# when a title is too long instead of cutting it; the reminders asked for
# in the chat are listed and cancelled through the Task API; lists sort
# (due, priority, updated), page by cursor and filter by due time and
# tag; the assistant completes the open task a title names, asks which
# when several fit, and reads a command word one edit off; task names are
# per owner, and tasks stored under the old global ids stay reachable;
# the assistant reads dates as people write them (and says when it cannot),
# renames, moves, deletes, lists what is overdue, lists and cancels reminders.
# Usage: task_rules_test.sh PATH_TO_VACTORD
vactord="$1"
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"

check "starts" start
u="$url/v1/users"
# code STATUS ERRORCODE CURL-ARGS...: the answer has both (body in $dir/body).
code() {
  local want="$1" err="$2"; shift 2
  [ "$(curl -s -o "$dir/body" -w '%{http_code}' "$@")" = "$want" ] &&
    jq -e --arg e "$err" '.errorCode==$e' "$dir/body" >/dev/null
}
says() { grep -q -- "$1" "$dir/body"; } # the last answer's body holds it
repeat() { python3 -c "import sys; print(sys.argv[1] * int(sys.argv[2]), end='')" "$1" "$2"; }

# ---- Characters, not bytes ----
check "a title of 200 'é' (400 bytes) is one" test "$(status -X PUT "$u/ann/tasks/e1" -d "{\"title\":\"$(repeat é 200)\"}")" = 201
check "... and reads back whole" json '.title | length == 200' "$u/ann/tasks/e1"
check "201 'é' are one too many" code 400 ERR_BAD_REQUEST -X PUT "$u/ann/tasks/e2" -d "{\"title\":\"$(repeat é 201)\"}"
check "... saying so in characters" says "1-200 characters"
check "a chat message of 1000 '€' (3000 bytes) is one" test "$(status -X POST "$u/ann/chat" -d "{\"message\":\"$(repeat € 1000)\"}")" = 200
check "... and 1001 are not" code 400 ERR_BAD_REQUEST -X POST "$u/ann/chat" -d "{\"message\":\"$(repeat € 1001)\"}"
check "... kept whole in the chat" json '[.messages[] | select(.role=="user") | .text | length] | index(1000) != null' "$u/ann/chat?limit=10"
before=$(curl -s "$u/ann/tasks" | jq .count)
check "the assistant says a title is too long instead of cutting it" \
  json '.reply | test("at most 200 characters")' -X POST "$u/ann/chat" -d "{\"message\":\"add $(repeat ü 250)\"}"
curl -s "$u/ann/tasks" > "$dir/after"
quiet() { "$@" >/dev/null; }
check "... and adds nothing" quiet jq -e --argjson n "$before" '.count == $n and ([.tasks[].title | test("ü")] | any | not)' "$dir/after"
check "a text too long even to read as one is said to be, not cut" \
  json '.reply | test("I did nothing")' -X POST "$u/ann/chat" -d "{\"message\":\"remind me in 1 hour to $(repeat x 900)\"}"
check "... and sets no reminder" json '.reminders == []' "$u/ann/reminders"
check "the ids . and .. are refused" test "$(status --path-as-is "$u/ann/tasks/.")$(status --path-as-is "$u/ann/tasks/..")" = 400400

# ---- Queries: checked as bodies are, errors name the parameter ----
check "?status=bogus is a 400" code 400 ERR_BAD_QUERY "$u/ann/tasks?status=bogus"
check "... with the body's message" says "status must be open, in_progress or done"
check "?priority=huge is a 400" code 400 ERR_BAD_QUERY "$u/ann/tasks?priority=huge"
check "?role=boss is a 400" code 400 ERR_BAD_QUERY "$u/ann/tasks?role=boss"
check "?status=done is fine" test "$(status "$u/ann/tasks?status=done")" = 200
check "a value that is not UTF-8 is a 400, not ignored" code 400 ERR_BAD_QUERY "$u/ann/tasks?status=%FF"
check "... and so is one over 1023 bytes" code 400 ERR_BAD_QUERY "$u/ann/tasks?q=$(repeat a 1500)"
check "an unknown parameter is named" code 400 ERR_BAD_QUERY "$u/ann/tasks?colour=red"
check "... as colour" says "colour"
check "a badly encoded one is named" code 400 ERR_BAD_QUERY "$u/ann/tasks?q=%zz"
check "... as q" says "parameter q is badly"
check "chat?limit=0 is a 400, not 50" code 400 ERR_BAD_QUERY "$u/ann/chat?limit=0"
check "... naming limit" says "limit must be"
check "chat?limit=1001 is a 400" code 400 ERR_BAD_QUERY "$u/ann/chat?limit=1001"
check "chat?limit=1 is one message" json '.messages | length == 1' "$u/ann/chat?limit=1"
check "history?limit=0 is a 400" code 400 ERR_BAD_QUERY "$u/ann/tasks/e1/history?limit=0"

# ---- log takes minutes, only ----
check "log with an unknown field is a 400" code 400 ERR_BAD_REQUEST -X POST "$u/ann/tasks/e1/log" -d '{"minutes":5,"note":"x"}'
check "... saying which it takes" says "minutes only"
check "log with a query is a 400" code 400 ERR_BAD_QUERY -X POST "$u/ann/tasks/e1/log?x=1" -d '{"minutes":5}'
check "nothing was logged by either" json '.minutes == 0' "$u/ann/tasks/e1"
check "log itself works" json '.minutes == 5' -X POST "$u/ann/tasks/e1/log" -d '{"minutes":5}'

# ---- Errors that say what is wrong ----
check "a shared task" test "$(status -X PUT "$u/ann/tasks/trip" -d '{"title":"Trip","members":["ben","cat"]}')" = 201
check "a missing reminder is ERR_REMINDER_NOT_FOUND" code 404 ERR_REMINDER_NOT_FOUND "$u/ann/tasks/trip/reminders/nope"
check "... to delete too" code 404 ERR_REMINDER_NOT_FOUND -X DELETE "$u/ann/tasks/trip/reminders/nope"
check "a missing task is still ERR_TASK_NOT_FOUND" code 404 ERR_TASK_NOT_FOUND "$u/ann/tasks/nope/reminders/nope"
check "removing a user who is no member is ERR_MEMBER_NOT_FOUND" code 404 ERR_MEMBER_NOT_FOUND -X DELETE "$u/ann/tasks/trip/members/dan"
check "the owner as a member is ERR_OWNER_IS_NOT_A_MEMBER" code 409 ERR_OWNER_IS_NOT_A_MEMBER -X PUT "$u/ann/tasks/trip/members/ann"

# ---- A member leaves ----
check "ben cannot remove cat" code 403 ERR_FORBIDDEN -X DELETE "$u/ben/tasks/ann:trip/members/cat"
check "ben leaves the task" json '.members == ["cat"]' -X DELETE "$u/ben/tasks/ann:trip/members/ben"
check "... it is gone from his list" json '.tasks | map(.id) | index("ann:trip") == null' "$u/ben/tasks"
check "... and he cannot see it" code 404 ERR_TASK_NOT_FOUND "$u/ben/tasks/ann:trip"
check "... the history says he left" json '.entries | map(select(.action=="member_left" and .member=="ben")) | length == 1' "$u/ann/tasks/trip/history"
check "cat is still a member" test "$(status "$u/cat/tasks/ann:trip")" = 200

# ---- A member's reminder goes to the member's chat ----
check "cat sets a reminder" test "$(status -X PUT "$u/cat/tasks/ann:trip/reminders/tickets" -d '{"dueTime":"1s","message":"book tickets"}')" = 204
check "... which says who set it" json '.by == "cat"' "$u/ann/tasks/trip/reminders/tickets"
fired() { for _ in $(seq 100); do curl -s "$u/cat/chat" | jq -e '.messages|map(select(.reminder=="tickets"))|length==1' >/dev/null && return 0; sleep 0.1; done; return 1; }
check "it fires into cat's chat" fired
check "... not ann's" json '.messages|map(select(.reminder=="tickets"))|length==0' "$u/ann/chat?limit=1000"
check "ann's own reminder comes to ann" test "$(status -X PUT "$u/ann/tasks/trip/reminders/mine" -d '{"dueTime":"1s","message":"mine"}')" = 204
fired_ann() { for _ in $(seq 100); do curl -s "$u/ann/chat" | jq -e '.messages|map(select(.reminder=="mine"))|length==1' >/dev/null && return 0; sleep 0.1; done; return 1; }
check "... in ann's chat" fired_ann

# ---- Lists: order, pages, due filters ----
mk() { [ "$(status -X PUT "$u/fay/tasks/$1" -d "$2")" = 201 ]; }
check "fay's tasks" bash -c "$(declare -f mk status); u=$u
  mk a '{\"title\":\"a\",\"priority\":\"low\",\"due\":\"2030-01-03T00:00:00Z\"}' &&
  mk b '{\"title\":\"b\",\"priority\":\"urgent\"}' &&
  mk c '{\"title\":\"c\",\"priority\":\"high\",\"due\":\"2020-01-01T00:00:00Z\"}' &&
  mk d '{\"title\":\"d\",\"due\":\"2030-01-02T00:00:00Z\"}'"
ids() { curl -s "$u/fay/tasks$1" | jq -c '[.tasks[].id]'; }
check "in the order made" test "$(ids '')" = '["a","b","c","d"]'
check "sort=due: soonest first, none last" test "$(ids '?sort=due')" = '["c","d","a","b"]'
check "sort=priority: urgent first" test "$(ids '?sort=priority')" = '["b","c","d","a"]'
check "a change" test "$(status -X PATCH "$u/fay/tasks/a" -d '{"title":"a2"}')" = 200
check "sort=updated: the latest first" test "$(ids '?sort=updated' | jq -r '.[0]')" = a
check "overdue=true: past due, not done" test "$(ids '?overdue=true')" = '["c"]'
check "overdue=false: the others" test "$(ids '?overdue=false')" = '["a","b","d"]'
check "due_before a date" test "$(ids '?due_before=2030-01-02T12:00:00Z')" = '["c","d"]'
check "due_before a duration from now" test "$(ids '?due_before=24h')" = '["c"]'
check "a page of two, with the count of all" json '(.tasks | map(.id)) == ["c","d"] and .count == 4 and (.next | type) == "string"' "$u/fay/tasks?sort=due&limit=2"
next=$(curl -s "$u/fay/tasks?sort=due&limit=2" | jq -r .next)
check "the next page" json '(.tasks | map(.id)) == ["a","b"] and .next == null' "$u/fay/tasks?sort=due&limit=2&cursor=$next"
check "pages in the order made" test "$(curl -s "$u/fay/tasks?limit=3" | jq -c '[.tasks[].id, .next != null]')" = '["a","b","c",true]'
check "a page stays right when a task before it goes" bash -c "
  n=\$(curl -s '$u/fay/tasks?limit=2' | jq -r .next) &&
  [ \$(curl -s -o /dev/null -w '%{http_code}' -X DELETE '$u/fay/tasks/a') = 204 ] &&
  [ \"\$(curl -s '$u/fay/tasks?limit=2&cursor='\$n | jq -c '[.tasks[].id]')\" = '[\"c\",\"d\"]' ]"
check "sort=name is a 400" code 400 ERR_BAD_QUERY "$u/fay/tasks?sort=name"
check "a made-up cursor is a 400" code 400 ERR_BAD_QUERY "$u/fay/tasks?cursor=abc"
check "overdue=yes is a 400" code 400 ERR_BAD_QUERY "$u/fay/tasks?overdue=yes"
check "due_before=soon is a 400" code 400 ERR_BAD_QUERY "$u/fay/tasks?due_before=soon"

# ---- Tags ----
check "a task with tags" json '.tags == ["home","urgent-ish"]' -X PUT "$u/gus/tasks/t1" -d '{"title":"paint","tags":["home","urgent-ish"]}'
check "another" test "$(status -X PUT "$u/gus/tasks/t2" -d '{"title":"file taxes","tags":["money"]}')" = 201
check "?tag= keeps the tasks with it" json '[.tasks[].id] == ["t1"] and .tasks[0].tags == ["home","urgent-ish"]' "$u/gus/tasks?tag=home"
check "tags change with PATCH" json '.tags == ["money","home"]' -X PATCH "$u/gus/tasks/t2" -d '{"tags":["money","home"]}'
check "... and the list follows" json '[.tasks[].id] == ["t1","t2"]' "$u/gus/tasks?tag=home"
check "a tag twice is a 400" code 400 ERR_BAD_REQUEST -X PATCH "$u/gus/tasks/t2" -d '{"tags":["a","a"]}'
check "a tag of 33 characters is a 400" code 400 ERR_BAD_REQUEST -X PATCH "$u/gus/tasks/t2" -d "{\"tags\":[\"$(repeat ß 33)\"]}"
check "32 are fine" test "$(status -X PATCH "$u/gus/tasks/t2" -d "{\"tags\":[\"$(repeat ß 32)\"]}")" = 200
check "21 tags are a 400" code 400 ERR_BAD_REQUEST -X PATCH "$u/gus/tasks/t2" -d "{\"tags\":$(python3 -c 'import json; print(json.dumps([str(i) for i in range(21)]))')}"
check "a tag that is not a string is a 400" code 400 ERR_BAD_REQUEST -X PATCH "$u/gus/tasks/t2" -d '{"tags":[1]}'

# ---- The assistant picks the task meant, or asks ----
say() { curl -s -X POST "$u/hal/chat" -d "{\"message\":\"$1\"}" | jq -r .reply; }
check "a done 'buy milk'" test "$(status -X PUT "$u/hal/tasks/m1" -d '{"title":"buy milk","status":"done"}')" = 201
check "an open one" test "$(status -X PUT "$u/hal/tasks/m2" -d '{"title":"buy milk"}')" = 201
check "'done buy milk' completes the open one" bash -c "[[ \"\$($(declare -f say); u=$u; say 'done buy milk')\" == *m2* ]]"
check "... which is done now" json '.status == "done"' "$u/hal/tasks/m2"
check "'done buy milk' again: both are done, it says so" bash -c "[[ \"\$($(declare -f say); u=$u; say 'done buy milk')\" == *'More than one'* ]]"
check "two open tasks that fit" test "$(status -X PUT "$u/hal/tasks/egg1" -d '{"title":"buy eggs"}')$(status -X PUT "$u/hal/tasks/egg2" -d '{"title":"buy eggs and flour"}')" = 201201
check "'done eggs' asks which, naming both" bash -c "r=\"\$($(declare -f say); u=$u; say 'done eggs')\"; [[ \$r == *'Which one'* && \$r == *egg1* && \$r == *egg2* ]]"
check "... and completes neither" json '[.tasks[] | select(.id == "egg1" or .id == "egg2") | .status] == ["open","open"]' "$u/hal/tasks"
check "a done task alone: 'is done already'" bash -c "[[ \"\$($(declare -f say); u=$u; say 'done m1')\" == *'done already'* ]]"
check "'lsit' lists" bash -c "[[ \"\$($(declare -f say); u=$u; say 'lsit')\" == *'buy eggs'* ]]"
check "'ad buy bread' adds" bash -c "[[ \"\$($(declare -f say); u=$u; say 'ad buy bread')\" == *'Added \"buy bread\"'* ]]"

# ---- The assistant reads dates as people write them, and does more ----
ask() { curl -s -X POST "$u/ivy/chat" -d "$(jq -n --arg m "$1" '{message:$m}')" | tee "$dir/said" | jq -r .reply; }
due_of() { curl -s "$u/ivy/tasks" | jq -r --arg t "$1" '.tasks[] | select(.title == $t) | .due'; }
monday=$(python3 -c 'import datetime as d; t = d.datetime.now(d.timezone.utc).date(); print((t + d.timedelta(days=7 - t.weekday())).isoformat())')
check "'add call the dentist next monday at 9am'" bash -c "[[ \"\$($(declare -f ask); u=$u dir=$dir; ask 'add call the dentist next monday at 9am')\" == 'Added \"call the dentist\"'* ]]"
check "... is due next monday at 09:00 (ivy's zone: UTC)" test "$(due_of 'call the dentist')" = "${monday}T09:00:00.000Z"
check "'add pay rent 2030-12-24': a date alone is 09:00" bash -c "$(declare -f ask); u=$u dir=$dir; ask 'add pay rent 2030-12-24' >/dev/null; [ \"\$(curl -s '$u/ivy/tasks' | jq -r '.tasks[] | select(.title == \"pay rent\") | .due')\" = 2030-12-24T09:00:00.000Z ]"
check "'add meet next blursday' says the date is not understood" bash -c "[[ \"\$($(declare -f ask); u=$u dir=$dir; ask 'add meet next blursday')\" == 'I did not understand the date \"next blursday\"'* ]]"
check "... and adds nothing" json '.count == 2' "$u/ivy/tasks"
check "'rename pay rent to pay the rent'" bash -c "[[ \"\$($(declare -f ask); u=$u dir=$dir; ask 'rename pay rent to pay the rent')\" == 'Renamed task t'*' to \"pay the rent\".' ]]"
check "'move pay the rent to 2030-12-26 at 10:00'" bash -c "$(declare -f ask); u=$u dir=$dir; ask 'move pay the rent to 2030-12-26 at 10:00' >/dev/null; [ \"\$(curl -s '$u/ivy/tasks' | jq -r '.tasks[] | select(.title == \"pay the rent\") | .due')\" = 2030-12-26T10:00:00.000Z ]"
check "a task past due" test "$(status -X PUT "$u/ivy/tasks/bill" -d '{"title":"old bill","due":"2020-01-01T00:00:00Z"}')" = 201
check "'what is overdue?' names it alone" bash -c "[[ \"\$($(declare -f ask); u=$u dir=$dir; ask 'what is overdue?')\" == 'You have 1 overdue task: 1. old bill (bill, open, due 2020-01-01 00:00 UTC)' ]]"
check "'clear the due date of old bill'" bash -c "[[ \"\$($(declare -f ask); u=$u dir=$dir; ask 'clear the due date of old bill')\" == 'Task bill has no due time now.' ]]"
check "... then nothing is overdue" bash -c "[[ \"\$($(declare -f ask); u=$u dir=$dir; ask 'what is overdue?')\" == 'You have no overdue tasks.' ]]"
check "'delete call the dentist'" bash -c "[[ \"\$($(declare -f ask); u=$u dir=$dir; ask 'delete call the dentist')\" == 'Deleted task t'* ]] && jq -e '.actions[0].op == \"delete\"' '$dir/said' >/dev/null"
check "... it is gone" json '[.tasks[].title] | sort == ["old bill","pay the rent"]' "$u/ivy/tasks"
check "two reminders asked for" bash -c "$(declare -f ask); u=$u dir=$dir; ask 'remind me in 2 hours to call Ben' >/dev/null && ask 'remind me in 3 hours to water the plants' >/dev/null"
check "'list reminders' lists them soonest first" bash -c "[[ \"\$($(declare -f ask); u=$u dir=$dir; ask 'list reminders')\" == 'You have 2 reminders: 1. call Ben at '*' 2. water the plants at '* ]]"
check "'cancel reminder 2' cancels the second" bash -c "[[ \"\$($(declare -f ask); u=$u dir=$dir; ask 'cancel reminder 2')\" == 'Cancelled the reminder to water the plants.' ]]"
check "... the Task API lists the first alone" json '[.reminders[].text] == ["call Ben"]' "$u/ivy/reminders"
check "'cancel the reminder to call ben' by its words" bash -c "[[ \"\$($(declare -f ask); u=$u dir=$dir; ask 'cancel the reminder to call ben')\" == 'Cancelled the reminder to call Ben.' ]]"
check "... none left" json '.reminders == []' "$u/ivy/reminders"
check "100 reminders asked for: each set" bash -c "for i in \$(seq 100); do curl -s -X POST '$u/kim/chat' -d '{\"message\":\"remind me in 5 hours to do '\$i'\"}' | jq -e '.actions[0].op == \"remind\"' >/dev/null || exit 1; done"
check "... the 101st is refused, saying why" json '(.reply | test("the most I keep")) and .actions == []' -X POST "$u/kim/chat" -d '{"message":"remind me in 5 hours to do more"}'
check "... and is not kept" json '.reminders | length == 100' "$u/kim/reminders"

# ---- Reminders made in the chat, through the Task API ----
check "a reminder asked for in the chat" json '.reply | test("remind you")' -X POST "$u/dan/chat" -d '{"message":"remind me in 2 hours to call Ben"}'
check "... is listed" json '.reminders | length == 1 and .[0].text == "call Ben" and (.[0].name | startswith("chat-"))' "$u/dan/reminders"
name=$(curl -s "$u/dan/reminders" | jq -r '.reminders[0].name')
check "... and cancelled" test "$(status -X DELETE "$u/dan/reminders/$name")" = 204
check "... then the list is empty" json '.reminders == []' "$u/dan/reminders"
check "cancelling it again is ERR_REMINDER_NOT_FOUND" code 404 ERR_REMINDER_NOT_FOUND -X DELETE "$u/dan/reminders/$name"
check "a user with none lists none" json '.reminders == []' "$u/eve/reminders"

# ---- Task names are per owner ----
check "cat makes a task trip, though ann has one: 201" test "$(status -X PUT "$u/cat/tasks/trip" -d '{"title":"Cat trip"}')" = 201
check "... it is cat's" json '.owner == "cat" and .id == "trip" and .title == "Cat trip"' "$u/cat/tasks/trip"
check "... ann's is unchanged" json '.owner == "ann" and .id == "trip" and .title == "Trip"' "$u/ann/tasks/trip"
check "cat, a member of ann's, calls it ann:trip" json '.owner == "ann" and .id == "ann:trip"' "$u/cat/tasks/ann:trip"
check "cat's list has both, each by the id she calls it" json '[.tasks[].id] | sort == ["ann:trip","trip"]' "$u/cat/tasks"
check "cat's chat completes ann's Trip by its title, naming it ann:trip" json '.reply | test("ann:trip")' -X POST "$u/cat/chat" -d '{"message":"done Trip"}'
check "... which is done" json '.status == "done"' "$u/ann/tasks/trip"
check "... and cat's own trip is not" json '.status == "open"' "$u/cat/tasks/trip"
check "a stranger naming ann:trip hears what a missing task says" code 404 ERR_TASK_NOT_FOUND "$u/dan/tasks/ann:trip"
cp "$dir/body" "$dir/stranger"
curl -s -o "$dir/missing" "$u/dan/tasks/ann:nope"
check "... byte for byte" cmp -s "$dir/stranger" "$dir/missing"
check "no one makes a task under another owner's name" code 400 ERR_BAD_ID -X PUT "$u/cat/tasks/ann:plan" -d '{"title":"x"}'
check "... and ann has no plan" code 404 ERR_TASK_NOT_FOUND "$u/ann/tasks/plan"
check "ann:own in ann's path is ann's own name" test "$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -X PUT "$u/ann/tasks/ann:own" -d '{"title":"own"}')" = "201 "
check "... own" json '.id == "own"' "$u/ann/tasks/own"
check "POST names the task for its owner" bash -c "curl -s -D '$dir/h' -o '$dir/b' -X POST '$u/cat/tasks' -d '{\"title\":\"posted\"}' &&
  id=\$(jq -r .id '$dir/b') && [[ \$id == t* && \$id != *:* ]] &&
  tr -d '\r' < '$dir/h' | grep -qix \"location: /v1/users/cat/tasks/\$id\" &&
  [ \$(curl -s -o /dev/null -w '%{http_code}' '$u/cat/tasks/'\$id) = 200 ]"
check "an id of three parts is a 400" code 400 ERR_BAD_ID "$u/cat/tasks/a:b:c"
check "... and an empty owner" code 400 ERR_BAD_ID "$u/cat/tasks/:trip"

# ---- Tasks stored before names were per owner ----
# Their TaskActor ids are the names alone ("old1"), as the Dapr API still
# makes them: they stay readable and writable under the names people knew.
check "a task with a legacy id (made through the Dapr API)" json '.id == "old1" and .members == ["ben"]' -X POST "$url/v1.0/actors/TaskActor/old1/method/create" -d '{"user":"ann","title":"from before","members":["ben"]}'
check "ann reads it by its name" json '.id == "old1" and .title == "from before"' "$u/ann/tasks/old1"
check "... ben, a member, too" json '.id == "old1" and .owner == "ann"' "$u/ben/tasks/old1"
check "... both lists show it as old1" bash -c "curl -s '$u/ann/tasks' | jq -e '[.tasks[].id] | index(\"old1\") != null' >/dev/null && curl -s '$u/ben/tasks' | jq -e '[.tasks[].id] | index(\"old1\") != null' >/dev/null"
check "ann changes it" json '.title == "still here" and .version == 2' -X PATCH "$u/ann/tasks/old1" -d '{"title":"still here"}'
check "ben logs on it" json '.minutes == 7' -X POST "$u/ben/tasks/old1/log" -d '{"minutes":7}'
check "ann sets it a reminder" test "$(status -X PUT "$u/ann/tasks/old1/reminders/r" -d '{"dueTime":"1h"}')" = 204
check "... which is its own" json '.reminders | map(.name) == ["r"]' "$url/v1/users/ann/tasks/old1/reminders"
check "a stranger still finds nothing" code 404 ERR_TASK_NOT_FOUND "$u/dan/tasks/old1"
check "ann cannot make another old1 (she would call both so): 409" code 409 ERR_TASK_EXISTS -X PUT "$u/ann/tasks/old1" -d '{"title":"x"}'
check "... nor can ben" code 409 ERR_TASK_EXISTS -X PUT "$u/ben/tasks/old1" -d '{"title":"x"}'
check "... cat can" test "$(status -X PUT "$u/cat/tasks/old1" -d '{"title":"cat old"}')" = 201
check "... and ann's is still the one ann sees" json '.title == "still here" and .minutes == 7' "$u/ann/tasks/old1"
check "ann deletes it" test "$(status -X DELETE "$u/ann/tasks/old1")" = 204
check "... it is gone for ben" code 404 ERR_TASK_NOT_FOUND "$u/ben/tasks/old1"
check "... and off both lists" bash -c "curl -s '$u/ann/tasks' | jq -e '[.tasks[].id] | index(\"old1\") == null' >/dev/null && curl -s '$u/ben/tasks' | jq -e '[.tasks[].id] | index(\"old1\") == null' >/dev/null"
check "... so ann may use the name again" test "$(status -X PUT "$u/ann/tasks/old1" -d '{"title":"new one"}')" = 201
check "... which has the new id" json '.id == "old1" and .title == "new one" and .minutes == 0' "$u/ann/tasks/old1"
check "ben has a task old3 of his own" test "$(status -X PUT "$u/ben/tasks/old3" -d '{"title":"bens own"}')" = 201
check "a legacy old3 of ann's" test "$(status -X POST "$url/v1.0/actors/TaskActor/old3/method/create" -d '{"user":"ann","title":"shared before"}')" = 200
check "... cannot take ben as a member (he would call both old3): 409" code 409 ERR_TASK_EXISTS -X PUT "$u/ann/tasks/old3/members/ben"
check "... and ben's old3 is his own still" json '.title == "bens own" and .owner == "ben"' "$u/ben/tasks/old3"
check "... nor in his list twice" json '[.tasks[] | select(.id == "old3")] | length == 1' "$u/ben/tasks"

check "stops" stop
finish
