# Shared by the bench scripts: a private daemon on its own state, run dir and
# mount, with the busybox fixture loaded; stopped (containers removed first)
# on exit. Source it from a script run as root from the repository.
set -euo pipefail
work=$(mktemp -d /tmp/enginefs-bench.XXXXXX)
daemon_pid=""
cleanup_daemon() {
	if [ -n "$daemon_pid" ]; then
		for c in $(ls "$work/mnt/containers" 2>/dev/null | grep -E '^[0-9a-f]{64}$'); do
			echo rm force >"$work/mnt/containers/$c/ctl" 2>/dev/null || true
		done
		kill -TERM "$daemon_pid" 2>/dev/null || true
		wait "$daemon_pid" 2>/dev/null || true
		kp=$(cat "$work/run/keeper.pid" 2>/dev/null || true)
		for _ in $(seq 50); do [ -n "$kp" ] && kill -0 "$kp" 2>/dev/null || break; sleep 0.1; done
	fi
	mountpoint -q "$work/mnt" && umount -l "$work/mnt"
	rm -rf "$work"
}
trap 'cleanup_daemon; type bench_cleanup >/dev/null 2>&1 && bench_cleanup' EXIT
# Containers get no network unless a script asks (--network): as runc's
# default bundle and the peers' dockerd (--bridge none), so runs compare alike.
start_daemon() {
	bin/enginefs --state "$work/state" --run "$work/run" --mount "$work/mnt" --keeper-idle 200ms --default-network none "$@" >"$work/enginefs.log" 2>&1 &
	daemon_pid=$!
	for _ in $(seq 100); do [ -S "$work/run/9p.sock" ] && break; sleep 0.1; done
	export DCTL_HOST="unix:$work/run/9p.sock"
	bin/dctl load -i build/fixtures/busybox.tar >/dev/null
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# peer_docker: the docker socket of ../shared/tools/peers.sh, if it is up.
PEER_DOCKER=${PEER_DOCKER:-unix:///tmp/peer/dockerd/docker.sock}
have_docker() { command -v docker >/dev/null && docker -H "$PEER_DOCKER" image inspect localhost/busybox:latest >/dev/null 2>&1; }
have_podman() { command -v podman >/dev/null && podman image exists localhost/busybox:latest 2>/dev/null; }
# podman: runc and ulimits for this VM (../shared/tools/README.md), and no
# network, as the other engines here (enginefs --default-network none, the
# peers' dockerd --bridge none): no bench but network.sh sets one up.
PODMAN_FLAGS="--runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1000:1000 --network none"
# pss_kb PID...: the sum of the processes' proportional set sizes (shared
# pages split among the processes that map them), in KiB.
pss_kb() {
	local s=0 p v
	for p in "$@"; do
		v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
		s=$((s + ${v:-0}))
	done
	echo "$s"
}
# runc_bundle DIR [ARG...]: a runc bundle of the busybox fixture running
# ARGs (default `true`), with runc's default config.
runc_bundle() {
	local dir=$1; shift
	local args=${*:-true}
	mkdir -p "$dir/rootfs" "$work/save"
	tar -xf build/fixtures/busybox.tar -C "$work/save"
	python3 - "$work/save" "$dir/rootfs" <<'PY'
import json, sys, tarfile, os
save, root = sys.argv[1], sys.argv[2]
for layer in json.load(open(os.path.join(save, "manifest.json")))[0]["Layers"]:
    with tarfile.open(os.path.join(save, layer)) as t:
        t.extractall(root, filter="fully_trusted")
PY
	(cd "$dir" && runc spec)
	python3 - "$dir/config.json" $args <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = sys.argv[2:]
c["root"]["readonly"] = True
json.dump(c, open(p, "w"))
PY
}
