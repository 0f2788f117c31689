#!/usr/bin/env bash
# Networking cost: `dctl run --rm busybox true` on the default bridge, on a
# user-defined network (embedded DNS too) and with --network none, in one
# hyperfine run; and, when ../shared/tools/peers.sh is up, docker's bridge
# start against docker's none on the same machine (the peers' dockerd runs
# with --bridge none, so the script makes a user-defined bridge network
# there and removes it after). Traffic: none; every address is on bridges
# the script's daemons make. Run as root from the repository after
# `make build fixtures` (make bench).
cd "$(dirname "$0")/.."
. bench/lib.sh
RUNS=${RUNS:-30}
command -v hyperfine >/dev/null || { echo "bench: needs hyperfine" >&2; exit 1; }
# Subnets in 10.223/16 that no route of the host overlaps, and a bridge name
# of our own, so a concurrent daemon is not disturbed.
pick_subnet() {
	for _ in $(seq 50); do
		s="10.223.$((RANDOM % 250)).0/24"
		python3 - "$s" <<'PY' && { echo "$s"; return; }
import ipaddress, subprocess, sys
cand = ipaddress.ip_network(sys.argv[1])
for line in subprocess.run(["cat", "/proc/net/route"], capture_output=True, text=True).stdout.splitlines()[1:]:
    f = line.split()
    dst, mask = int(f[1], 16), int(f[7], 16)
    if mask == 0:
        continue
    net = ipaddress.ip_network((ipaddress.IPv4Address(dst.to_bytes(4, "little")), bin(mask).count("1")), strict=False)
    if net.overlaps(cand):
        sys.exit(1)
PY
	done
	echo "bench: no free subnet in 10.223/16" >&2; exit 1
}
bridge_subnet=$(pick_subnet); user_subnet=$(pick_subnet); docker_subnet=$(pick_subnet)
docker_net=""
bench_cleanup() { [ -n "$docker_net" ] && docker -H "$PEER_DOCKER" network rm "$docker_net" >/dev/null 2>&1; true; }
start_daemon --bridge-name "efsbn$$" --bridge-subnet "$bridge_subnet" --ip 127.0.0.1 --dns-forward none
bin/dctl network create --subnet "$user_subnet" benchnet >/dev/null
test "$(bin/dctl run --rm --network benchnet busybox sh -c 'ip -o -4 addr show eth0 | wc -l')" = 1
peers=()
if have_docker; then
	docker_net="efsbench$$"
	docker -H "$PEER_DOCKER" network create --subnet "$docker_subnet" "$docker_net" >/dev/null
	peers+=(-n "docker bridge" "docker -H $PEER_DOCKER run --rm --network $docker_net localhost/busybox:latest true")
	peers+=(-n "docker none" "docker -H $PEER_DOCKER run --rm --network none localhost/busybox:latest true")
fi
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$work/result.json" \
	-n "dctl none" "bin/dctl run --rm --network none busybox true" \
	-n "dctl bridge" "bin/dctl run --rm --network bridge busybox true" \
	-n "dctl user network" "bin/dctl run --rm --network benchnet busybox true" \
	"${peers[@]}" >"$work/hyperfine.txt"
python3 - "$work/result.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
med = {k: v["median"] * 1000 for k, v in r.items()}
for k, v in med.items():
    print(f"{k:18s} median {v:7.1f} ms")
print(f"dctl bridge / dctl none          {med['dctl bridge'] / med['dctl none']:.2f}x")
print(f"dctl user network / dctl none    {med['dctl user network'] / med['dctl none']:.2f}x")
if "docker bridge" in med:
    print(f"docker bridge / docker none      {med['docker bridge'] / med['docker none']:.2f}x")
    print(f"docker bridge / dctl bridge      {med['docker bridge'] / med['dctl bridge']:.1f}x slower than enginefs")
else:
    print("docker: not measured (../shared/tools/peers.sh start brings it up)")
PY
