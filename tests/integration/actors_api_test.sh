#!/usr/bin/env bash
# actors_api_test.sh — the operator's view of a real vactord, with curl:
# GET /v1/actors (types), the listing of a type (live or stored, paged by
# cursor, prefix and active filters, across a restart), one actor's
# inspection (activation, state keys and sizes, values on request,
# reminders, timers; nothing activated by looking), the reminders lists
# of the Task API and of the Dapr API, the dashboard's page and its event
# stream (live snapshots; at most 32 streams; a closed one frees its
# place), and the API token on all of it (header, cookie, ?token=).
# Usage: actors_api_test.sh PATH_TO_VACTORD
vactord="$1"
source "$(dirname "$0")/lib.sh"

check "starts (the Dapr API may write native state)" start --repair-state
u="$url/v1/users"
for i in 1 2 3 4 5; do curl -s -o /dev/null -X PUT "$u/bob/tasks/b$i" -d '{"title":"x"}'; done
curl -s -o /dev/null -X PUT "$u/ann/tasks/a1" -d '{"title":"trip"}'
check "a task's reminder is set" test "$(status -X PUT "$u/ann/tasks/a1/reminders/r1" -d '{"dueTime":"1h","period":"24h","message":"hi"}')" = 204
check "a Dapr timer is set" test "$(status -X POST "$url/v1.0/actors/TaskActor/ann:a1/timers/t1" -d '{"dueTime":"1h","period":"1h","callback":"get"}')" = 204

check "types: the Task API's three, with live counts" json '[.types[] | select(.type=="TaskActor") | .active] == [6] and ([.types[].type] | sort) == ["ChatActor","TaskActor","UserActor"]' "$url/v1/actors"
check "listing: every task, sorted, live" json '[.actors[].id] == ["ann:a1","bob:b1","bob:b2","bob:b3","bob:b4","bob:b5"] and all(.actors[]; .active) and .next == null' "$url/v1/actors/TaskActor"
check "listing: a page of 2 and a cursor" json '[.actors[].id] == ["ann:a1","bob:b1"] and (.next | type) == "string"' "$url/v1/actors/TaskActor?limit=2"
next=$(curl -s "$url/v1/actors/TaskActor?limit=2" | jq -r .next)
check "listing: the next page starts after the cursor" json '[.actors[].id] == ["bob:b2","bob:b3"]' "$url/v1/actors/TaskActor?limit=2&cursor=$next"
check "listing: by prefix" json '[.actors[].id] == ["bob:b1","bob:b2","bob:b3","bob:b4","bob:b5"]' "$url/v1/actors/TaskActor?prefix=bob:"
check "listing: a prefix nobody has" json '.actors == [] and .next == null' "$url/v1/actors/TaskActor?prefix=zz"
check "listing: limit 0 is a 400" test "$(status "$url/v1/actors/TaskActor?limit=0")" = 400
check "listing: limit 1001 is a 400" test "$(status "$url/v1/actors/TaskActor?limit=1001")" = 400
check "listing: an unknown parameter is a 400" json '.errorCode == "ERR_BAD_QUERY"' "$url/v1/actors/TaskActor?sort=id"
check "listing: a cursor not made by the server is a 400" test "$(status "$url/v1/actors/TaskActor?cursor=xyz")" = 400
check "listing: an unknown type is a 404" json '.errorCode == "ERR_ACTOR_TYPE_NOT_FOUND"' "$url/v1/actors/NoSuchType"
check "listing: POST is a 405" test "$(status -X POST "$url/v1/actors/TaskActor")" = 405

