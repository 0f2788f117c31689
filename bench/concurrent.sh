#!/usr/bin/env bash
# Throughput: N (default 100) `run --rm busybox true` started at once, wall
# time until all are done, for enginefs (dctl), bare `runc run` (each on its
# own copy-free read-only bundle) and, when ../shared/tools/peers.sh is up,
# docker and podman, in the same run. Prints seconds and containers/s.
cd "$(dirname "$0")/.."
. bench/lib.sh
N=${N:-100}
start_daemon
runc_bundle "$work/bundle"
bin/dctl run --rm busybox true
timed() { # timed NAME CMD...: run CMD N times at once, print the wall time
	local name=$1; shift
	local t0 t1 pids=()
	t0=$(date +%s.%N)
	for i in $(seq "$N"); do "$@" "$i" >/dev/null 2>&1 & pids+=($!); done
	wait "${pids[@]}" # not a bare wait: the daemon is a child of this shell too
	t1=$(date +%s.%N)
	python3 -c "import sys; d=float(sys.argv[2])-float(sys.argv[1]); print(f'{sys.argv[3]:18s} {int(sys.argv[4])} starts in {d:6.2f} s  {int(sys.argv[4])/d:7.1f}/s')" "$t0" "$t1" "$name" "$N"
}
dctl_run() { bin/dctl run --rm busybox true; }
runc_run() { runc run --bundle "$work/bundle" "bench-$$-$1"; }
docker_run() { docker -H "$PEER_DOCKER" run --rm localhost/busybox:latest true; }
podman_run() { podman run --rm $PODMAN_FLAGS localhost/busybox:latest true; }
timed "dctl run --rm" dctl_run
timed "runc run" runc_run
have_docker && timed "docker run --rm" docker_run
have_podman && timed "podman run --rm" podman_run
left=$(bin/dctl ps -aq | wc -l)
[ "$left" = 0 ] || { echo "bench: $left containers left after run --rm" >&2; exit 1; }
