#!/usr/bin/env bash
# metrics_test.sh — GET /metrics of a real vactord against the real
# promtool (Debian's prometheus package): after Task API and Dapr
# requests (a failed turn, a reminder that fires) the whole text passes
# `promtool check metrics` (format and lint: counters end in _total, HELP
# and TYPE lines, base units); vactor_build_info carries the version
# `vactord --version` prints (or, without that option, include/vactor.h's
# VA_VERSION_* macros); the process metrics are there and sane (RSS and
# open descriptors above 0, the start time when the test started it, CPU
# time that does not go back). Then docs/grafana/vactor.json: valid JSON,
# importable (the datasource an input, ${DS_PROMETHEUS}), every query valid
# PromQL (promtool check rules), and every metric name it uses present in
# the scraped text — so the dashboard cannot drift from the code. With a
# database ($VACTOR_TEST_PG_URL, from tests/support/with_postgres.sh) the
# same checks run on two cluster nodes' text, which adds vactor_cluster_*;
# without one, cluster names are reported unchecked.
# Usage: metrics_test.sh PATH_TO_VACTORD
vactord="$1"
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
root="$here/../.."
dashboard="$root/docs/grafana/vactor.json"

if ! command -v promtool >/dev/null; then
  echo "not ok - promtool is missing: scripts/install-deps.sh installs it" \
       "(Debian package prometheus, without starting its service)"
  exit 1
fi

# lint FILE: promtool check metrics reads FILE, exits 0 and says nothing.
lint() {
  local said
  said=$(promtool check metrics < "$1" 2>&1); local code=$?
  [ -n "$said" ] && printf '# promtool: %s\n' "${said//$'\n'/$'\n'# promtool: }"
  [ "$code" = 0 ] && [ -z "$said" ]
}
# sample FILE NAME: the value of the unlabelled sample NAME.
sample() { awk -v n="$2" '$1 == n { print $2; exit }' "$1"; }
# The sample names in FILE (histograms' _bucket, _sum, _count included).
names_in() { grep -v '^#' "$1" | sed -E 's/[{ ].*//' | sort -u; }
jqe() { jq -e "$@" >/dev/null; } # jq -e, quietly
scrape() { # URL FILE: GET URL/metrics into FILE, its headers into FILE.head
  curl -s -D "$2.head" -o "$2" "$1/metrics"
}

# ---- One node ----

