#!/usr/bin/env bash
# Memory: the idle daemon's RSS, and the memory each running container costs
# outside itself (the keeper's and the daemon's RSS growth with N sleeping
# containers, divided by N), against docker's containerd-shim per container
# when ../shared/tools/peers.sh is up.
cd "$(dirname "$0")/.."
. bench/lib.sh
N=${N:-50}
start_daemon
sleep 1
idle=$(rss_kb "$daemon_pid")
bin/dctl run -d --name warm busybox sleep 600 >/dev/null
sleep 1
keeper=$(cat "$work/run/keeper.pid")
k1=$(rss_kb "$keeper"); d1=$(rss_kb "$daemon_pid")
for i in $(seq "$N"); do bin/dctl run -d busybox sleep 600 >/dev/null; done
sleep 2
k2=$(rss_kb "$keeper"); d2=$(rss_kb "$daemon_pid")
echo "idle daemon RSS            $((idle / 1024)) MiB (target <= 30 MiB)"
echo "keeper RSS, 1 container    $((k1 / 1024)) MiB"
echo "keeper RSS, $((N + 1)) containers  $((k2 / 1024)) MiB"
echo "per container: keeper $(((k2 - k1) / N)) KiB + daemon $(((d2 - d1) / N)) KiB = $(((k2 - k1 + d2 - d1) / N)) KiB (target <= 1024 KiB)"
if have_docker; then
	ids=()
	for i in $(seq 10); do ids+=("$(docker -H "$PEER_DOCKER" run -d localhost/busybox:latest sleep 600)"); done
	sleep 2
	shims=$(pgrep -f containerd-shim | while read -r p; do rss_kb "$p"; done | awk '{s+=$1; n++} END {print int(s/n)}')
	echo "docker containerd-shim     ${shims} KiB per container (Debian docker.io, in the same run)"
	docker -H "$PEER_DOCKER" rm -f "${ids[@]}" >/dev/null
fi
