#!/usr/bin/env bash
# dapr_app_test.sh — an app behind vactord (--app-port) with raw HTTP
# (reentrant_app.py): its Dapr-Reentrancy-Id lets a call back into the
# actor whose turn is waiting for the app run at once, up to the app's
# maxStackDepth (then 500 ERR_ACTOR_STACK_DEPTH); the ids vactord sends
# the app carry the chain; app errors come back as Dapr's 500.
# Usage: dapr_app_test.sh PATH_TO_VACTORD
vactord="$1"
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
app_port=$(free_port)
# --min-period: the reminder below fires every 0.2 s, under the default 1 s.
check "starts with --app-port" start --app-port "$app_port" --min-period 100ms
python3 "$here/reentrant_app.py" "$app_port" "$port" &
also_kill=$!
a="$url/v1.0/actors/Echo"
# code STATUS ERRORCODE CURL-ARGS...: the status and the errorCode
code() { local want="$1 $2"; shift 2; [ "$(curl -s -w ' %{http_code}' "$@" | sed -E 's/.*"errorCode":"([A-Z_]+)".* ([0-9]+)$/\2 \1/')" = "$want" ]; }
reached() { for _ in $(seq 100); do [ "$(status -X POST "$a/x/method/inner")" = 200 ] && return 0; sleep 0.1; done; return 1; }
check "vactord reaches the app's type" reached
check "a method answers through vactord" test "$(curl -s -X POST "$a/x/method/inner")" = inner-ok
check "reentrant: outer calls inner on the same actor, at once" test "$(curl -s -m 10 -X POST "$a/e1/method/outer")" = inner-ok
check "reentrant: past maxStackDepth, ERR_ACTOR_STACK_DEPTH" json '.refused=="ERR_ACTOR_STACK_DEPTH"' -m 10 -X POST "$a/e2/method/deep"
check "an unknown method of the app is 500 ERR_ACTOR_INVOKE_METHOD with its status" json '.errorCode=="ERR_ACTOR_INVOKE_METHOD" and (.message|test("[(]404[)]"))' -X POST "$a/e3/method/nope"
check "the caller's headers reach the app (not the token)" json '.custom=="c1" and .token==null' -X POST -H 'X-Custom: c1' "$a/e4/method/headers"
check "the app's headers come back" bash -c "curl -si -X POST $a/e4/method/headers | tr -d '\r' | grep -qi '^x-answer: 42\$'"
check "an answer marked X-DaprErrorResponseHeader comes back as it is" test "$(curl -s -w ' %{http_code}' -X POST "$a/e5/method/oops")" = '{"err":"mine"} 409'
check "a reminder for the app's actor is 204" test "$(status -X POST "$a/e6/reminders/r1" -d '{"dueTime":"0.1s","period":"0.2s","data":{"k":1}}')" = 204
sleep 1.5
check "it reached the app once with its data, then X-DaprReminderCancel stopped it" json '.reminders==1 and .last.data.k==1 and .last.period=="0.2s"' -X POST "$a/e6/method/count"
check "... and deleted it" test "$(status "$a/e6/reminders/r1")" = 404
# Failed deliveries (the app answers 500 to reminders named fail*), as
# Dapr's scheduler retries them: by default 3 times 1 s apart; drop: none;
# constant: maxRetries, interval apart. Then the schedule goes on: these
# one-shots are gone.
failed() { curl -s -X POST "$a/e6/method/count" | jq -r ".failed[\"$1\"] // 0"; }
gone() { for _ in $(seq 150); do [ "$(status "$a/e8/reminders/$1")" = 404 ] && return 0; sleep 0.1; done; return 1; }
check "a failure_policy that is neither drop nor constant is 500 ERR_ACTOR_REMINDER_CREATE" code 500 ERR_ACTOR_REMINDER_CREATE -X POST "$a/e8/reminders/x" -d '{"failure_policy":{"sometimes":{}}}'
check "a constant interval under 100ms is 500 ERR_ACTOR_REMINDER_CREATE" code 500 ERR_ACTOR_REMINDER_CREATE -X POST "$a/e8/reminders/x" -d '{"failure_policy":{"constant":{"interval":"10ms"}}}'
check "maxRetries 0 is 500 ERR_ACTOR_REMINDER_CREATE" code 500 ERR_ACTOR_REMINDER_CREATE -X POST "$a/e8/reminders/x" -d '{"failure_policy":{"constant":{"interval":"1s","maxRetries":0}}}'
check "three failing reminders: default, drop, constant (2 × 200ms)" test "$(status -X POST "$a/e8/reminders/fail-default" -d '{}')$(status -X POST "$a/e8/reminders/fail-drop" -d '{"failure_policy":{"drop":{}}}')$(status -X POST "$a/e8/reminders/fail-const" -d '{"dueTime":"0.1s","failure_policy":{"constant":{"interval":"200ms","maxRetries":2}}}')" = 204204204
check "GET shows the policy as given" json '.failure_policy.constant.maxRetries==2' "$a/e8/reminders/fail-const"
check "the default: 1 delivery and 3 retries, then gone" bash -c "$(declare -f gone status); a='$a'; gone fail-default"
check "drop: gone after 1" bash -c "$(declare -f gone status); a='$a'; gone fail-drop"
check "constant: gone after 3" bash -c "$(declare -f gone status); a='$a'; gone fail-const"
sleep 1.5 # a retry more would have come by now
check "... and the app saw 4, 1 and 3 deliveries" test "$(failed fail-default) $(failed fail-drop) $(failed fail-const)" = "4 1 3"
check "a nested turn that outlives its outer one: answered" test "$(curl -s -m 10 -X POST "$a/e7/method/early")" = early
sleep 1.5
check "... and the state it saved later is kept" test "$(curl -s "$a/e7/state/k")" = 42
check "vactord's own AppActor type is not reachable" code 404 ERR_ACTOR_NO_ADDRESS -X POST "$url/v1.0/actors/AppActor/x/method/invoke"
# The actor listing sees the app's type under its own name.
check "the types list the app's Echo and Echo2, not AppActor" json '(.types | map(select(.app)) | map(.type)) == ["Echo","Echo2"] and (.types | map(.type) | index("AppActor")) == null' "$url/v1/actors"
check "the app's actors are listed by their Dapr ids" json '[.actors[].id] as $ids | ($ids | index("e1")) != null and ($ids | index("e7")) != null and all($ids[]; test("/") | not)' "$url/v1/actors/Echo"
check "an app's actor is inspected, its state key shown" json '.type == "Echo" and .id == "e7" and (.state | map(.key) | index("k")) != null' "$url/v1/actors/Echo/e7"
check "a second type of the app answers" test "$(curl -s -X POST "$url/v1.0/actors/Echo2/x/method/inner")" = inner-ok
check "metadata counts each app type on its own, no AppActor" json '(.actors | map({(.type): .count}) | add) as $n | $n.Echo2 == 1 and $n.Echo >= 7 and $n.AppActor == null and $n.TaskActor != null and .actorRuntime.activeActors == .actors' "$url/v1.0/metadata"
check "AppActor is no type of the listing" test "$(status "$url/v1/actors/AppActor")" = 404
check "stops cleanly" stop
finish