started_at=$(date +%s)
check "starts" start --threads 2
v="$url/v1/users"
a="$url/v1.0/actors"
curl -s -o /dev/null -X PUT "$v/ann/tasks/t1" -d '{"title":"metrics","members":["bob"]}'
curl -s -o /dev/null -X POST "$v/ann/tasks/t1/log" -d '{"minutes":5}'
curl -s -o /dev/null "$v/bob/tasks/t1"
curl -s -o /dev/null "$v/ann/tasks"
curl -s -o /dev/null "$v/carol/tasks/t1"                    # 404
curl -s -o /dev/null -X POST "$v/ann/tasks/t1/log" -d 'nope' # 400
curl -s -o /dev/null "$url/v1.0/metadata"
curl -s -o /dev/null -X POST "$a/TaskActor/d1/method/create" -d '[{"user":"ann","title":"via dapr"}]'
curl -s -o /dev/null -X POST "$a/TaskActor/d1/method/get" -d '{"user":"stranger"}' # a failed turn
curl -s -o /dev/null "$a/TaskActor/d1/state/doc"
curl -s -o /dev/null -X POST "$a/TaskActor/d1/reminders/soon" -d '{"dueTime":"0.5s"}'
curl -s -o /dev/null "$url/no/such/route"
# The reminder's turn, counted (polled, bounded).
reminder_counted() {
  for _ in $(seq 300); do
    scrape "$url" "$dir/m0"
    [ "$(sample "$dir/m0" vactor_reminders_fired_total)" -ge 1 ] 2>/dev/null &&
      [ "$(sample "$dir/m0" vactor_reminders_due_total)" -ge 1 ] 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
check "the reminder's fire and turn are counted (vactor_reminders_due_total, _fired_total)" reminder_counted

scrape "$url" "$dir/m1"
check "GET /metrics is 200" grep -q '^HTTP/1.1 200' "$dir/m1.head"
check "content type is the text format 0.0.4" grep -qi '^content-type: text/plain; version=0.0.4' "$dir/m1.head"
check "promtool check metrics: no complaint" lint "$dir/m1"
check "the text ends with a newline" test "$(tail -c 1 "$dir/m1" | od -An -c | tr -d ' ')" = '\n'

# Each family once: a second HELP or TYPE for a name would be refused by
# Prometheus' parser; promtool says so too, this names the family.
dup=$(grep -E '^# (HELP|TYPE) ' "$dir/m1" | awk '{ print $2, $3 }' | sort | uniq -d)
check "no family is written twice${dup:+ (twice: $dup)}" test -z "$dup"

version_of_header() {
  local h="$root/include/vactor.h"
  printf '%s.%s.%s' \
    "$(awk '$2 == "VA_VERSION_MAJOR" { print $3 }' "$h")" \
    "$(awk '$2 == "VA_VERSION_MINOR" { print $3 }' "$h")" \
    "$(awk '$2 == "VA_VERSION_PATCH" { print $3 }' "$h")"
}
build_version=$(sed -nE 's/^vactor_build_info\{version="([^"]*)"\} 1$/\1/p' "$dir/m1")
check "vactor_build_info is one sample, value 1" test "$(grep -c '^vactor_build_info{' "$dir/m1")" = 1 -a -n "$build_version"
check "vactor_build_info is a gauge" grep -qx '# TYPE vactor_build_info gauge' "$dir/m1"
check "vactor_build_info's version is include/vactor.h's ($(version_of_header))" test "$build_version" = "$(version_of_header)"
if said=$("$vactord" --version 2>/dev/null); then
  printed=$(echo "$said" | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -1)
  check "vactor_build_info's version is what vactord --version prints ($printed)" test -n "$printed" -a "$build_version" = "$printed"
else
  echo "# vactord has no --version yet: compared with include/vactor.h only"
fi

gt0() { awk -v x="$1" 'BEGIN { exit !(x + 0 > 0) }'; }
for m in process_resident_memory_bytes process_virtual_memory_bytes process_open_fds process_max_fds; do
  check "$m > 0 ($(sample "$dir/m1" "$m"))" gt0 "$(sample "$dir/m1" "$m")"
done
check "process_open_fds <= process_max_fds" awk -v o="$(sample "$dir/m1" process_open_fds)" -v m="$(sample "$dir/m1" process_max_fds)" 'BEGIN { exit !(o + 0 > 0 && o + 0 <= m + 0) }'
for m in process_cpu_seconds_total process_start_time_seconds; do
  check "$m is a number ($(sample "$dir/m1" "$m"))" awk -v x="$(sample "$dir/m1" "$m")" 'BEGIN { exit !(x ~ /^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$/) }'
done
# Boot time is whole seconds in /proc/stat and the wall clock may have been
# stepped since boot: a minute either side still tells seconds from ticks
# or milliseconds.
ended_at=$(date +%s)
check "process_start_time_seconds is when the test started vactord" awk -v s="$(sample "$dir/m1" process_start_time_seconds)" -v a="$started_at" -v b="$ended_at" 'BEGIN { exit !(s + 0 >= a - 60 && s + 0 <= b + 60) }'
check "process_max_fds is vactord's RLIMIT_NOFILE" test "$(sample "$dir/m1" process_max_fds)" = "$(awk '/^Max open files/ { print $4 }' "/proc/$pid/limits")"
scrape "$url" "$dir/m2"
check "process_cpu_seconds_total does not go back" awk -v x="$(sample "$dir/m1" process_cpu_seconds_total)" -v y="$(sample "$dir/m2" process_cpu_seconds_total)" 'BEGIN { exit !(y + 0 >= x + 0) }'
check "the second scrape passes promtool too" lint "$dir/m2"

# What the requests above did, counted.
check "turns counted" gt0 "$(sample "$dir/m1" vactor_turns_total)"
check "the failed turn counted" gt0 "$(sample "$dir/m1" vactor_turns_failed_total)"
check "store commits counted" gt0 "$(sample "$dir/m1" vactor_store_commits_total)"
check "active TaskActors by type" grep -Eq '^vactor_active_actors_by_type\{type="TaskActor"\} [1-9]' "$dir/m1"
for route in tasks.create tasks.log dapr.invoke metrics; do
  check "requests of route $route counted" grep -Eq "^vactor_http_requests_total\{route=\"$route\",status=\"[0-9]+\"\} [1-9]" "$dir/m1"
done
check "the route's latency histogram" grep -Eq '^vactor_http_request_duration_seconds_bucket\{route="tasks.create",le="\+Inf"\} [1-9]' "$dir/m1"
check "the 404 counted" grep -Eq '^vactor_http_requests_total\{route="unmatched",status="404"\} [1-9]' "$dir/m1"
check "stops" stop
names_in "$dir/m1" > "$dir/names"

# ---- Two cluster nodes (with a database) ----

cluster=
if [ -n "${VACTOR_TEST_PG_URL:-}" ]; then
  source "$here/cluster_lib.sh"
  cluster=yes
  check "cluster: node a starts" node_start a
  check "cluster: node b starts" node_start b
  check "cluster: both see two alive members" wait_for 60 members_alive "$(node_url a)" 2
  # Tasks of many users through a: some run on b (forwarded calls).
  for i in $(seq 30); do
    curl -s -o /dev/null -X PUT "$(node_url a)/v1/users/u$i/tasks/t" -d '{"title":"c"}'
  done
  forwarded() {
    scrape "$(node_url a)" "$dir/ca"
    [ "$(sample "$dir/ca" vactor_cluster_forwarded_calls_total)" -ge 1 ] 2>/dev/null
  }
  check "cluster: a forwarded calls to b" wait_for 60 forwarded
  scrape "$(node_url b)" "$dir/cb"
  check "cluster: node a's text passes promtool" lint "$dir/ca"
  check "cluster: node b's text passes promtool" lint "$dir/cb"
  check "cluster: a has vactor_cluster_members" grep -Eq '^vactor_cluster_members\{status="alive"\} 2$' "$dir/ca"
  check "cluster: a's link to b is connected" grep -Eq '^vactor_cluster_link_connected\{peer="b"\} [1-9]' "$dir/ca"
  names_in "$dir/ca" >> "$dir/names"
  names_in "$dir/cb" >> "$dir/names"
  sort -u -o "$dir/names" "$dir/names"
fi

# ---- The Grafana dashboard ----

check "dashboard: valid JSON, an object" jqe 'type == "object"' "$dashboard"
check "dashboard: the datasource is an input, DS_PROMETHEUS" jqe '.__inputs | map(select(.name == "DS_PROMETHEUS" and .type == "datasource" and .pluginId == "prometheus")) | length == 1' "$dashboard"
check "dashboard: no id of another Grafana's (id null)" jqe '.id == null' "$dashboard"
# shellcheck disable=SC2016 # ${DS_PROMETHEUS} is Grafana's, not the shell's
check "dashboard: every panel and query uses \${DS_PROMETHEUS}" jqe '[.. | objects | select(has("datasource")) | .datasource | select(.uid != "${DS_PROMETHEUS}")] | length == 0' "$dashboard"
jq -r '[.. | objects | .expr? // empty] + [.templating.list[] | .query.query? // .query] | .[]' "$dashboard" > "$dir/exprs"
check "dashboard: $(wc -l < "$dir/exprs") queries, each naming a metric" bash -c "[ \$(wc -l < '$dir/exprs') -ge 20 ] && ! grep -vqE '(vactor|process)_[a-z]' '$dir/exprs'"
# Every query as a recording rule: promtool parses it as PromQL. Grafana's
# variables become what they stand for.
{
  echo 'groups:'
  echo '  - name: dashboard'
  echo '    rules:'
  n=0
  # shellcheck disable=SC2016 # Grafana's variables, not the shell's
  grep -v '^label_values(' "$dir/exprs" | sed -e 's/\$__rate_interval/5m/g' -e 's/\$instance/.*/g' |
    while IFS= read -r e; do
      n=$((n + 1))
      echo "      - record: dashboard:query_$n"
      echo "        expr: $(jq -Rn --arg e "$e" '$e')"
    done
} > "$dir/rules.yml"
check "dashboard: every query is valid PromQL (promtool check rules)" bash -c "promtool check rules '$dir/rules.yml' >'$dir/rules.out' 2>&1 || { sed 's/^/# /' '$dir/rules.out'; exit 1; }"
grep -oE '\b(vactor|process)_[A-Za-z0-9_]+' "$dir/exprs" | sort -u > "$dir/used"
missing=
while read -r name; do
  if [ -z "$cluster" ] && [[ $name == vactor_cluster_* ]]; then
    echo "# $name: unchecked (no database: run under tests/support/with_postgres.sh)"
  elif ! grep -qx "$name" "$dir/names"; then
    missing="$missing $name"
  fi
done < "$dir/used"
check "dashboard: every metric it uses is in /metrics ($(wc -l < "$dir/used") names)${missing:+; missing:$missing}" test -z "$missing"
finish
