#!/usr/bin/env bash
# test-busy.sh — the whole suite (make test: release, ASan+UBSan, TSan) on a
# machine whose cores are kept busy by another process: stress-ng runs one
# CPU hog per core at the same priority as the tests for as long as they
# run (at most BUSY_MAX_S, 2 h by default), then is stopped. A test that
# only passes on an idle machine fails here. Usage: make test-busy.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
if ! command -v stress-ng >/dev/null; then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends stress-ng >/dev/null
fi
cpus=$(nproc)
stress-ng --cpu "$cpus" --timeout "${BUSY_MAX_S:-7200}s" --quiet &
hog=$!
trap 'kill "$hog" 2>/dev/null; wait "$hog" 2>/dev/null' EXIT
echo "test-busy: stress-ng --cpu $cpus (pid $hog) keeps every core busy" >&2
start=$(date +%s)
make test
echo "test-busy: make test passed with every core busy, in $(( $(date +%s) - start )) s" >&2
