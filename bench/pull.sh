#!/usr/bin/env bash
# Pull: the large many-file fixture (the Go toolchain tree, about 230 MB in
# 15,000 files, three gzip layers; tests/fixture GoTree) from a
# docker-registry this script starts on a loopback port. Cold (empty
# store) and warm (image present: docker's "Image is up to date", nothing
# downloaded) `dctl pull`, against `skopeo copy` to a local dir (which
# does not unpack) and `podman pull` (which does): cold pulls round robin
# (RUNS rounds, SETTLE seconds after emptying the stores), warm ones in
# one hyperfine run. Before each cold round the script checks that every
# store is empty (enginefs: no image, no blob, no unpacked layer; podman:
# the image is not there; skopeo: no target dir), and stops if one is not.
# Ratios are enginefs over the peer (below 1: enginefs is faster), of the
# medians and per round. Run as root from the repository after
# `make build fixtures` (make bench).
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
# Cold pulls round robin, so the peers see the same machine load: each
# round empties every store, syncs and waits SETTLE seconds, then pulls
# once with each tool, in an order rotated every round.
python3 - "$work/cold.json" "$RUNS" "$ref" "$image_id" "$work" "${SETTLE:-5}" <<'PY'
import json, os, shutil, subprocess, sys, time
out, runs, ref, image_id, work, settle = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], float(sys.argv[6])
def sh(c):
    subprocess.run(c, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def ok(c):
    return subprocess.run(c, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
store = f"{work}/state/images"
def enginefs_empty():
    imgs = subprocess.run("bin/dctl images -qa", shell=True, capture_output=True, text=True).stdout.split()
    left = imgs + os.listdir(f"{store}/blobs/sha256") + os.listdir(f"{store}/layers")
    return not left, f"images, blobs or layers left: {left[:3]}"
# name: (empty the store, pull, check that the store is empty)
tools = {
    "dctl pull": (f"bin/dctl rmi -f {ref}; bin/dctl image prune -a -f", f"bin/dctl pull -q {ref}", enginefs_empty),
    "skopeo copy": (f"rm -rf {work}/skopeo", f"skopeo copy -q --src-tls-verify=false docker://{ref} dir:{work}/skopeo",
                    lambda: (not os.path.exists(f"{work}/skopeo"), "the target dir is there")),
}
if shutil.which("podman"):
    tools["podman pull"] = (f"podman rmi -f {image_id}", f"podman pull -q --tls-verify=false {ref}",
                            lambda: (not ok(f"podman image exists {image_id}"), "the image is still there"))
names = list(tools)
times = {n: [] for n in names}
for i in range(runs):
    for n in names:
        sh(tools[n][0])
        empty, why = tools[n][2]()
        if not empty:
            sys.exit(f"bench: {n}: the store is not empty before a cold pull: {why}")
    sh("sync")
    time.sleep(settle)
    for n in names[i % len(names):] + names[:i % len(names)]:
        sh("sync")
        t = time.monotonic()
        r = subprocess.run(tools[n][1], shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        d = time.monotonic() - t
        if r.returncode:
            sys.exit(f"bench: {n} failed: {r.stderr.decode()}")
        times[n].append(d)
json.dump({"results": [{"command": n, "times": v} for n, v in times.items()]}, open(out, "w"))
PY
bin/dctl pull -q "$ref" >/dev/null
command -v podman >/dev/null && podman pull -q --tls-verify=false "$ref" >/dev/null
warm_peers=()
command -v podman >/dev/null && warm_peers=(-n "podman pull (warm)" "podman pull -q --tls-verify=false $ref")
hyperfine -N --warmup 1 --runs $((RUNS * 2)) --export-json "$work/warm.json" \
	-n "dctl pull (warm)" "bin/dctl pull -q $ref" "${warm_peers[@]}" >"$work/warm.txt"
python3 - "$work/cold.json" "$work/warm.json" <<'PY'
import json, statistics, sys
t = {}
for f in sys.argv[1:]:
    for x in json.load(open(f))["results"]:
        t[x["command"]] = x["times"]
med = {k: statistics.median(v) for k, v in t.items()}
for k, v in t.items():
    print(f"{k:20s} median {med[k]:7.3f} s  range {min(v):.3f}-{max(v):.3f} s  ({len(v)} runs)")
d = "dctl pull"
for peer in ("skopeo copy", "podman pull"):
    if peer in t:
        r = [a / b for a, b in zip(t[d], t[peer])]
        note = "; skopeo does not unpack" if peer == "skopeo copy" else ""
        print(f"cold: dctl pull / {peer:12s} {med[d] / med[peer]:.2f}x (per round {min(r):.2f}-{max(r):.2f}x{note})")
if "podman pull (warm)" in med:
    print(f"warm: dctl pull / podman pull  {med['dctl pull (warm)'] / med['podman pull (warm)']:.2f}x")
PY
