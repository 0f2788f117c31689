#!/usr/bin/env bash
# Throughput: N (default 100) `run --rm busybox true` started at once, wall
# time until all are done, for enginefs (dctl), bare `runc run` (each on its
# own name, on one read-only bundle) and, when ../shared/tools/peers.sh is
# up, docker and podman, in the same run. Every engine runs its containers
# without a network (enginefs --default-network none, the peers' dockerd
# --bridge none, podman --network none). Each start's exit status is
# checked: the rate counts the starts that succeeded, failures are printed,
# and the script fails if any enginefs start failed.
cd "$(dirname "$0")/.."
. bench/lib.sh
N=${N:-100}
start_daemon
runc_bundle "$work/bundle"
bin/dctl run --rm busybox true
failed_dctl=0
timed() { # timed NAME CMD...: run CMD N times at once; print the wall time, the rate and the failures
	local name=$1; shift
	local t0 t1 pids=() pid fails=0
	t0=$(date +%s.%N)
	for i in $(seq "$N"); do "$@" "$i" >/dev/null 2>"$work/err.$i" & pids+=($!); done
	for pid in "${pids[@]}"; do wait "$pid" || fails=$((fails + 1)); done
	t1=$(date +%s.%N)
	python3 -c "import sys; d=float(sys.argv[2])-float(sys.argv[1]); n=int(sys.argv[4]); f=int(sys.argv[5]); print(f'{sys.argv[3]:18s} {n} starts in {d:6.2f} s  {(n-f)/d:7.1f}/s  ({f} failed)')" "$t0" "$t1" "$name" "$N" "$fails"
	if [ "$fails" -gt 0 ]; then
		echo "  first error: $(cat "$work"/err.* | head -1)"
	fi
	rm -f "$work"/err.*
	[ "$name" != "dctl run --rm" ] || failed_dctl=$fails
}
dctl_run() { bin/dctl run --rm busybox true; }
runc_run() { runc run --bundle "$work/bundle" "bench-$$-$1"; }
docker_run() { docker -H "$PEER_DOCKER" run --rm --network none localhost/busybox:latest true; }
podman_run() { podman run --rm $PODMAN_FLAGS localhost/busybox:latest true; }
timed "dctl run --rm" dctl_run
timed "runc run" runc_run
have_docker && timed "docker run --rm" docker_run
have_podman && timed "podman run --rm" podman_run
left=$(bin/dctl ps -aq | wc -l)
[ "$left" = 0 ] || { echo "bench: $left containers left after run --rm" >&2; exit 1; }
[ "$failed_dctl" = 0 ] || { echo "bench: $failed_dctl enginefs starts failed" >&2; exit 1; }
