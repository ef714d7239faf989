#!/usr/bin/env bash
# cluster_partition_test.sh — issue 11's partitions, with network
# namespaces (tests/support/netns.sh): three vactord nodes, each in its own
# namespace, with a PostgreSQL (tests/support/with_postgres.sh) in a hub
# namespace that also runs these checks; the host's network is untouched.
#   A. n3 cut from the database (not from its peers): it fences itself, the
#      others mark it dead and serve its actors; healed, it rejoins as a new
#      incarnation and reads right; nothing acknowledged is lost;
#   B. n3 cut from its peers (not from the database): it is voted out and
#      every call through n1 and n2 succeeds, n3's actors included (run by n1 or
#      n2), and n3 is not alive in their view; healed, it is alive in every
#      view and serves; nothing acknowledged is lost.
#
#   cluster_partition_test.sh path/to/vactord
#
# Needs root and `ip netns` (fails with a message otherwise, unless
# VACTOR_SKIP_NETNS=1). The script runs twice: outside (makes and removes
# the namespaces) and, with --inside, in the hub under with_postgres.sh.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
support="$here/../support"
source "$support/netns.sh"

# ---- Outside: the namespaces around the run ----
if [ "${1:-}" != --inside ]; then
  vactord="$(realpath "${1:?usage: cluster_partition_test.sh path/to/vactord}")"
  if ! netns_check_usable; then
    if [ "${VACTOR_SKIP_NETNS:-}" = 1 ]; then
      echo "ok - skipped: no network namespaces here (VACTOR_SKIP_NETNS=1)"
      exit 0
    fi
    echo "not ok - network namespaces are needed (see above)"
    exit 1
  fi
  prefix="vp$$"
  inner=
  down() {
    [ -n "$inner" ] && kill -TERM "$inner" 2>/dev/null && wait "$inner" 2>/dev/null
    netns_down "$prefix"
  }
  trap down EXIT
  trap 'exit 129' HUP
  trap 'exit 130' INT
  trap 'exit 143' TERM
  netns_guard "$prefix" $$
  netns_up "$prefix" 3 || { echo "not ok - the namespaces are made"; exit 1; }
  ip netns exec "$prefix-hub" env VACTOR_TEST_PG_LISTEN=10.77.2.254 VACTOR_NETNS_PREFIX="$prefix" \
    "$support/with_postgres.sh" "$here/$(basename "$0")" --inside "$vactord" &
  inner=$!
  wait "$inner"
  status=$?
  inner=
  exit "$status"
fi

# ---- Inside the hub ----
vactord="$2"
prefix="$VACTOR_NETNS_PREFIX"
source "$here/lib.sh"
load="$here/cluster_load.py"
# Addresses other than loopback need an API token.
export VACTORD_API_TOKEN="partition-$$-$RANDOM" VACTOR_TEST_TOKEN
VACTOR_TEST_TOKEN="$VACTORD_API_TOKEN"
declare -A node_pids
loaders=()

partition_cleanup() {
  local p
  for p in "${loaders[@]}"; do kill -KILL "$p" 2>/dev/null; done
  for p in "${node_pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  for p in "${loaders[@]}" "${node_pids[@]}"; do wait "$p" 2>/dev/null; done
  # VACTOR_KEEP=DIR keeps the nodes' logs and data for a look afterwards.
  [ -n "${VACTOR_KEEP:-}" ] && cp -r "$dir" "$VACTOR_KEEP"
  cleanup
}
trap partition_cleanup EXIT

# cluster_load.py with the token on every request.
cat >"$dir/load.py" <<'EOF'
import http.client, os, runpy, sys
plain = http.client.HTTPConnection.request
def request(self, method, url, body=None, headers={}, **kw):
    headers = dict(headers, Authorization="Bearer " + os.environ["VACTOR_TEST_TOKEN"])
    return plain(self, method, url, body, headers, **kw)
