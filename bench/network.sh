#!/usr/bin/env bash
# Networking cost: `run --rm busybox true` on a user-defined bridge network
# (a veth, an address, the embedded DNS) against --network none, for
# enginefs and, when ../shared/tools/peers.sh is up, docker, in one
# hyperfine run; enginefs's default bridge too. Like compares with like:
# enginefs's user network with docker's user network (both with their
# embedded DNS), none with none; the peers' dockerd runs with --bridge none,
# so it has no default bridge to compare with enginefs's. Traffic: none;
# every address is on bridges the script's daemons make. Run as root from
# the repository after `make build fixtures` (make bench).
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
	test "$(docker -H "$PEER_DOCKER" run --rm --network "$docker_net" localhost/busybox:latest sh -c 'ip -o -4 addr show eth0 | wc -l')" = 1
	peers+=(-n "docker user network" "docker -H $PEER_DOCKER run --rm --network $docker_net localhost/busybox:latest true")
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
    print(f"{k:20s} median {v:7.1f} ms")
print(f"dctl bridge / dctl none                  {med['dctl bridge'] / med['dctl none']:.2f}x")
print(f"dctl user network / dctl none            {med['dctl user network'] / med['dctl none']:.2f}x")
if "docker user network" in med:
    print(f"docker user network / docker none        {med['docker user network'] / med['docker none']:.2f}x")
    print(f"docker user network / dctl user network  {med['docker user network'] / med['dctl user network']:.1f}x slower than enginefs")
    print(f"docker none / dctl none                  {med['docker none'] / med['dctl none']:.1f}x slower than enginefs")
else:
    print("docker: not measured (../shared/tools/peers.sh start brings it up)")
PY
