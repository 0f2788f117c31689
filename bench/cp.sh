#!/usr/bin/env bash
# docker cp of a 100 MB directory (3,000 files) into and out of a running
# container, with the same docker CLI against enginefs's Docker API socket
# and against Debian's docker.io daemon of ../shared/tools/peers.sh, in one
# hyperfine run each way. Both run the peer's localhost/busybox:latest,
# loaded into enginefs through the bridge. Run as root from the repository
# after `make build fixtures`. Target: enginefs at least as fast as dockerd
# both ways (ratios of medians >= 1).
cd "$(dirname "$0")/.."
. bench/lib.sh
RUNS=${RUNS:-10}
FILES=${FILES:-3000}
command -v hyperfine >/dev/null || { echo "bench: needs hyperfine" >&2; exit 1; }
command -v docker >/dev/null || { echo "bench: needs the docker CLI" >&2; exit 1; }
start_daemon
BRIDGE="unix://$work/run/docker.sock"
for _ in $(seq 50); do [ -S "$work/run/docker.sock" ] && break; sleep 0.1; done
img=busybox:latest
if have_docker; then
	img=localhost/busybox:latest
	docker -H "$PEER_DOCKER" save -o "$work/peer-busybox.tar" "$img"
	docker -H "$BRIDGE" load -i "$work/peer-busybox.tar" >/dev/null
fi
# The source: FILES files in 30 directories, about 100 MB in all.
src="$work/src"
python3 - "$src" "$FILES" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
size = 100 * 1024 * 1024 // n
for i in range(n):
    d = os.path.join(root, f"d{i % 30:02d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:05d}"), "wb") as f:
        f.write(os.urandom(size))
PY
name=cpbench-$$
hosts=(-H "$BRIDGE")
bench_cleanup() {
	docker -H "$BRIDGE" rm -f "$name" >/dev/null 2>&1 || true
	have_docker && docker -H "$PEER_DOCKER" rm -f "$name" >/dev/null 2>&1 || true
}
docker -H "$BRIDGE" run -d --name "$name" "$img" sleep 3600 >/dev/null
have_docker && docker -H "$PEER_DOCKER" run -d --name "$name" "$img" sleep 3600 >/dev/null
out="$work/out"
mkdir -p "$out"
peers_in=() peers_out=()
if have_docker; then
	peers_in=(--prepare "docker -H $PEER_DOCKER exec $name rm -rf /dst" -n "dockerd in" "docker -H $PEER_DOCKER cp $src $name:/dst")
	peers_out=(-n "dockerd out" "docker -H $PEER_DOCKER cp $name:/dst $out/dockerd")
else
	echo "bench: no peer dockerd (../shared/tools/peers.sh start); measuring enginefs alone" >&2
fi
# Each copy in goes to a fresh /dst (removed before, unmeasured); each
# copy out to a fresh local directory.
hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$work/in.json" \
	--prepare "docker -H $BRIDGE exec $name rm -rf /dst" -n "enginefs in" "docker -H $BRIDGE cp $src $name:/dst" \
	"${peers_in[@]}" >"$work/in.txt"
hyperfine --warmup 1 --runs "$RUNS" --export-json "$work/out.json" --prepare "rm -rf $out/enginefs $out/dockerd" \
	-n "enginefs out" "docker -H $BRIDGE cp $name:/dst $out/enginefs" "${peers_out[@]}" >"$work/out.txt"
docker -H "$BRIDGE" cp "$name:/dst" "$out/check"
diff -r "$out/check" "$src" >/dev/null || { echo "bench: the copy out differs from the source" >&2; exit 1; }
python3 - "$work/in.json" "$work/out.json" <<'PY'
import json, sys
for f, way in zip(sys.argv[1:], ("in", "out")):
    med = {x["command"]: x["median"] * 1000 for x in json.load(open(f))["results"]}
    for k, v in med.items():
        print(f"{k:14s} median {v:8.1f} ms")
    if f"dockerd {way}" in med:
        ratio = med[f"dockerd {way}"] / med[f"enginefs {way}"]
        print(f"docker cp {way}: enginefs is {ratio:.2f}x as fast as dockerd (target >= 1)")
PY
