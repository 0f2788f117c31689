#!/usr/bin/env bash
# Pull: the large many-file fixture (the Go toolchain tree, about 230 MB in
# 15,000 files, three gzip layers; tests/fixture GoTree) from a
# docker-registry this script starts on a loopback port. Cold (empty
# store) and warm (image present: docker's "Image is up to date", nothing
# downloaded) `dctl pull`, against `skopeo copy` to a local dir and
# `podman pull` in the same hyperfine runs. Ratios are enginefs over the
# peer (below 1: enginefs is faster). Run as root from the repository
# after `make build fixtures` (make bench).
cd "$(dirname "$0")/.."
. bench/lib.sh
RUNS=${RUNS:-5}
for c in hyperfine skopeo docker-registry; do
	command -v $c >/dev/null || { echo "bench: needs $c" >&2; exit 1; }
done
bench_cleanup() {
	if [ -n "${reg_pid:-}" ]; then kill "$reg_pid" 2>/dev/null; wait "$reg_pid" 2>/dev/null || true; fi
	if [ -n "${image_id:-}" ] && command -v podman >/dev/null; then podman rmi -f "$image_id" >/dev/null 2>&1 || true; fi
	true
}
go run ./tests/fixture/mkfixture -gotree "$work/gotree"
# The image id (config digest): podman removes the image by it, whatever
# names it has.
image_id=$(python3 -c 'import json,sys; d=sys.argv[1]; m=json.load(open(d+"/index.json"))["manifests"][0]["digest"]; print(json.load(open(d+"/blobs/sha256/"+m[7:]))["config"]["digest"][7:19])' "$work/gotree")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/reg.yml" <<EOR
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/regdata}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port}
EOR
docker-registry serve "$work/reg.yml" >"$work/reg.log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
ref=127.0.0.1:$port/big:latest
skopeo copy -q --dest-tls-verify=false "oci:$work/gotree:latest" "docker://$ref"
start_daemon
empty_store="bin/dctl rmi -f $ref >/dev/null 2>&1; bin/dctl image prune -a -f >/dev/null; sync"
peers=(-n "skopeo copy" --prepare "sh -c 'rm -rf $work/skopeo; sync'" "skopeo copy -q --src-tls-verify=false docker://$ref dir:$work/skopeo")
warm_peers=()
if command -v podman >/dev/null; then
	peers+=(-n "podman pull" --prepare "sh -c 'podman rmi -f $image_id >/dev/null 2>&1; sync'" "podman pull -q --tls-verify=false $ref")
	warm_peers+=(-n "podman pull (warm)" "podman pull -q --tls-verify=false $ref")
fi
hyperfine -N --runs "$RUNS" --export-json "$work/cold.json" \
	-n "dctl pull" --prepare "sh -c '$empty_store'" "bin/dctl pull -q $ref" \
	"${peers[@]}" >"$work/cold.txt"
bin/dctl pull -q "$ref" >/dev/null
command -v podman >/dev/null && podman pull -q --tls-verify=false "$ref" >/dev/null
hyperfine -N --warmup 1 --runs $((RUNS * 2)) --export-json "$work/warm.json" \
	-n "dctl pull (warm)" "bin/dctl pull -q $ref" "${warm_peers[@]}" >"$work/warm.txt"
python3 - "$work/cold.json" "$work/warm.json" <<'PY'
import json, sys
med = {}
for f in sys.argv[1:]:
    for x in json.load(open(f))["results"]:
        med[x["command"]] = x["median"]
for k, v in med.items():
    print(f"{k:20s} median {v:7.3f} s")
d = med["dctl pull"]
for peer in ("skopeo copy", "podman pull"):
    if peer in med:
        print(f"cold: dctl pull / {peer:12s} {d / med[peer]:.2f}x (target <= 1.0x for skopeo)")
if "podman pull (warm)" in med:
    print(f"warm: dctl pull / podman pull  {med['dctl pull (warm)'] / med['podman pull (warm)']:.2f}x")
PY
