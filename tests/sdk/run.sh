#!/usr/bin/env bash
# run.sh — runs the Dapr SDK tests against a real vactord: installs the
# pinned @dapr/dapr from the npm registry (npm ci, package-lock.json) into
# a copy of this folder under the build tree, starts vactord, and runs
# client_test.js with node.
# Usage: run.sh PATH_TO_VACTORD WORK_DIR
vactord="$1"
work="$2"
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../integration/lib.sh"
mkdir -p "$work"
cp "$here/package.json" "$here/package-lock.json" "$here/client_test.js" "$work/"
check "npm ci (the pinned @dapr/dapr)" bash -c "cd '$work' && npm ci --no-audit --no-fund --loglevel=error >'$dir/npm.log' 2>&1 || { cat '$dir/npm.log'; false; }"
check "starts" start
check "the SDK client against vactord" env VACTORD_PORT="$port" node "$work/client_test.js"
check "stops cleanly" stop
finish
