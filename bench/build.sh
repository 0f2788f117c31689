#!/usr/bin/env bash
# Build: one Dockerfile and context (three busybox stages, 4 RUN and 4 COPY
# steps, one of them `COPY --from` another stage, a few small context
# files) built by `dctl build` against Debian's docker.io legacy builder
# (`DOCKER_BUILDKIT=0 docker build`) and buildah through `podman build`
# when ../shared/tools/peers.sh is up, all with --network none for RUN.
# enginefs builds FROM the busybox fixture, the peers FROM their
# localhost/busybox:latest (--build-arg BASE=...): the same busybox bytes.
#   cold: every tool's build cache emptied first (enginefs: rmi of the tag,
#         `prune` on /builds/ctl, image prune; docker: its legacy cache is
#         its images, so rmi of the tag and of every image the builds made
#         (`docker builder prune` empties BuildKit's cache, not this one);
#         podman: the same, buildah's --layers cache being images too) and
#         checked empty (the image ids are back to the base ones; enginefs
#         also no layer or blob beyond the base's); RUNS rounds, round
#         robin, SETTLE seconds after the emptying.
#   warm: a rebuild with nothing changed, WARM times per tool and round
#         right after the cold builds.
# Every build's output is checked: a cold one runs every RUN (each prints a
# marker) and uses no cache; a warm one runs no RUN (no marker, no
# "Running in") and takes every COPY, RUN and CMD step from the cache.
# Times are wall clock of the client command, output captured. Ratios are
# enginefs over the peer (below 1: enginefs is faster), of the medians and
# per build (each tool's nth cold or warm build). Run as root from the
# repository after `make build fixtures` (make bench). Targets: cold and
# warm <= 0.5x docker.
cd "$(dirname "$0")/.."
. bench/lib.sh
RUNS=${RUNS:-5}
WARM=${WARM:-3}
tag=enginefs-bench-build:latest
# empty_peer docker|podman: rmi the tag, then every image that was not in
# the peer before this script ($docker_before, $podman_before: the builds'
# intermediates), children before parents; the peer's other images stay.
# (Not kept in $work: lib.sh removes it before bench_cleanup runs.)
empty_peer() {
	local cli ids _ before
	case $1 in
	docker) cli=(docker -H "$PEER_DOCKER") before=$docker_before ;;
	podman) cli=(podman) before=$podman_before ;;
	esac
	[ -n "$before" ] || return 0 # not measured, or not yet
	"${cli[@]}" rmi "$tag" >/dev/null 2>&1 || true
	for _ in 1 2 3 4 5 6 7 8; do
		ids=$(comm -13 <(echo "$before") <("${cli[@]}" images -aq --no-trunc | sort -u))
		[ -n "$ids" ] || return 0
		"${cli[@]}" rmi $ids >/dev/null 2>&1 || true
	done
	return 1
}
bench_cleanup() {
	local p
	for p in "${peers[@]}"; do
		empty_peer "$p" || echo "bench: $p: images of the builds left behind" >&2
	done
	true
}
peers=() docker_before="" podman_before=""
if have_docker; then
	docker_before=$(docker -H "$PEER_DOCKER" images -aq --no-trunc | sort -u)
	peers+=(docker)
fi
if have_podman; then
	podman_before=$(podman images -aq --no-trunc | sort -u)
	peers+=(podman)
