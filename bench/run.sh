#!/usr/bin/env bash
# Benchmark: `dctl run --rm busybox echo hello` end to end against bare
# `runc run` on an equivalent bundle (the same busybox layers, runc's default
# config), measured in the same run with hyperfine. Also shows the floor: an
# unshare+chroot of the same rootfs. Run as root from the repository after
# `make build fixtures` (make bench does both). Prints the medians and ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-30}
command -v hyperfine >/dev/null || { echo "bench: needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }
command -v runc >/dev/null || { echo "bench: needs runc (apt-get install runc)" >&2; exit 1; }

work=$(mktemp -d /tmp/enginefs-bench.XXXXXX)
pid=""
cleanup() {
	if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	mountpoint -q "$work/mnt" && umount -l "$work/mnt"
	rm -rf "$work"
}
trap cleanup EXIT

# The runc bundle: the fixture's layers unpacked in order, runc's default spec.
mkdir -p "$work/bundle/rootfs" "$work/save"
tar -xf build/fixtures/busybox.tar -C "$work/save"
python3 - "$work/save" "$work/bundle/rootfs" <<'PY'
import json, sys, tarfile, os
save, root = sys.argv[1], sys.argv[2]
for layer in json.load(open(os.path.join(save, "manifest.json")))[0]["Layers"]:
    with tarfile.open(os.path.join(save, layer)) as t:
        t.extractall(root, filter="fully_trusted")
PY
(cd "$work/bundle" && runc spec)
python3 - "$work/bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["echo", "hello"]
c["root"]["readonly"] = False
json.dump(c, open(p, "w"))
PY

# The engine, on its own state dir and socket.
bin/enginefs --state "$work/state" --run "$work/run" --mount "$work/mnt" >"$work/enginefs.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -S "$work/run/9p.sock" ] && break; sleep 0.1; done
export DCTL_HOST="unix:$work/run/9p.sock"
bin/dctl load -i build/fixtures/busybox.tar >/dev/null
test "$(bin/dctl run --rm busybox echo hello)" = hello

# Peers that are up (../shared/tools/peers.sh start) join the same run.
peers=()
PEER_DOCKER=${PEER_DOCKER:-unix:///tmp/peer/dockerd/docker.sock}
if command -v docker >/dev/null && docker -H "$PEER_DOCKER" image inspect localhost/busybox:latest >/dev/null 2>&1; then
	peers+=(-n "docker run --rm" "docker -H $PEER_DOCKER run --rm localhost/busybox:latest echo hello")
fi
if command -v podman >/dev/null && podman image exists localhost/busybox:latest 2>/dev/null; then
	peers+=(-n "podman run --rm" "podman run --rm --runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1000:1000 localhost/busybox:latest echo hello")
fi

hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$work/result.json" \
	-n "dctl run --rm" "bin/dctl run --rm busybox echo hello" \
	-n "runc run" "runc run --bundle $work/bundle bench-runc" \
	-n "unshare+chroot" "unshare --fork --pid --mount --uts --ipc --net chroot $work/bundle/rootfs echo hello" \
	"${peers[@]}"

python3 - "$work/result.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
med = {k: v["median"] * 1000 for k, v in r.items()}
for k, v in med.items():
    print(f"{k:16s} median {v:7.1f} ms")
d = med['dctl run --rm']
print(f"ratio dctl/runc      {d / med['runc run']:.2f}x (target <= 1.2x)")
for peer in ("docker run --rm", "podman run --rm"):
    if peer in med:
        print(f"{peer} / dctl  {med[peer] / d:.1f}x faster (target >= 10x for docker)")
PY