http.client.HTTPConnection.request = request
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
EOF
loader() { python3 "$dir/load.py" "$load" "$@"; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }
wait_for() { # seconds, then a command polled every 0.1 s until it succeeds
  local deadline=$(($(date +%s%N) + $1 * 1000000000)); shift
  until "$@"; do
    [ "$(date +%s%N)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}
api() { curl -s --max-time 30 -H "Authorization: Bearer $VACTORD_API_TOKEN" "$@"; }
url_of() { echo "http://10.77.1.${1#n}:3500"; }
ns_of() { echo "$prefix-$1"; }

node_start() { # name
  local k="${1#n}"
  mkdir -p "$dir/$1"
  ip netns exec "$(ns_of "$1")" "$vactord" --listen "10.77.1.$k:3500" \
    --cluster-link "10.77.1.$k:7946" --data "$dir/$1" --cluster "$VACTOR_TEST_PG_URL" \
    --node-id "$1" --threads 2 --access-log off >>"$dir/$1.log" 2>&1 &
  node_pids[$1]=$!
  wait_for 30 api -f -o /dev/null "$(url_of "$1")/v1/cluster"
}

# The status of member $2 in the view through $1 ("" without an answer).
status_in() { api "$1/v1/cluster" | jq -r ".members[] | select(.id == \"$2\") | .status" 2>/dev/null; }
incarnation_in() { api "$1/v1/cluster" | jq -r ".members[] | select(.id == \"$2\") | .incarnation" 2>/dev/null; }
is_status() { [ "$(status_in "$1" "$2")" = "$3" ]; }
not_alive() { local s; s=$(status_in "$1" "$2"); [ -n "$s" ] && [ "$s" != alive ]; }
alive_count() { api "$1/v1/cluster" | jq '[.members[] | select(.status == "alive")] | length' 2>/dev/null; }
all_see_alive() { # count: true once every node's view has that many alive
  local n
  for n in n1 n2 n3; do [ "$(alive_count "$(url_of "$n")")" = "$1" ] || return 1; done
}
view_line() { # a node's view in one line: id:status:incarnation ...
  api --max-time 5 "$1/v1/cluster" |
    jq -r '"v\(.version) " + ([.members[] | "\(.id):\(.status):\(.incarnation)"] | join(" "))' 2>/dev/null ||
    echo "(no answer)"
}

# The node that runs user $2's task $3, asked through $1 (X-Vactor-Node).
owner_of() {
  api -D - -o /dev/null "$1/v1/users/$2/tasks/$3" |
    tr -d '\r' | awk -F': ' 'tolower($1) == "x-vactor-node" {print $2}'
}
# One {"minutes":1} log on user $2's task $3 through $1: "STATUS NODE".
log_once() {
  api -o /dev/null -D "$dir/log_once.h" -w '%{http_code}' -X POST "$1/v1/users/$2/tasks/$3/log" \
    -H 'Content-Type: application/json' -d '{"minutes":1}'
  echo " $(tr -d '\r' <"$dir/log_once.h" 2>/dev/null | awk -F': ' 'tolower($1) == "x-vactor-node" {print $2}')"
}
# True if a log through $1 on user $2's task $3 answers 200.
logs_ok() { local r; r=$(log_once "$1" "$2" "$3"); [ "${r%% *}" = 200 ]; }
# True if a log through $1 on user $2's task $3 answers 200 from a node
# other than $4.
logs_elsewhere() { local r; r=$(log_once "$1" "$2" "$3"); [ "${r%% *}" = 200 ] && [ "${r#* }" != "$4" ]; }
# User $2's tasks $2-t0..t($3-1) that node $4 runs, asked through $1.
tasks_of() {
  local t
  for t in $(seq 0 $(($3 - 1))); do
    [ "$(owner_of "$1" "$2" "$2-t$t")" = "$4" ] && echo "$2-t$t"
  done
}
# True once every task given (user $2) takes a log through $1 from a node
# other than $3 (each polled, bounded by $4 s in all).
all_log_elsewhere() {
  local via="$1" user="$2" not="$3" secs="$4" t; shift 4
  for t in "$@"; do wait_for "$secs" logs_elsewhere "$via" "$user" "$t" "$not" || return 1; done
}
# True if every task of user $2 (count $3) takes a log through $1 and
# reads through $4, at the first try.
every_call_succeeds() {
  local t r
  for t in $(seq 0 $(($3 - 1))); do
    r=$(log_once "$1" "$2" "$2-t$t")
    [ "${r%% *}" = 200 ] || { echo "# $2-t$t: log through $1 answered $r"; return 1; }
    [ -n "$(minutes_of "$4" "$2" "$2-t$t")" ] || { echo "# $2-t$t: no read through $4"; return 1; }
  done
}
views() { # every node's view, as seen from the hub (n3's also from inside)
  local n
  for n in n1 n2 n3; do echo "#   $n: $(view_line "$(url_of "$n")")"; done
}
n3_view_inside() { # n3's view through its own address, from its namespace
  ip netns exec "$(ns_of n3)" curl -s --max-time 5 -H "Authorization: Bearer $VACTORD_API_TOKEN" \
    "$(url_of n3)/v1/cluster" |
    jq -r '"v\(.version) " + ([.members[] | "\(.id):\(.status):\(.incarnation)"] | join(" "))' 2>/dev/null ||
    echo "(no answer)"
}

# After phase $1 (A or B) is healed: a write through n3 to user $2's task
# $3 succeeds again; the loads (pids $4 and $5, writing to
# $dir/<phase>-survivors.json and -n3.json) stop; nothing they had
# acknowledged is lost; and users $6... read the same through n3 as
# through n1.
after_heal() {
  local phase="$1" user="$2" task="$3" pid="$4" pid3="$5" out u
  shift 5
  out="$dir/${phase,,}"
  check "$phase: a write through n3 succeeds again" wait_for 30 logs_ok "$u3" "$user" "$task"
  touch "$out.stop"
  wait "$pid" "$pid3"
  cat "$out-survivors.out" "$out-n3.out"
  check "$phase: every write acknowledged through n1/n2 is there" \
    loader check --nodes "$u1,$u2,$u3" --in "$out-survivors.json"
  check "$phase: every write acknowledged through n3 is there" \
    loader check --nodes "$u1,$u2,$u3" --in "$out-n3.json"
  for u in "$@"; do
    check "$phase: reads through n3 are n1's ($u)" same_minutes "$u3" "$u" "$u" "$tasks" "$u1"
  done
}

for n in n1 n2 n3; do
  node_start "$n" || { echo "not ok - $n starts"; cat "$dir/$n.log"; exit 1; }
done
u1=$(url_of n1) u2=$(url_of n2) u3=$(url_of n3)
check "every node sees 3 alive members" wait_for 30 all_see_alive 3
tasks=30

# ---- A. n3 cut from the database ----
loader load --nodes "$u1,$u2,$u3" --user amy --tasks "$tasks" --seconds 0 --threads 1 \
  --out "$dir/a-warm.json" >/dev/null
mapfile -t a_n3 < <(tasks_of "$u1" amy "$tasks" n3)
check "A: n3 runs some of amy's tasks (${#a_n3[@]})" test "${#a_n3[@]}" -gt 0
inc_before=$(incarnation_in "$u1" n3)
lost_before=$(grep -c 'cluster membership lost' "$dir/n3.log")
# The loads write to users of their own (ada, ana), the checks' probes to
# amy, so that the loads' counts stay exact.
loader load --nodes "$u1,$u2" --user ada --tasks "$tasks" --seconds 300 --threads 4 \
  --stop-file "$dir/a.stop" --out "$dir/a-survivors.json" >"$dir/a-survivors.out" 2>&1 &
a_load=$!
loader load --nodes "$u3" --user ana --tasks "$tasks" --seconds 300 --threads 2 \
  --stop-file "$dir/a.stop" --out "$dir/a-n3.json" >"$dir/a-n3.out" 2>&1 &
a_load3=$!
loaders+=("$a_load" "$a_load3")
sleep 1
netns_cut 3 db
cut_at=$(now_ms)
check "A: n1 sees n3 dead" wait_for 30 is_status "$u1" n3 dead
echo "# A: $(($(now_ms) - cut_at)) ms until n3 was dead in n1's view"
check "A: n2 sees n3 dead" wait_for 30 is_status "$u2" n3 dead
# n3 stops starting turns: a write through it to a task it ran gets no 200.
fenced_answer() { local r; r=$(log_once "$u3" amy "${a_n3[0]}"); echo "$r" >"$dir/a-fenced"; [ "${r%% *}" != 200 ]; }
check "A: n3 fences itself (a write through it to ${a_n3[0]} gets no 200)" wait_for 60 fenced_answer
echo "# A: through n3 while cut: $(cat "$dir/a-fenced") after $(($(now_ms) - cut_at)) ms"
check "A: n1 runs n3's tasks (a write through n1 to each answers 200 from n1 or n2)" \
  all_log_elsewhere "$u1" amy n3 30 "${a_n3[@]}"
check "A: n2 too" all_log_elsewhere "$u2" amy n3 30 "${a_n3[@]}"
check "A: then every write through n1 and read through n2 succeeds" every_call_succeeds "$u1" amy "$tasks" "$u2"
echo "# A: views during the cut:"; views
netns_heal 3 db
healed_at=$(now_ms)
lost_more() { [ "$(grep -c 'cluster membership lost' "$dir/n3.log")" -gt "$lost_before" ]; }
check "A: n3 notices it lost its membership" wait_for 60 lost_more
check "A: healed, every node sees 3 alive" wait_for 60 all_see_alive 3
echo "# A: $(($(now_ms) - healed_at)) ms from the heal until 3 alive everywhere"
check "A: n3 is a new incarnation (was $inc_before)" \
  test "$(incarnation_in "$u1" n3)" -gt "${inc_before:-0}"
after_heal A amy "${a_n3[0]}" "$a_load" "$a_load3" amy ada ana

# ---- B. n3 cut from its peers, not from the database ----
loader load --nodes "$u1,$u2,$u3" --user bea --tasks "$tasks" --seconds 0 --threads 1 \
  --out "$dir/b-warm.json" >/dev/null
mapfile -t b_n3 < <(tasks_of "$u1" bea "$tasks" n3)
check "B: n3 runs some of bea's tasks (${#b_n3[@]})" test "${#b_n3[@]}" -gt 0
# As in A: the loads write to bec and bel, the probes to bea.
loader load --nodes "$u1,$u2" --user bec --tasks "$tasks" --seconds 300 --threads 4 \
  --stop-file "$dir/b.stop" --out "$dir/b-survivors.json" >"$dir/b-survivors.out" 2>&1 &
b_load=$!
# Through n3 from inside its namespace (the hub cannot reach it during the cut).
ip netns exec "$(ns_of n3)" python3 "$dir/load.py" "$load" load --nodes "$u3" --user bel \
  --tasks "$tasks" --seconds 300 --threads 2 --stop-file "$dir/b.stop" \
  --out "$dir/b-n3.json" >"$dir/b-n3.out" 2>&1 &
b_load3=$!
loaders+=("$b_load" "$b_load3")
sleep 1
netns_cut 3 peers
cut_at=$(now_ms)
first_answer=$(log_once "$u1" bea "${b_n3[0]}")
echo "# B: the first write through n1 to ${b_n3[0]} after the cut: $first_answer after $(($(now_ms) - cut_at)) ms"
check "B: n3 is voted out of n1's view" wait_for 60 not_alive "$u1" n3
echo "# B: n3 in n1's view: '$(status_in "$u1" n3)' after $(($(now_ms) - cut_at)) ms"
check "B: n1 runs n3's tasks (writes answer 200 from n1 or n2)" \
  all_log_elsewhere "$u1" bea n3 60 "${b_n3[@]}"
check "B: n2 too" all_log_elsewhere "$u2" bea n3 60 "${b_n3[@]}"
check "B: then every write through n1 and read through n2 succeeds" every_call_succeeds "$u1" bea "$tasks" "$u2"
check "B: and every write through n2 and read through n1" every_call_succeeds "$u2" bea "$tasks" "$u1"
echo "# B: views during the cut (n3's from the hub cannot answer):"; views
echo "#   n3 from inside its namespace: $(n3_view_inside)"
echo "# B: n3's log during the cut:"; tail -n 5 "$dir/n3.log" | sed 's/^/#   /'
netns_heal 3 peers
healed_at=$(now_ms)
check "B: healed, every node sees 3 alive" wait_for 60 all_see_alive 3
echo "# B: $(($(now_ms) - healed_at)) ms from the heal until 3 alive everywhere"
after_heal B bea "${b_n3[0]}" "$b_load" "$b_load3" bea bec bel
check "B: A's writes still read the same through n3 (amy)" same_minutes "$u3" amy amy "$tasks" "$u2"

check "no sanitizer report in any node's log" bash -c "! grep -q Sanitizer $dir/*.log"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
