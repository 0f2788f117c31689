#!/usr/bin/env bash
# Starts the enginefs daemon in the background with the default paths, loads
# the bundled busybox image and runs a first container. Run as root from the
# repository (make up). Stop it with scripts/down.sh (make down).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=/run/enginefs MNT=/mnt/engine
if [ "$(id -u)" != 0 ]; then echo "up.sh: run as root (enginefs creates namespaces, cgroups and mounts)" >&2; exit 1; fi
mkdir -p "$RUN"
if [ -f "$RUN/enginefs.pid" ] && kill -0 "$(cat "$RUN/enginefs.pid")" 2>/dev/null; then
	echo "enginefs already running (pid $(cat "$RUN/enginefs.pid"))"
else
	setsid bin/enginefs >>"$RUN/enginefs.log" 2>&1 </dev/null &
	echo "enginefs started (pid $!), log in $RUN/enginefs.log"
	for _ in $(seq 100); do
		[ -S "$RUN/9p.sock" ] && cat "$MNT/version" >/dev/null 2>&1 && break
		kill -0 $! 2>/dev/null || { echo "enginefs exited:" >&2; tail -5 "$RUN/enginefs.log" >&2; exit 1; }
		sleep 0.1
	done
fi
cat "$MNT/version"
bin/dctl load -i build/fixtures/busybox.tar
set -x
bin/dctl run --rm busybox echo "hello from a busybox container on enginefs"
: the same through the tree with echo and cat:
echo "create name=first image=busybox -- sh -c 'echo I am pid \$\$ on \$(hostname)'" >"$MNT/containers/ctl"
echo start >"$MNT/containers/first/ctl"
cat "$MNT/containers/first/wait" "$MNT/containers/first/log" "$MNT/containers/first/status"
echo rm >"$MNT/containers/first/ctl"
