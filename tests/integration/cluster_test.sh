#!/usr/bin/env bash
# cluster_test.sh — three vactord nodes over one throw-away PostgreSQL
# (run under tests/support/with_postgres.sh): the view, every route through
# every node, one owner per actor (X-Vactor-Node), concurrent writes to one
# actor through different nodes, kill -9 of a node under load (nothing
# acknowledged lost, its actors back on the survivors), a restart with the
# same name (a new incarnation), a join and a leave (SIGTERM) under load
# with no failed request.
#   cluster_test.sh path/to/vactord
vactord="$1"
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
source "$here/cluster_lib.sh"
load="$here/cluster_load.py"

for n in n1 n2 n3; do node_start "$n" --repair-state || { echo "not ok - $n starts"; cat "$dir/$n.log"; exit 1; }; done
u1=$(node_url n1) u2=$(node_url n2) u3=$(node_url n3)
all="$u1,$u2,$u3"

for u in "$u1" "$u2" "$u3"; do
  check "$u sees 3 alive members" wait_for 30 members_alive "$u" 3
done
check "/v1/cluster names this node and the members' addresses" \
  json '.self == "n2" and ([.members[].id] == ["n1","n2","n3"]) and
        (.members[] | select(.id == "n1") | .address) == "'"${u1#http://}"'" and
        ([.members[] | .incarnation >= 1 and (.link | length) > 0] | all)' "$u2/v1/cluster"
check "POST /v1/cluster is 405" test "$(status -X POST "$u1/v1/cluster")" = 405

# ---- Every route through every node ----
check "create through n1" test "$(status -X PUT "$u1/v1/users/ann/tasks/a1" \
  -H 'Content-Type: application/json' -d '{"title":"buy milk"}')" = 201
for u in "$u1" "$u2" "$u3"; do
  check "read through $u" json '.title == "buy milk"' "$u/v1/users/ann/tasks/a1"
done
owners=$(for u in "$u1" "$u2" "$u3"; do task_owner ann a1 "$u"; done | sort -u)
check "one node runs the task, whichever node is asked (X-Vactor-Node)" \
  test "$(echo "$owners" | wc -l)" = 1 -a -n "$owners"
check "patch through n3" json '.status == "in_progress"' -X PATCH "$u3/v1/users/ann/tasks/a1" \
  -H 'Content-Type: application/json' -d '{"status":"in_progress"}'
check "the list through n2 has it" json '.count == 1 and .tasks[0].status == "in_progress"' \
  "$u2/v1/users/ann/tasks"
check "a reminder through n2" test "$(status -X PUT "$u2/v1/users/ann/tasks/a1/reminders/r1" \
  -H 'Content-Type: application/json' -d '{"dueTime":"1h","message":"hi"}')" = 204
check "the reminder through n1" test "$(status "$u1/v1/users/ann/tasks/a1/reminders/r1")" = 200
check "preferences through n3, read through n1" bash -c "
  curl -sf -X PUT '$u3/v1/users/ann/preferences' -H 'Content-Type: application/json' \
    -d '{\"language\":\"de\"}' >/dev/null &&
  curl -s '$u1/v1/users/ann/preferences' | jq -e '.language == \"de\"' >/dev/null"
check "chat through n2" json '.reply | length > 0' -X POST "$u2/v1/users/ann/chat" \
  -H 'Content-Type: application/json' -d '{"message":"add task call Bob"}'
check "Dapr invoke through n1, read back through n3" bash -c "
  curl -sf -X POST '$u1/v1.0/actors/TaskActor/d1/method/create' -H 'Content-Type: application/json' \
    -d '[{\"user\":\"ann\",\"title\":\"via dapr\"}]' -o /dev/null &&
  curl -s -X POST '$u3/v1.0/actors/TaskActor/d1/method/get' -d '{\"user\":\"ann\"}' |
    jq -e '.title == \"via dapr\"' >/dev/null"
check "Dapr state through n2" bash -c "
  curl -sf -X POST '$u2/v1.0/actors/TaskActor/d1/state' -H 'Content-Type: application/json' \
    -d '[{\"operation\":\"upsert\",\"request\":{\"key\":\"k\",\"value\":42}}]' -o /dev/null &&
  test \"\$(curl -s '$u1/v1.0/actors/TaskActor/d1/state/k')\" = 42"
# ---- The actor listing and inspection see the whole cluster ----
for u in "$u1" "$u2" "$u3"; do
  check "the listing through $u has ann:a1, live on its owner" \
    json "[.actors[] | select(.id == \"ann:a1\")] | length == 1 and .[0].active and .[0].node == \"$owners\"" \
    "$u/v1/actors/TaskActor"
done
other=$(for n in n1 n2 n3; do [ "$n" != "$owners" ] && node_url "$n"; done | head -1)
check "inspect through a node that does not run it names the owner" \
  json ".active and .node == \"$owners\" and ([.state[].key] | index(\"doc\")) != null" \
  "$other/v1/actors/TaskActor/ann:a1"
check "the task's reminder is listed through any node" \
  json '[.reminders[].name] == ["r1"]' "$u3/v1/users/ann/tasks/a1/reminders"
check "metrics show forwarded calls" bash -c "
  for u in $u1 $u2 $u3; do curl -s \$u/metrics; done |
  awk '/^vactor_cluster_forwarded_calls_total/ {s += \$2} END {exit !(s > 0)}'"
check "metrics have the view and the claims" bash -c "
  curl -s '$u1/metrics' | grep -q '^vactor_cluster_members{status=\"alive\"} 3' &&
  curl -s '$u1/metrics' | grep -q '^vactor_cluster_claims_total'"

# ---- A member row larger than any node writes (a hostile database) ----
psql_q() { psql -qAt -v ON_ERROR_STOP=1 "$VACTOR_TEST_PG_URL" -c "$1"; }
check "a hostile member row is written (1 MB of votes, 100 kB of types)" psql_q "
  INSERT INTO vactor_member (id, incarnation, address, link, status, lease_until, types, unreachable)
  VALUES ('zz-hostile', 1, '127.0.0.1:1', '127.0.0.1:1', 'alive', now() + interval '1 hour',
          repeat('T', 100000), repeat('n1:1,', 200000));
  UPDATE vactor_view SET version = version + 1 WHERE id = 1"
bumped=$(psql_q "SELECT version FROM vactor_view WHERE id = 1")
view_past_bump() { # every node has read the view since the bump
  local u
  for u in "$u1" "$u2" "$u3"; do
    curl -s "$u/v1/cluster" | jq -e ".version >= $bumped" >/dev/null 2>&1 || return 1
  done
}
check "every node reads the view after it" wait_for 30 view_past_bump
check "no node takes the row in (nor its votes: 3 alive)" bash -c "
  for u in $u1 $u2 $u3; do
    curl -s \$u/v1/cluster | jq -e '([.members[] | select(.id == \"zz-hostile\")] | length == 0)
      and ([.members[] | select(.status == \"alive\")] | length == 3)' >/dev/null || exit 1
  done"
check "and every node serves" bash -c "
  for u in $u1 $u2 $u3; do
    [ \"\$(curl -s -o /dev/null -w '%{http_code}' \$u/v1/users/ann/tasks/a1)\" = 200 ] || exit 1
  done"
check "the row goes" psql_q "DELETE FROM vactor_member WHERE id = 'zz-hostile';
  UPDATE vactor_view SET version = version + 1 WHERE id = 1"

# ---- Concurrent writes to one actor through different nodes ----
check "hot task" test "$(status -X PUT "$u1/v1/users/bob/tasks/hot" \
  -H 'Content-Type: application/json' -d '{"title":"hot"}')" = 201
writers=()
for u in "$u1" "$u2" "$u3"; do
  ( for i in $(seq 100); do
      curl -s -o /dev/null -w '%{http_code}\n' -X POST "$u/v1/users/bob/tasks/hot/log" \
        -H 'Content-Type: application/json' -d '{"minutes":1}'
    done >"$dir/hot.${u##*:}" ) &
  writers+=($!)
done
wait "${writers[@]}"
check "300 logs through three nodes, all acknowledged" \
  test "$(cat "$dir"/hot.* | grep -c '^200$')" = 300
check "and all 300 are there" json '.minutes == 300' "$u3/v1/users/bob/tasks/hot"

# ---- kill -9 of a node under load ----
python3 "$load" load --nodes "$all" --user carol --tasks 30 --seconds 0 --threads 1 \
  --out "$dir/warm.json" >/dev/null
victim=$(task_owner carol carol-t0 "$u1")
check "the victim is a member" test -n "$victim"
survivors=$(for n in n1 n2 n3; do [ "$n" != "$victim" ] && node_url "$n"; done | paste -sd,)
python3 "$load" load --nodes "$all" --user carol --tasks 30 --seconds 8 --threads 6 \
  --out "$dir/kill.json" >"$dir/kill.out" 2>&1 &
loader=$!
sleep 2
node_signal "$victim" KILL
killed_at=$(date +%s%N)
first=${survivors%%,*}
# (A read, not a log: a log here would be one the load's check cannot count.)
check "the victim's task serves through a survivor again" wait_for 30 \
  bash -c "curl -s '$first/v1/users/carol/tasks/carol-t0' -o /dev/null -w '%{http_code}' | grep -q 200"
echo "# failover: $(( ($(date +%s%N) - killed_at) / 1000000 )) ms until t0 answered again"
wait "$loader"
cat "$dir/kill.out"
check "after kill -9: every acknowledged write is there" \
  python3 "$load" check --nodes "$survivors" --in "$dir/kill.json"
check "the survivors see the victim dead" wait_for 30 bash -c \
  "curl -s '$first/v1/cluster' | jq -e '.members[] | select(.id == \"$victim\") | .status == \"dead\"' >/dev/null"
check "t0 is run by a survivor now" test "$(task_owner carol carol-t0 "$first")" != "$victim"

# ---- The same name rejoins: a new incarnation ----
inc_before=$(curl -s "$first/v1/cluster" | jq ".members[] | select(.id == \"$victim\") | .incarnation")
node_start "$victim"
check "the victim rejoins" wait_for 30 members_alive "$first" 3
check "with a new incarnation" bash -c "
  test \"\$(curl -s '$first/v1/cluster' | jq '.members[] | select(.id == \"$victim\") | .incarnation')\" -gt $inc_before"
check "after the rejoin, the hot task still has its 300" json '.minutes == 300' "$(node_url "$victim")/v1/users/bob/tasks/hot"

# ---- A join and a leave under load: no request fails ----
python3 "$load" load --nodes "$u1,$u2" --user dave --tasks 30 --seconds 12 --threads 4 \
  --out "$dir/moves.json" >"$dir/moves.out" 2>&1 &
loader=$!
sleep 2
node_start n4
check "n4 joins" wait_for 30 members_alive "$u1" 4
sleep 2
node_signal n3 TERM
check "n3 leaves and exits" node_wait_gone n3
check "n3 is dead in the view" wait_for 30 bash -c \
  "curl -s '$u1/v1/cluster' | jq -e '.members[] | select(.id == \"n3\") | .status == \"dead\"' >/dev/null"
wait "$loader"
cat "$dir/moves.out"
check "no request failed while n4 joined and n3 left" \
  jq -e '.failures == {}' "$dir/moves.json"
check "after the moves: every acknowledged write is there" \
  python3 "$load" check --nodes "$u1,$u2" --in "$dir/moves.json"
check "n3 logged its leave" grep -q 'cluster left' "$dir/n3.log"

# A stored link key that is not 64 hex digits (a hostile database): a new
# node refuses to start, with a line that says why.
check "the link key is spoiled" psql_q "UPDATE vactor_link_key SET key = 'not-a-key' WHERE id = 1"
check "a node does not start on it (exit 1, the reason logged)" bash -c "
  timeout 60 '$vactord' --listen 127.0.0.1:$(free_port) --data '$dir/n5' \
    --cluster '$VACTOR_TEST_PG_URL' --node-id n5 >'$dir/n5.log' 2>&1
  [ \$? = 1 ] && grep -q 'cluster link key unreadable' '$dir/n5.log'"

check "no sanitizer report in any node's log" bash -c "! grep -q Sanitizer $dir/*.log"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
