#!/usr/bin/env bash
# install-deps.sh — installs the Debian 12 packages vactor needs to build,
# test and benchmark, if any is missing. Each group of packages is checked
# by what the build or a test uses (a command, a header, a pkg-config
# module), so that a run with everything present takes no apt call and
# says "all present"; a missing group gets a line saying what it is for.
# Idempotent; needs root (or sudo). Services that come with a package
# (postgresql, prometheus) are not started: the tests start their own.
set -euo pipefail

has() { command -v "$1" >/dev/null 2>&1; }
pc() { has pkg-config && pkg-config --exists "$@"; }
any() { compgen -G "$1" >/dev/null; } # a glob matches a file

missing=()
need() { # WHAT-FOR PACKAGE...: called for a group whose check failed
  local why=$1
  shift
  echo "install-deps: missing $*, for $why" >&2
  missing+=("$@")
}

has cc && has make && has cmake && has pkg-config && has git ||
  need "compiling and configuring the build" build-essential cmake pkg-config git
pc libxxhash sqlite3 libpq ||
  need "libvactor: hashing, the SQLite and PostgreSQL stores" libxxhash-dev libsqlite3-dev libpq-dev
pc jansson libcurl libcrypto libjwt && [[ -e /usr/include/http_parser.h ]] ||
  need "vactord: JSON, HTTP parsing, outbound HTTP, the cluster link's HMAC, users' JWTs" \
    libjansson-dev libhttp-parser-dev libcurl4-openssl-dev libssl-dev libjwt-dev
pc cmocka || need "the unit tests" libcmocka-dev
has curl && has jq && has python3 && python3 -c 'import yaml' 2>/dev/null ||
  need "the integration tests and the OpenAPI check" curl jq python3 python3-yaml
has openssl || need "the JWT test's keys and signatures" openssl
[[ -f /usr/share/zoneinfo/Europe/Berlin ]] ||
  need "named time zones (users' timeZone) and the tz test" tzdata
has clang && has clang-format &&
  any "/usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a" ||
  need "make fuzz (libFuzzer) and make format" clang libclang-rt-14-dev clang-format
any "/usr/lib/postgresql/*/bin/pg_ctl" ||
  need "the cluster tests' throw-away PostgreSQL" postgresql
has ip && has sysctl && has ps || need "the partition test (ip netns, sysctl)" iproute2 procps
has promtool || need "the metrics test (promtool check metrics)" prometheus
[[ -x /usr/bin/chromium ]] || need "the dashboard test (headless browser)" chromium
has groff && has man || need "the install test (renders vactord.1)" groff-base man-db
has wrk || need "the HTTP benchmarks (bench/run-http, run-dapr, run-cluster)" wrk
# Node.js and npm (the Dapr SDK tests): Debian's, unless the machine has
# them already from elsewhere (a NodeSource nodejs bundles npm, and Debian's
# npm package would conflict with it).
has node || need "the Dapr SDK tests" nodejs
has npm || need "the Dapr SDK tests" npm

if ((${#missing[@]} == 0)); then
  echo "install-deps: all present" >&2
  exit 0
fi

sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
# No service starts from a package's install script: a policy-rc.d that
# refuses (exit 101), unless the machine has one already (containers do),
# removed once apt is done. On a machine with systemd the units that came
# are also disabled, so that they do not start at the next boot either.
policy=/usr/sbin/policy-rc.d
own_policy=""
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\n# install-deps.sh: no service starts during the install\nexit 101\n' |
    $sudo tee "$policy" >/dev/null
  $sudo chmod 755 "$policy"
  own_policy=1
fi
remove_policy() { [[ -z $own_policy ]] || $sudo rm -f "$policy"; }
trap remove_policy EXIT

export DEBIAN_FRONTEND=noninteractive
apt=($sudo apt-get -o DPkg::Lock::Timeout=600)
echo "install-deps: apt-get update" >&2
"${apt[@]}" update -qq
echo "install-deps: apt-get install ${missing[*]}" >&2
"${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [[ -d /run/systemd/system ]]; then
  for unit in prometheus postgresql; do
    if [[ " ${missing[*]} " == *" $unit "* ]]; then
      $sudo systemctl disable --now "$unit" >/dev/null 2>&1 || true
    fi
  done
fi
echo "install-deps: done" >&2
