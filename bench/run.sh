#!/usr/bin/env bash
# Latency: `dctl run --rm busybox echo hello` end to end against bare
# `runc run` on an equivalent bundle (the same busybox layers, runc's default
# config) and, when ../shared/tools/peers.sh is up, docker and podman, all in
# the same hyperfine run; the floor is an unshare+chroot of the same rootfs.
# No engine sets up a network: enginefs runs with --default-network none,
# runc's default bundle has a new network namespace with only lo, docker and
# podman run with --network none. Run as root from the repository after
# `make build fixtures` (make bench).
cd "$(dirname "$0")/.."
. bench/lib.sh
RUNS=${RUNS:-30}
command -v hyperfine >/dev/null || { echo "bench: needs hyperfine" >&2; exit 1; }
command -v runc >/dev/null || { echo "bench: needs runc" >&2; exit 1; }
start_daemon
runc_bundle "$work/bundle" echo hello
test "$(bin/dctl run --rm busybox echo hello)" = hello
peers=()
have_docker && peers+=(-n "docker run --rm" "docker -H $PEER_DOCKER run --rm --network none localhost/busybox:latest echo hello")
have_podman && peers+=(-n "podman run --rm" "podman run --rm $PODMAN_FLAGS localhost/busybox:latest echo hello")
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$work/result.json" \
	-n "dctl run --rm" "bin/dctl run --rm busybox echo hello" \
	-n "runc run" "runc run --bundle $work/bundle bench-runc" \
	-n "unshare+chroot" "unshare --fork --pid --mount --uts --ipc --net chroot $work/bundle/rootfs echo hello" \
	"${peers[@]}" >"$work/hyperfine.txt"
python3 - "$work/result.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
med = {k: v["median"] * 1000 for k, v in r.items()}
for k, v in med.items():
    print(f"{k:16s} median {v:7.1f} ms")
d = med['dctl run --rm']
print(f"dctl / runc run      {d / med['runc run']:.2f}x (target <= 1.2x)")
for peer in ("docker run --rm", "podman run --rm"):
    if peer in med:
        print(f"{peer} / dctl  {med[peer] / d:.1f}x slower than enginefs (target >= 10x for docker)")
PY
