# cluster_lib.sh — nodes of one cluster for the cluster scripts; source it
# after lib.sh, with $vactord set and the database in $VACTOR_TEST_PG_URL
# (tests/support/with_postgres.sh sets it). Each node NAME gets a free
# port (kept across restarts), its own data folder and log
# ($dir/NAME.log), and is stopped at exit.
#
#   node_start NAME [flags]    start it; true once it is in its own view
#   node_url NAME              its base URL
#   node_pid NAME              its process id
#   node_signal NAME SIG       send SIG (KILL, STOP, CONT, TERM)
#   node_wait_gone NAME        wait (bounded) for it to exit
#   members_alive URL N        true once URL's view has N alive members
#   wait_for SECS CMD...       polls CMD every 0.1 s for up to SECS
declare -A node_port node_pids
[ -n "${VACTOR_TEST_PG_URL:-}" ] || { echo "cluster_lib: no database (run under with_postgres.sh)"; exit 1; }

cluster_cleanup() {
  for n in "${!node_pids[@]}"; do
    kill -CONT "${node_pids[$n]}" 2>/dev/null
    kill -KILL "${node_pids[$n]}" 2>/dev/null
  done
  # VACTOR_KEEP=DIR keeps the nodes' logs and data for a look afterwards.
  [ -n "${VACTOR_KEEP:-}" ] && cp -r "$dir" "$VACTOR_KEEP"
  cleanup
}
trap cluster_cleanup EXIT

node_url() { echo "http://127.0.0.1:${node_port[$1]}"; }
node_pid() { echo "${node_pids[$1]}"; }
node_signal() { kill -"$2" "${node_pids[$1]}"; }

wait_for() { # seconds, then a command polled until it succeeds
  local deadline=$(( $(date +%s%N) + $1 * 1000000000 )); shift
  until "$@"; do
    [ "$(date +%s%N)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

members_alive() { # url, count
  [ "$(curl -s "$1/v1/cluster" | jq '[.members[] | select(.status == "alive")] | length' 2>/dev/null)" = "$2" ]
}

node_start() { # name, then extra flags
  local name="$1"; shift
  node_port[$name]=${node_port[$name]:-$(free_port)}
  mkdir -p "$dir/$name"
  "$vactord" --listen "127.0.0.1:${node_port[$name]}" --data "$dir/$name" \
    --cluster "$VACTOR_TEST_PG_URL" --node-id "$name" --threads 2 \
    --access-log off "$@" >>"$dir/$name.log" 2>&1 &
  node_pids[$name]=$!
  wait_for 30 curl -sf -o /dev/null "$(node_url "$name")/v1/cluster"
}

node_wait_gone() {
  local pid="${node_pids[$1]}"
  wait_for 60 bash -c "! kill -0 $pid 2>/dev/null"
}

# The node that runs user $1's task $2 (X-Vactor-Node of a GET through $3).
task_owner() {
  curl -s -D - -o /dev/null "$3/v1/users/$1/tasks/$2" |
    tr -d '\r' | awk -F': ' 'tolower($1) == "x-vactor-node" {print $2}'
}