check "inspect: a live task, its keys, sizes, reminder and timer" json '.active and .worker >= 0 and .turns >= 1 and .mailbox == 0 and (.state | map(.key) | index("doc")) != null and (.state[] | select(.key=="doc") | .bytes > 0 and (has("value") | not)) and .reminders[0].name == "r1" and .reminders[0].period == "PT24H" and .timers[0].name == "t1" and .timers[0].period_ms == 3600000' "$url/v1/actors/TaskActor/ann:a1"
check "inspect: values on request" json '(.state[] | select(.key=="doc") | .value | fromjson | .title) == "trip"' "$url/v1/actors/TaskActor/ann:a1?values=true"
check "inspect: an actor neither live nor stored is a 404" json '.errorCode == "ERR_ACTOR_NOT_FOUND"' "$url/v1/actors/TaskActor/nobody"
check "inspect: looking activated nothing" json '[.types[] | select(.type=="TaskActor") | .active] == [6]' "$url/v1/actors"
check "Task API: a task's reminders" json '.reminders | length == 1 and .[0].name == "r1" and .[0].message == "hi" and (.[0].next | type) == "string"' "$u/ann/tasks/a1/reminders"
check "Task API: another user's task has no reminders to show" test "$(status "$u/bob/tasks/ann:a1/reminders")" = 404
check "Dapr: an actor's reminders" json 'length == 1 and .[0].name == "r1" and .[0].actorID == "ann:a1" and .[0].actorType == "TaskActor" and .[0].period == "24h"' "$url/v1.0/actors/TaskActor/ann:a1/reminders"
check "Dapr: an actor with none has an empty list" json '. == []' "$url/v1.0/actors/TaskActor/nobody/reminders"

check "stops" stop
check "starts again on the same data" start --repair-state
check "after a restart: the stored tasks are listed, none live" json '[.actors[].id] == ["ann:a1","bob:b1","bob:b2","bob:b3","bob:b4","bob:b5"] and all(.actors[]; .active | not)' "$url/v1/actors/TaskActor"
check "after a restart: active=true lists none" json '.actors == []' "$url/v1/actors/TaskActor?active=true"
check "after a restart: inspect reads the store (state, reminder; no timer)" json '(.active | not) and .version >= 1 and (.state | map(.key) | index("doc")) != null and .reminders[0].name == "r1" and .timers == []' "$url/v1/actors/TaskActor/ann:a1"
check "after a restart: still nothing live" json '.actors == []' "$url/v1/actors/TaskActor?active=true"
curl -s -o /dev/null "$u/bob/tasks/b2"
check "a task read is live again, and listed so" json '[.actors[].id] == ["bob:b2"]' "$url/v1/actors/TaskActor?active=true"

