#!/usr/bin/env bash
# Stops the daemon started by scripts/up.sh: SIGTERM to its pid, then waits.
set -euo pipefail
pidfile=/run/enginefs/enginefs.pid
[ -f "$pidfile" ] || { echo "enginefs is not running"; exit 0; }
pid=$(cat "$pidfile")
kill -TERM "$pid" 2>/dev/null || { echo "enginefs (pid $pid) is not running"; exit 0; }
for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || { echo "enginefs stopped"; exit 0; }; sleep 0.1; done
echo "enginefs (pid $pid) did not stop within 15 s" >&2
exit 1
