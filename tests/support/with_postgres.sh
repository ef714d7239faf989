#!/usr/bin/env bash
# with_postgres.sh — runs a command beside a throw-away PostgreSQL.
#
#   tests/support/with_postgres.sh CMD ARGS...
#
# Starts a private PostgreSQL (initdb + pg_ctl of Debian's postgresql
# package) in a fresh temporary folder, listening on 127.0.0.1 only, on a
# free port, with its unix socket in that folder; creates the database
# `vactor`; runs CMD with two variables set:
#
#   VACTOR_TEST_PG_URL  a libpq URI of that database
#                       (postgresql://postgres@127.0.0.1:PORT/vactor?...)
#   VACTOR_TEST_PG_CTL  a command line to which a test appends a pg_ctl
#                       action for the same server: "$VACTOR_TEST_PG_CTL
#                       restart -m fast", "... stop -m immediate", "... start"
#
# then stops the server, removes the folder and exits with CMD's status —
# also when CMD fails, and when this script gets a signal. A guard process
# outside this script's process group does the same if the script itself
# is killed outright (a CTest timeout).
#
# PostgreSQL refuses to run as root: as root, initdb and pg_ctl run as the
# `postgres` user. fsync stays on (the tests check durability); the server
# is small (shared_buffers 16MB, 100 connections). Authentication is trust,
# on loopback and the private socket only.
#
# VACTOR_TEST_PG_LISTEN=ADDR (optional, a numeric IPv4 address of this
# network namespace) makes the server listen on ADDR too, trusts the
# subnets this host is directly on (pg_hba `samenet`: meant for a private
# network namespace, such as the partition test's), and names ADDR in
# VACTOR_TEST_PG_URL instead of 127.0.0.1.
# cleanup and guard run from traps and a guard process, not inline:
# shellcheck disable=SC2317
set -euo pipefail

die() {
  echo "with_postgres.sh: $*" >&2
  exit 1
}

[ $# -ge 1 ] || die "usage: with_postgres.sh CMD ARGS..."

# The newest installed PostgreSQL.
bindir=""
for d in /usr/lib/postgresql/*/bin; do
  [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && bindir="$d"
done
[ -n "$bindir" ] || die "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): apt-get install postgresql (make deps does)"

# An extra address to listen on (see the top).
extra_listen="${VACTOR_TEST_PG_LISTEN:-}"
if [ -n "$extra_listen" ]; then
  [[ "$extra_listen" =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
    die "VACTOR_TEST_PG_LISTEN must be a numeric IPv4 address, not '$extra_listen'"
fi

# As root, the server's programs run as postgres.
as_db_user=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || die "running as root, and there is no postgres user to run PostgreSQL as"
  as_db_user=(runuser -u postgres --)
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/vactor-pg.XXXXXX")"
data="$tmp/data"
log="$tmp/server.log"
[ ${#as_db_user[@]} -eq 0 ] || chown postgres: "$tmp"
chmod 0700 "$tmp"

pg_ctl=("${as_db_user[@]}" "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 120)
child=""
cleaned=""

cleanup() {
  [ -n "$cleaned" ] && return
  cleaned=1
  if [ -n "$child" ]; then
    kill "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  if [ -f "$data/postmaster.pid" ]; then
    "${pg_ctl[@]}" stop -m immediate >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'cleanup; exit 129' HUP
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

# The guard: stops the server and removes the folder once this script is
# gone, however it went (its own session, so a kill of our process group
# spares it).
guard() {
  local script_pid=$1
  while kill -0 "$script_pid" 2>/dev/null; do sleep 1; done
  if [ -d "$tmp" ]; then
    if [ -f "$data/postmaster.pid" ]; then
      "${pg_ctl[@]}" stop -m immediate >/dev/null 2>&1 || true
    fi
    rm -rf "$tmp"
  fi
}
(setsid bash -c "$(declare -f guard); $(declare -p tmp data pg_ctl); guard $$" \
  </dev/null >/dev/null 2>&1 &)

"${as_db_user[@]}" "$bindir/initdb" -D "$data" -U postgres -A trust -E UTF8 \
  --locale=C --no-sync --no-instructions >"$tmp/initdb.log" 2>&1 ||
  { cat "$tmp/initdb.log" >&2; die "initdb failed"; }

# A free loopback port: one the kernel picks for a socket bound to port 0.
# Another process may take it before the server binds it, so a failed
# start is tried again on a new port.
# Without python3, a random high port (a taken one fails to start, and is
# tried again).
free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + RANDOM % 40000))
}

if [ -n "$extra_listen" ]; then
  echo "host all all samenet trust" >>"$data/pg_hba.conf"
fi

conf="$data/postgresql.conf"
cp "$conf" "$conf.orig"
started=""
for attempt in 1 2 3 4 5; do
  port="$(free_port)"
  cp "$conf.orig" "$conf"
  cat >>"$conf" <<EOF
listen_addresses = '127.0.0.1${extra_listen:+,$extra_listen}'
port = $port
unix_socket_directories = '$tmp'
max_connections = 100
shared_buffers = 16MB
fsync = on
synchronous_commit = on
max_wal_size = 256MB
log_min_messages = warning
log_min_error_statement = panic
EOF
  [ ${#as_db_user[@]} -eq 0 ] || chown postgres: "$conf"
  if "${pg_ctl[@]}" start >/dev/null 2>&1; then
    started=1
    break
  fi
  echo "with_postgres.sh: start on port $port failed (attempt $attempt)" >&2
done
[ -n "$started" ] || { cat "$log" >&2; die "PostgreSQL did not start"; }

"${as_db_user[@]}" "$bindir/createdb" -h "$tmp" -p "$port" -U postgres vactor ||
  die "createdb vactor failed"

export VACTOR_TEST_PG_URL="postgresql://postgres@${extra_listen:-127.0.0.1}:$port/vactor?sslmode=disable&gssencmode=disable"
export VACTOR_TEST_PG_CTL="${pg_ctl[*]}"

status=0
"$@" &
child=$!
wait "$child" || status=$?
child=""
exit "$status"
