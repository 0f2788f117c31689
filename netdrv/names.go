package netdrv

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"

	"github.com/enginefs/enginefs/errdefs"
)

// IFNameMax is the longest interface name Linux takes (IFNAMSIZ - 1).
const IFNameMax = 15

// MACFor returns the MAC address docker gives an IPv4 address: 02:42
// followed by the address's four bytes, so it is unique where the address
// is and needs no record.
func MACFor(ip netip.Addr) net.HardwareAddr {
	b := ip.As4()
	return net.HardwareAddr{0x02, 0x42, b[0], b[1], b[2], b[3]}
}

// HostIfName returns the name of the host side of an endpoint: prefix and
// hex digits of a hash of the container and network ids, unique per pair
// and at most IFNameMax long.
func HostIfName(prefix, containerID, networkID string) string {
	sum := sha256.Sum256([]byte(containerID + "/" + networkID))
	return prefix + hex.EncodeToString(sum[:])[:IFNameMax-len(prefix)]
}

// CheckIfName refuses a name Linux would refuse as an interface name.
func CheckIfName(name string) error {
	if name == "" || len(name) > IFNameMax || name == "." || name == ".." || strings.ContainsAny(name, "/: \t\n\x00") {
		return errdefs.Invalid("invalid interface name %q (1 to %d characters, no '/', ':' or blanks)", name, IFNameMax)
	}
	return nil
}

// MTU reads the MTU option of n (0: the kernel's default).
func MTU(n Network) (int, error) {
	v, ok := n.Options[OptionMTU]
	if !ok || v == "" {
		return 0, nil
	}
	mtu, err := strconv.Atoi(v)
	if err != nil || mtu < 68 || mtu > 65535 {
		return 0, errdefs.Invalid("network %s: invalid MTU %q", n.Name, v)
	}
	return mtu, nil
}

// HostRoutes returns the destinations of the host's IPv4 routes but the
// default route: what a new bridge's subnet must not overlap.
func HostRoutes() ([]netip.Prefix, error) {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("listing the host's routes: %w", err)
	}
	var out []netip.Prefix
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		ones, _ := r.Dst.Mask.Size()
		if a, ok := netip.AddrFromSlice(r.Dst.IP.To4()); ok && ones > 0 {
			out = append(out, netip.PrefixFrom(a, ones).Masked())
		}
	}
	return out, nil
}
