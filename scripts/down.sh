#!/usr/bin/env bash
# Undoes scripts/up.sh: removes every container (they would outlive the
# daemon under the keeper), then stops the daemon with SIGTERM and waits for
# it and for the keeper, which exits once idle.
set -euo pipefail
RUN=/run/enginefs MNT=/mnt/engine
pidfile=$RUN/enginefs.pid
[ -f "$pidfile" ] || { echo "enginefs is not running"; exit 0; }
pid=$(cat "$pidfile")
kill -0 "$pid" 2>/dev/null || { echo "enginefs (pid $pid) is not running"; exit 0; }
for c in $(ls "$MNT/containers" 2>/dev/null | grep -E '^[0-9a-f]{64}$'); do
	echo "rm force" >"$MNT/containers/$c/ctl" || true
done
kill -TERM "$pid"
for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && { echo "enginefs (pid $pid) did not stop within 15 s" >&2; exit 1; }
kp=$(cat "$RUN/keeper.pid" 2>/dev/null || true)
for _ in $(seq 50); do [ -n "$kp" ] && kill -0 "$kp" 2>/dev/null || break; sleep 0.1; done
echo "enginefs stopped"
