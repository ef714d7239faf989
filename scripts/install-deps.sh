#!/usr/bin/env bash
# install-deps.sh — installs the Debian 12 packages vactor needs to build,
# test and benchmark, if any is missing. Idempotent; needs root (or sudo).
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libxxhash-dev libcmocka-dev libsqlite3-dev libhttp-parser-dev libjansson-dev
  libcurl4-openssl-dev curl jq python3 python3-yaml
  clang libclang-rt-14-dev clang-format
  libpq-dev postgresql libssl-dev
  iproute2 procps
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
# Node.js and npm (the Dapr SDK tests): Debian's, unless the machine has
# them already from elsewhere (a NodeSource nodejs bundles npm, and Debian's
# npm package would conflict with it).
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
((${#missing[@]})) || exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
