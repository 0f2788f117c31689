#!/usr/bin/env bash
# Latency through the REST bridge: `docker run --rm IMAGE echo hello` with the
# same docker CLI against enginefs's Docker API socket and against Debian's
# docker.io daemon of ../shared/tools/peers.sh, in one hyperfine run. The
# image is the peer's localhost/busybox:latest, saved from the peer and
# loaded into enginefs with `docker load` through the bridge, so both run the
# same bytes. Run as root from the repository after `make build fixtures`
# (make bench). Target: the bridge at least 4x faster than dockerd.
cd "$(dirname "$0")/.."
. bench/lib.sh
RUNS=${RUNS:-30}
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
test "$(docker -H "$BRIDGE" run --rm "$img" echo hello)" = hello
peers=()
have_docker && peers+=(-n "dockerd (docker.io)" "docker -H $PEER_DOCKER run --rm $img echo hello")
[ ${#peers[@]} -gt 0 ] || echo "bench: no peer dockerd (../shared/tools/peers.sh start); measuring the bridge alone" >&2
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$work/result.json" \
	-n "enginefs bridge" "docker -H $BRIDGE run --rm $img echo hello" \
	"${peers[@]}" >"$work/hyperfine.txt"
python3 - "$work/result.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
med = {k: v["median"] * 1000 for k, v in r.items()}
for k, v in med.items():
    print(f"{k:22s} median {v:7.1f} ms")
if "dockerd (docker.io)" in med:
    ratio = med["dockerd (docker.io)"] / med["enginefs bridge"]
    print(f"docker run --rm: the bridge is {ratio:.1f}x faster than dockerd (target >= 4x)")
PY
