#!/usr/bin/env bash
# format.sh — clang-format (14, .clang-format) over every C file the
# repository tracks. `format.sh` rewrites them in place; `format.sh --check`
# changes nothing and fails, listing the files, when one is not formatted
# (CI runs it before the tests).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || {
  echo "format: clang-format is missing (scripts/install-deps.sh installs it)" >&2
  exit 1
}
mapfile -t files < <(git ls-files '*.c' '*.h')
if [[ "${1:-}" == "--check" ]]; then
  bad=()
  for f in "${files[@]}"; do
    clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
  done
  if ((${#bad[@]})); then
    printf 'format: not clang-formatted (run make format): %s\n' "${bad[@]}" >&2
    exit 1
  fi
  echo "format: ${#files[@]} files clang-formatted"
else
  clang-format -i "${files[@]}"
fi