fi
export -f empty_peer
export tag PEER_DOCKER docker_before podman_before
[ ${#peers[@]} -gt 0 ] || echo "bench: no peer docker or podman (../shared/tools/peers.sh start); measuring enginefs alone" >&2
start_daemon

ctx=$work/ctx
mkdir -p "$ctx/src"
printf 'hello\n' >"$ctx/src/a.txt"
printf 'world\n' >"$ctx/src/b.txt"
printf '#!/bin/sh\necho app\n' >"$ctx/app.sh"
seq 1 2000 >"$ctx/data.txt"
# Each RUN prints "ran stepN", a line the step's own text does not hold.
cat >"$ctx/Dockerfile" <<'EOF'
ARG BASE=busybox
FROM $BASE AS base
COPY src/ /src/
RUN printf 'ran %s\n' step1 && cat /src/a.txt /src/b.txt >/src/ab.txt && mkdir -p /out

FROM base AS build
COPY data.txt /work/data.txt
RUN printf 'ran %s\n' step2 && wc -l /work/data.txt >/out/count && sort -rn /work/data.txt | head -100 >/out/top
COPY app.sh /out/app.sh
RUN printf 'ran %s\n' step3 && chmod +x /out/app.sh && /out/app.sh >/out/app.out

FROM $BASE
COPY --from=build /out/ /app/
RUN printf 'ran %s\n' step4 && ls /app >/app/list && test -s /app/top
CMD ["/app/app.sh"]
EOF
# What enginefs holds before any build: the fixture's image, layers, blobs.
store=$work/state/images
bin/dctl images -qa --no-trunc | sort -u >"$work/enginefs.before"
ls "$store/layers" "$store/blobs/sha256" >"$work/enginefs.store"

python3 - "$work" "$ctx" "$tag" "$RUNS" "$WARM" "${SETTLE:-2}" "$PEER_DOCKER" "$PODMAN_FLAGS" "${peers[@]}" <<'PY'
import json, os, re, subprocess, sys, time
work, ctx, tag = sys.argv[1:4]
runs, warm, settle = int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
peer_docker, podman_flags, peers = sys.argv[7], sys.argv[8].split(), sys.argv[9:]
store = f"{work}/state/images"
dockerfile = open(f"{ctx}/Dockerfile").read()
nrun = len(re.findall(r"^RUN ", dockerfile, re.M))
ncached = len(re.findall(r"^(RUN|COPY|CMD) ", dockerfile, re.M))  # the steps that say "Using cache"
def sh(c):
    return subprocess.run(c, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
def lines(c):
    return sorted(set(subprocess.run(c, shell=True, capture_output=True, text=True).stdout.split()))
def before(name):
    if name == "enginefs":
        return open(f"{work}/enginefs.before").read().split()
    return sorted(set(os.environ[f"{name}_before"].split()))
def enginefs_empty():
    imgs = lines("bin/dctl images -qa --no-trunc")
    if imgs != before("enginefs"):
        return f"images {imgs} (before any build: {before('enginefs')})"
    if lines(f"ls {store}/layers {store}/blobs/sha256") != sorted(set(open(f"{work}/enginefs.store").read().split())):
        return "layers or blobs beyond the fixture's are left"
def peer_empty(name, cli):
    def check():
        imgs = lines(f"{cli} images -aq --no-trunc")
        if imgs != before(name):
            return f"{len(imgs)} images, {len(before(name))} before any build"
    return check
base = ["--build-arg", "BASE=localhost/busybox:latest"]
# name: (empty its cache, check that it is empty, the build command, its environment)
tools = {"enginefs": (f"bin/dctl rmi -f {tag}; echo prune >{work}/mnt/builds/ctl; bin/dctl image prune -f", enginefs_empty,
                      ["bin/dctl", "build", "--network", "none", "--force-rm", "-t", tag, ctx], None)}
if "docker" in peers:
    tools["docker"] = ("empty_peer docker", peer_empty("docker", f"docker -H {peer_docker}"),
                       ["docker", "-H", peer_docker, "build", "--network", "none", "--force-rm", *base, "-t", tag, ctx],
                       dict(os.environ, DOCKER_BUILDKIT="0"))
if "podman" in peers:
    tools["podman"] = ("empty_peer podman", peer_empty("podman", "podman"),
                       ["podman", "build", *podman_flags, "--force-rm", *base, "-t", tag, ctx], None)
def build(n):
    sh("sync")
    t = time.monotonic()
    r = subprocess.run(tools[n][2], env=tools[n][3], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    d = time.monotonic() - t
    if r.returncode:
        sys.exit(f"bench: {n} build failed:\n{r.stdout}")
    return d, r.stdout
def fail(n, kind, why, out):
    sys.exit(f"bench: {n}: {kind} build: {why}\n{out}")
names = list(tools)
cold = {n: [] for n in names}
hot = {n: [] for n in names}
for i in range(runs):
    for n in names:
        subprocess.run(["bash", "-c", tools[n][0]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        why = tools[n][1]()
        if why:
            sys.exit(f"bench: {n}: the build cache is not empty before a cold build: {why}")
    sh("sync")
    time.sleep(settle)
    order = names[i % len(names):] + names[:i % len(names)]
    for n in order:
        d, out = build(n)
        ran = set(re.findall(r"^ran (step\d)$", out, re.M))
        if len(ran) != nrun:
            fail(n, "cold", f"ran {len(ran)} of {nrun} RUN steps", out)
        if "Using cache" in out:
            fail(n, "cold", "a step came from the cache", out)
        cold[n].append(d)
    for _ in range(warm):
        for n in order:
            d, out = build(n)
            if re.search(r"^ran step\d$", out, re.M) or "Running in" in out:
                fail(n, "warm", "a RUN step ran", out)
            if out.count("Using cache") != ncached:
                fail(n, "warm", f"{out.count('Using cache')} of {ncached} steps from the cache", out)
            hot[n].append(d)
json.dump({"cold": cold, "warm": hot}, open(f"{work}/times.json", "w"))
PY
# The images work: each prints what its CMD says.
test "$(bin/dctl run --rm "$tag")" = app
for p in "${peers[@]}"; do
	case $p in
	docker) out=$(docker -H "$PEER_DOCKER" run --rm --network none "$tag") ;;
	podman) out=$(podman run --rm $PODMAN_FLAGS "$tag") ;;
	esac
	[ "$out" = app ] || { echo "bench: $p: the built image printed '$out', not 'app'" >&2; exit 1; }
done
python3 - "$work/times.json" "$RUNS" "$WARM" <<'PY'
import json, statistics, sys
t = json.load(open(sys.argv[1]))
print(f"build: 3 stages, 4 RUN, 4 COPY (one --from); {sys.argv[2]} cold rounds, "
      f"{int(sys.argv[2]) * int(sys.argv[3])} warm builds per tool")
med = {k: {n: statistics.median(v) for n, v in t[k].items()} for k in t}
for k in ("cold", "warm"):
    for n, v in t[k].items():
        print(f"{k} {n:9s} median {med[k][n] * 1000:7.1f} ms  range {min(v) * 1000:.1f}-{max(v) * 1000:.1f} ms  ({len(v)} builds)")
for k in ("cold", "warm"):
    for peer in ("docker", "podman"):
        if peer not in t[k]:
            continue
        r = [a / b for a, b in zip(t[k]["enginefs"], t[k][peer])]
        target = " (target <= 0.5x)" if peer == "docker" else ""
        print(f"{k}: enginefs / {peer:6s} {med[k]['enginefs'] / med[k][peer]:.2f}x  (per build {min(r):.2f}-{max(r):.2f}x){target}")
for peer in ("docker", "podman"):
    if peer not in t["cold"]:
        print(f"{peer}: not measured (../shared/tools/peers.sh start brings it up)")
PY
