#!/usr/bin/env bash
# Memory outside the containers, like for like: with one container
# running, then N (default 50) more sleeping ones, the growth of the memory
# of everything the engine runs beside its containers, divided by N. For
# enginefs: the daemon and the keeper. For docker, when
# ../shared/tools/peers.sh is up: dockerd, containerd and the
# containerd-shims (one per container). Both as PSS (shared pages split
# among the processes that map them: what the machine really spends) and
# as RSS (each process counted whole, as top shows it). Also the idle
# daemon's RSS.
cd "$(dirname "$0")/.."
. bench/lib.sh
N=${N:-50}
start_daemon
sleep 1
idle=$(rss_kb "$daemon_pid")
bin/dctl run -d --name warm busybox sleep 600 >/dev/null
sleep 1
keeper=$(cat "$work/run/keeper.pid")
rss_sum() { local s=0 p; for p in "$@"; do s=$((s + $(rss_kb "$p"))); done; echo "$s"; }
p1=$(pss_kb "$daemon_pid" "$keeper"); r1=$(rss_sum "$daemon_pid" "$keeper")
for i in $(seq "$N"); do bin/dctl run -d busybox sleep 600 >/dev/null; done
sleep 2
p2=$(pss_kb "$daemon_pid" "$keeper"); r2=$(rss_sum "$daemon_pid" "$keeper")
echo "idle daemon RSS                 $((idle / 1024)) MiB (target <= 30 MiB)"
echo "enginefs per container (daemon + keeper, $N containers): PSS $(((p2 - p1) / N)) KiB, RSS $(((r2 - r1) / N)) KiB (target <= 1024 KiB)"
if have_docker; then
	ids=()
	bench_cleanup() { [ ${#ids[@]} -eq 0 ] || docker -H "$PEER_DOCKER" rm -f "${ids[@]}" >/dev/null 2>&1; true; }
	docker_pids() {
		echo "$(cat /tmp/peer/dockerd/pid) $(cat /tmp/peer/ctrd/pid)" # pid files without a newline
		pgrep -f containerd-shim # read only: the shims of the peers' containerd
	}
	ids+=("$(docker -H "$PEER_DOCKER" run -d --network none localhost/busybox:latest sleep 600)")
	sleep 1
	dp1=$(pss_kb $(docker_pids)); dr1=$(rss_sum $(docker_pids))
	for i in $(seq "$N"); do ids+=("$(docker -H "$PEER_DOCKER" run -d --network none localhost/busybox:latest sleep 600)"); done
	sleep 2
	dp2=$(pss_kb $(docker_pids)); dr2=$(rss_sum $(docker_pids))
	echo "docker per container (dockerd + containerd + shims, $N containers): PSS $(((dp2 - dp1) / N)) KiB, RSS $(((dr2 - dr1) / N)) KiB"
	echo "docker / enginefs per container: PSS $(python3 -c "print(f'{($dp2-$dp1)/max(1,$p2-$p1):.1f}')")x, RSS $(python3 -c "print(f'{($dr2-$dr1)/max(1,$r2-$r1):.1f}')")x"
	docker -H "$PEER_DOCKER" rm -f "${ids[@]}" >/dev/null
	ids=()
else
	echo "docker: not measured (../shared/tools/peers.sh start brings it up)"
fi
