#!/usr/bin/env bash
# Stops what deploy/local/up.sh started in DIR (SIGTERM, then waits; the state stays in DIR).
# Usage: deploy/local/down.sh [DIR=build/local]
set -euo pipefail
cd "$(dirname "$0")/../.."
dir="$(realpath -m "${1:-build/local}")"
[ -s "$dir/pids" ] || { echo "nothing running in $dir"; exit 0; }
while read -r pid name; do
  if kill -TERM "$pid" 2>/dev/null; then
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "$name (pid $pid) did not stop on SIGTERM; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
done < "$dir/pids"
: > "$dir/pids"
echo "stopped; state and logs remain in $dir"
