# netns.sh — a private network of Linux network namespaces for the
# partition test (tests/integration/cluster_partition_test.sh); source it
# (bash, as root). The host's own network is never touched: every link is
# created inside the namespaces, whose names all start with one prefix
# (unique per run), so runs may overlap.
#
# The topology, for nodes 1..N:
#
#   PREFIX-hub   two bridges: br-peers 10.77.1.254/24, br-db 10.77.2.254/24;
#                lo up, no forwarding between them. PostgreSQL and the test
#                itself run here.
#   PREFIX-nK    node K: interface `peers` 10.77.1.K/24 (bridged in the hub
#                by veth pK: the node-to-node link, and the test's calls)
#                and `db` 10.77.2.K/24 (veth dK in the hub: the way to
#                PostgreSQL); lo up, no default route.
#
#   netns_check_usable           fails (1) with a message unless root and
#                                `ip netns` work
#   netns_up PREFIX N            creates the topology (1 on failure)
#   netns_down PREFIX            ends every process in the namespaces
#                                (the nodes' at once, the hub's with TERM
#                                first) and deletes them; idempotent
#   netns_guard PREFIX PID       a process in its own session that runs
#                                netns_down once PID is gone, however PID
#                                went (kill -9, a CTest timeout)
#   netns_cut K peers|db         from inside the hub: sets node K's veth
#   netns_heal K peers|db        down (a cut: packets are dropped) or up
netns_lib="${BASH_SOURCE[0]}"

netns_check_usable() {
  if [ "$(id -u)" != 0 ]; then
    echo "netns: the partition test needs root for ip netns (CI runs it as root); set VACTOR_SKIP_NETNS=1 to skip it" >&2
    return 1
  fi
  if ! command -v ip >/dev/null 2>&1; then
    echo "netns: no ip command (apt-get install iproute2); set VACTOR_SKIP_NETNS=1 to skip it" >&2
    return 1
  fi
  local probe="vactor-probe-$$"
  if ! ip netns add "$probe" 2>/dev/null; then
    echo "netns: ip netns add fails here (no network namespaces in this container?); set VACTOR_SKIP_NETNS=1 to skip it" >&2
    return 1
  fi
  ip netns del "$probe"
}

netns_names() { # prefix: every namespace of that prefix that exists
  ip netns list 2>/dev/null | awk -v p="$1-" 'index($1, p) == 1 {print $1}'
}

netns_up() { # prefix, node count
  local prefix="$1" n="$2" hub="$1-hub" k ns
  ip netns add "$hub" || return 1
  ip -n "$hub" link set lo up &&
    ip netns exec "$hub" sysctl -qw net.ipv4.ip_forward=0 &&
    ip -n "$hub" link add br-peers type bridge &&
    ip -n "$hub" link add br-db type bridge &&
    ip -n "$hub" addr add 10.77.1.254/24 dev br-peers &&
    ip -n "$hub" addr add 10.77.2.254/24 dev br-db &&
    ip -n "$hub" link set br-peers up &&
    ip -n "$hub" link set br-db up || return 1
  for k in $(seq "$n"); do
    ns="$prefix-n$k"
    ip netns add "$ns" &&
      ip -n "$ns" link set lo up &&
      ip -n "$hub" link add "p$k" type veth peer name peers netns "$ns" &&
      ip -n "$hub" link add "d$k" type veth peer name db netns "$ns" &&
      ip -n "$hub" link set "p$k" master br-peers &&
      ip -n "$hub" link set "d$k" master br-db &&
      ip -n "$hub" link set "p$k" up &&
      ip -n "$hub" link set "d$k" up &&
      ip -n "$ns" addr add "10.77.1.$k/24" dev peers &&
      ip -n "$ns" addr add "10.77.2.$k/24" dev db &&
      ip -n "$ns" link set peers up &&
      ip -n "$ns" link set db up || return 1
  done
}

# The processes in namespace $1 (none once it is gone).
netns_pids() { ip netns pids "$1" 2>/dev/null; }

netns_down() { # prefix
  local ns pids _
  for ns in $(netns_names "$1"); do
    [ "$ns" = "$1-hub" ] && continue
    pids=$(netns_pids "$ns")
    # shellcheck disable=SC2086  # a list of pids
    [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
  done
  # The hub's: with_postgres.sh stops its server on TERM.
  pids=$(netns_pids "$1-hub")
  # shellcheck disable=SC2086
  [ -n "$pids" ] && kill -TERM $pids 2>/dev/null
  for _ in $(seq 300); do
    [ -z "$(netns_pids "$1-hub")" ] && break
    sleep 0.1
  done
  pids=$(netns_pids "$1-hub")
  # shellcheck disable=SC2086
  [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
  for ns in $(netns_names "$1"); do
    ip netns del "$ns" 2>/dev/null
  done
  return 0
}

netns_guard() { # prefix, pid
  (setsid bash -c "source '$netns_lib'
    while kill -0 $2 2>/dev/null; do sleep 1; done
    netns_down '$1'" </dev/null >/dev/null 2>&1 &)
}

netns_cut() { ip link set "${2:0:1}$1" down; }
netns_heal() { ip link set "${2:0:1}$1" up; }
