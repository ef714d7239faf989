#!/usr/bin/env bash
# cluster_run.sh — the Dapr SDK tests against a 3-node vactord cluster
# with an app behind each node (run under tests/support/with_postgres.sh):
# installs the pinned @dapr/dapr as run.sh does; starts n1..n3 on one
# throw-away PostgreSQL, each with --app-port of its own host_app.js
# (DAPR_HTTP_PORT its node's port, APP_INSTANCE its node's name); runs
# client_test.js through n1 and again through n2 (what n1 wrote read
# through n2 and n3 in between); host_test.js through n2 with
# EXPECT_APPS=3 (actors seen running in all three apps, the checks of one
# app summed over the three); restarts all three nodes (SIGTERM, the same
# names and data folders; the apps keep running) and checks through n3
# that the state written before survived.
# Usage: cluster_run.sh PATH_TO_VACTORD WORK_DIR
# shellcheck source-path=SCRIPTDIR
vactord="$1"
work="$2"
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../integration/lib.sh
source "$here/../integration/lib.sh"
# shellcheck source=../integration/cluster_lib.sh
source "$here/../integration/cluster_lib.sh"
nodes=(n1 n2 n3)
declare -A app_port app_pid

mkdir -p "$work"
cp "$here"/package.json "$here"/package-lock.json "$here"/*.js "$work/"
check "npm ci (the pinned @dapr/dapr)" bash -c "cd '$work' && npm ci --no-audit --no-fund --loglevel=error >'$dir/npm.log' 2>&1 || { cat '$dir/npm.log'; false; }"

show_logs() { # the tail of every node's and app's log, on a failure
  for f in "$dir"/*.log; do echo "# ---- ${f##*/}"; tail -n 40 "$f" | sed 's/^/# /'; done
}

# Every node's view: 3 alive members, each publishing CounterActor.
apps_published() {
  local n
  for n in "${nodes[@]}"; do
    curl -s "$(node_url "$n")/v1/cluster" | jq -e '
      [.members[] | select(.status == "alive" and (.types | index("CounterActor")))]
      | length == 3' >/dev/null 2>&1 || return 1
  done
}

start_all() { # the three nodes, each with --app-port of its app
  local n ok=0
  for n in "${nodes[@]}"; do
    app_port[$n]=${app_port[$n]:-$(free_port)}
    node_start "$n" --repair-state --app-port "${app_port[$n]}" || { echo "# $n did not start"; ok=1; }
  done
  return "$ok"
}

stop_all() { # SIGTERM to all three at once; true when each exits 0
  local n ok=0
  for n in "${nodes[@]}"; do node_signal "$n" TERM; done
  for n in "${nodes[@]}"; do
    wait "$(node_pid "$n")" || { echo "# $n exited $?"; ok=1; }
    unset "node_pids[$n]"
  done
  return "$ok"
}

check "three nodes start, each with --app-port" start_all
for n in "${nodes[@]}"; do
  APP_PORT=${app_port[$n]} DAPR_HTTP_PORT=${node_port[$n]} APP_INSTANCE=$n \
    node "$work/host_app.js" >>"$dir/app-$n.log" 2>&1 &
  app_pid[$n]=$!
  also_kill="$also_kill ${app_pid[$n]}"
done
check "every node sees 3 alive members" wait_for 60 bash -c "
  for u in $(node_url n1) $(node_url n2) $(node_url n3); do
    curl -s \$u/v1/cluster | jq -e '[.members[] | select(.status == \"alive\")] | length == 3' >/dev/null || exit 1
  done"
check "every node sees all three apps' CounterActor" wait_for 60 apps_published
u1=$(node_url n1) u2=$(node_url n2) u3=$(node_url n3)

# ---- The SDK client through n1, then through n2 ----
check "the SDK client through n1" env VACTORD_PORT="${node_port[n1]}" node "$work/client_test.js"
check "n1's task reads the same through n2 (timer-completed)" \
  json '.title == "from node" and .status == "done"' "$u2/v1/users/sam/tasks/sdk-1"
check "n1's Dapr state of sdk-2 reads through n3" \
  test "$(curl -s "$u3/v1.0/actors/TaskActor/sdk-2/state/note")" = '{"n":1}'
soon_count() { curl -s "$1/v1/users/sam/chat" | jq '[.messages[] | select(.reminder == "soon")] | length'; }
soon_before=$(soon_count "$u3")
check "the reminder n1's client registered reached sam's chat" test "${soon_before:-0}" -ge 1
# client_test.js creates sdk-1 and expects it open: delete it (through n3) first.
check "delete sdk-1 through n3" test "$(status -X DELETE "$u3/v1/users/sam/tasks/sdk-1")" = 204
check "the SDK client through n2" env VACTORD_PORT="${node_port[n2]}" node "$work/client_test.js"
soon_more() { [ "$(soon_count "$u1")" -gt "$soon_before" ]; }
check "n2's client's reminder fired once more into sam's chat" wait_for 30 soon_more

# ---- App-hosted actors across the three apps ----
check "the SDK apps behind the cluster, through n2 (all 3 apps host actors)" \
  env VACTORD_PORT="${node_port[n2]}" EXPECT_APPS=3 \
  READ_PORTS="${node_port[n1]},${node_port[n3]}" node "$work/host_test.js" run

# ---- All three nodes restart; the apps keep running ----
check "the three nodes stop cleanly (SIGTERM, exit 0)" stop_all
check "and start again with the same names and data" start_all
check "every node sees all three apps' CounterActor again" wait_for 60 apps_published
check "after the restart, through n3: the state survived, all 3 apps host again" \
  env VACTORD_PORT="${node_port[n3]}" EXPECT_APPS=3 \
  READ_PORTS="${node_port[n1]},${node_port[n2]}" node "$work/host_test.js" after-restart
check "sdk-1 (n2's client) survived, read through n1" \
  json '.title == "from node" and .status == "done"' "$u1/v1/users/sam/tasks/sdk-1"
check "sdk-2's Dapr state survived, read through n3" \
  test "$(curl -s "$u3/v1.0/actors/TaskActor/sdk-2/state/note")" = '{"n":1}'
check "the three nodes stop cleanly again" stop_all
for n in "${nodes[@]}"; do
  check "app $n is still running" kill -0 "${app_pid[$n]}"
done

check "no sanitizer report in any node's log" bash -c "! grep -q Sanitizer $dir/n?.log"
[ "$fail" = 0 ] || show_logs
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
