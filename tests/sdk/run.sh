#!/usr/bin/env bash
# run.sh — runs the Dapr SDK tests against a real vactord: installs the
# pinned @dapr/dapr from the npm registry (npm ci, package-lock.json) into
# a copy of this folder under the build tree; runs client_test.js (an SDK
# client calling vactord's native actors); then host_app.js (an app
# hosting CounterActor with the SDK's DaprServer) behind vactord
# (--app-port), driven by host_test.js, across a restart of vactord.
# Usage: run.sh PATH_TO_VACTORD WORK_DIR
vactord="$1"
work="$2"
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../integration/lib.sh"
mkdir -p "$work"
cp "$here"/package.json "$here"/package-lock.json "$here"/*.js "$work/"
check "npm ci (the pinned @dapr/dapr)" bash -c "cd '$work' && npm ci --no-audit --no-fund --loglevel=error >'$dir/npm.log' 2>&1 || { cat '$dir/npm.log'; false; }"
check "starts (the SDK client writes a native actor's state too: --repair-state)" start --repair-state
check "the SDK client against vactord" env VACTORD_PORT="$port" node "$work/client_test.js"
check "stops cleanly" stop

# An app hosting an actor type behind vactord.
app_port=$(free_port)
check "starts with --app-port" start --app-port "$app_port"
APP_PORT=$app_port DAPR_HTTP_PORT=$port node "$work/host_app.js" >"$dir/app.log" 2>&1 &
also_kill=$!
check "the SDK app behind vactord" env VACTORD_PORT="$port" node "$work/host_test.js" run
check "stops cleanly with the app" stop
check "restarts" start --app-port "$app_port"
check "after the restart" env VACTORD_PORT="$port" node "$work/host_test.js" after-restart
check "stops cleanly again" stop
check "the app is still running" kill -0 "$also_kill"
[ "$fail" = 0 ] || cat "$dir/app.log"
finish