# The dashboard.
check "the page is HTML, with a content security policy" bash -c "curl -si $url/dashboard | tr -d '\r' | grep -qi '^content-security-policy: default-src .self.'"
check "a file of the dashboard that does not exist is a 404" test "$(status "$url/dashboard/nope.js")" = 404
timeout 5 curl -sN "$url/dashboard/events" > "$dir/events"
check "the event stream: a snapshot at once, then about one a second" test "$(grep -c '^data: ' "$dir/events")" -ge 3
check "a snapshot is JSON with the live counters" bash -c "grep -m1 '^data: ' '$dir/events' | cut -c7- | jq -e '.actors.active >= 1 and (.actors.by_type | map(.type) | index(\"TaskActor\")) != null and .http.connections >= 1 and (.http.bounds_s | length) == 13 and (.http.routes | map(.route) | index(\"tasks.get\")) != null and .version != null' >/dev/null"
check "the stream's head says text/event-stream" bash -c "timeout 1 curl -siN $url/dashboard/events | tr -d '\r' | grep -qi '^content-type: text/event-stream'"
# 32 viewers at once: the 33rd is refused; once they leave, one is served.
pids=
for i in $(seq 32); do timeout 20 curl -sN "$url/dashboard/events" -o /dev/null & pids="$pids $!"; done
open_streams() { curl -s "$url/metrics" | awk '$1 == "vactor_http_connections" { print $2 - 1 }'; }
all_open() { for _ in $(seq 200); do [ "$(open_streams)" -ge 32 ] && return 0; sleep 0.1; done; return 1; }
check "32 streams open at once" all_open
check "with 32 streams open, the next is a 503" json '.errorCode == "ERR_TOO_MANY_VIEWERS"' -m 5 "$url/dashboard/events"
kill $pids 2>/dev/null; wait $pids 2>/dev/null
freed() {
  for _ in $(seq 100); do
    timeout 1 curl -sN "$url/dashboard/events" > "$dir/one"
    grep -q '^data: ' "$dir/one" && return 0
    sleep 0.1
  done
  return 1
}
check "when they close, a new stream is served" freed
# Streams asked for behind a slow answer on one connection (pipelined):
# the first is served, what follows it is never read, and nothing leaks.
pipelined() {
  python3 - "$port" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
ask = (b"GET /v1/users/ann/tasks HTTP/1.1\r\nHost: t\r\n\r\n" +
       b"GET /dashboard/events HTTP/1.1\r\nHost: t\r\n\r\n" * 2)
conns = []
for _ in range(20):  # 40 streams asked for: more than the server's 32
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(ask)
    conns.append(s)
for s in conns:
    got, end = b"", time.time() + 10
    while got.count(b"HTTP/1.1 ") < 2 or b"\ndata: " not in got:
        part = s.recv(65536)
        if not part or time.time() > end:
            sys.exit("short answer: %r" % got[:300])
        got += part
    s.settimeout(0.3)  # whatever else comes soon: events, never an answer
    try:
        got += s.recv(65536)
    except socket.timeout:
        pass
    if got.count(b"HTTP/1.1 ") != 2 or b"text/event-stream" not in got:
        sys.exit("not one answer, then one stream: %r" % got[:300])
for s in conns:
    s.close()
PY
}
check "pipelined streams: one answer, then one stream, per connection" pipelined
check "and once they close, a new stream is served" freed
# Bounds on what one request can make the server do or send.
long=$(head -c 1100 /dev/zero | tr '\0' a)
check "a prefix longer than an id is a 400" test "$(status "$url/v1/actors/TaskActor?prefix=$long")" = 400
check "a cursor longer than an id is a 400" test "$(status "$url/v1/actors/TaskActor?cursor=$long$long$long")" = 400
python3 -c 'import json; print(json.dumps([{"operation": "upsert", "request": {"key": "big", "value": "é" * 60000}}]))' > "$dir/big.json"
check "a 120 kB value is stored through the Dapr API" test "$(status -X POST "$url/v1.0/actors/TaskActor/big/state" -H 'Content-Type: application/json' --data-binary @"$dir/big.json")" = 204
check "inspect shows 64 KiB of it, cut on a character, and says so" \
  json '.state[] | select(.key == "big") | .truncated and .bytes > 120000 and (.value | utf8bytelength) <= 65536 and (.value | utf8bytelength) > 65000' \
  "$url/v1/actors/TaskActor/big?values=true"
check "still serving" test "$(status "$url/v1.0/healthz")" = 204
check "stops" stop

# With an API token.
check "starts with --token" start --token sekret
check "no token: the listing is a 401" test "$(status "$url/v1/actors")" = 401
check "no token: the dashboard is a 401" test "$(status "$url/dashboard")" = 401
check "no token: the events are a 401" test "$(status "$url/dashboard/events")" = 401
check "the header opens the listing" test "$(status -H 'dapr-api-token: sekret' "$url/v1/actors")" = 200
check "a wrong ?token= is a 401" test "$(status "$url/dashboard?token=wrong")" = 401
check "?token= sets the cookie and sends the browser to /dashboard" bash -c "curl -si '$url/dashboard?token=sekret' | tr -d '\r' | grep -i '^set-cookie: vactor_token=sekret;' | grep -qi 'httponly' && curl -si '$url/dashboard?token=sekret' | grep -q '^HTTP/1.1 303'"
check "the cookie opens the page, the events and the listing" bash -c "for p in /dashboard /v1/actors /v1/actors/TaskActor; do [ \"\$(curl -s -o /dev/null -w '%{http_code}' -b vactor_token=sekret $url\$p)\" = 200 ] || exit 1; done; timeout 1 curl -sN -b vactor_token=sekret $url/dashboard/events | grep -q '^data: '"
check "the cookie does not open the Dapr API" test "$(status -b vactor_token=sekret "$url/v1.0/actors/TaskActor/a1/reminders")" = 401
check "the cookie does not open the Task API" test "$(status -b vactor_token=sekret "$u/ann/tasks")" = 401
check "the cookie does not open a write" test "$(status -X POST -b vactor_token=sekret "$url/v1/actors")" = 401
check "a wrong cookie is a 401" test "$(status -b vactor_token=nope "$url/v1/actors")" = 401
check "stops" stop
finish
