//go:build linux

package bridge_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/enginefs/enginefs/errdefs"

	"github.com/enginefs/enginefs/netdrv"
	"github.com/enginefs/enginefs/netdrv/bridge"
	"github.com/enginefs/enginefs/netdrv/ipam"
	"github.com/enginefs/enginefs/netdrv/netdrvtest"
)

func TestDriver(t *testing.T) {
	netdrvtest.TestDriver(t, netdrvtest.Config{
		Driver: bridge.New(),
		Network: func(t *testing.T) netdrv.Network {
			subnet := netdrvtest.FreeSubnet(t, 24)
			id := netdrvtest.UniqueName("") + netdrvtest.UniqueName("") + netdrvtest.UniqueName("") + netdrvtest.UniqueName("")
			return netdrv.Network{
				ID: id[:60] + "abcd", Name: "test", Driver: bridge.Name,
				Subnet: subnet, Gateway: ipam.FirstHost(subnet),
				Options: map[string]string{netdrv.OptionBridgeName: netdrvtest.UniqueName("efst")},
			}
		},
		HostLink: bridge.BridgeName,
	})
}

// TestRouteOverlap: a new bridge whose subnet overlaps a route of the host
// (here one the test puts on a dummy link) is refused, naming the route,
// and nothing is made.
func TestRouteOverlap(t *testing.T) {
	netdrvtest.Require(t)
	parent := netdrvtest.DummyParent(t)
	routed := netdrvtest.FreeSubnet(t, 24)
	link, err := netlink.LinkByName(parent)
	if err != nil {
		t.Fatal(err)
	}
	dst := &net.IPNet{IP: routed.Addr().AsSlice(), Mask: net.CIDRMask(routed.Bits(), 32)}
	if err := netlink.RouteAdd(&netlink.Route{LinkIndex: link.Attrs().Index, Dst: dst}); err != nil {
		t.Fatalf("route to %s on %s: %v", routed, parent, err)
	}
	// The route goes with the dummy link.
	wide := netip.PrefixFrom(routed.Addr(), 20).Masked()
	n := netdrv.Network{ID: "overlap", Name: "overlap", Driver: bridge.Name, Subnet: wide, Gateway: ipam.FirstHost(wide),
		Options: map[string]string{netdrv.OptionBridgeName: netdrvtest.UniqueName("efst")}}
	err = bridge.New().Setup(context.Background(), n)
	if err == nil {
		bridge.New().Teardown(context.Background(), n)
		t.Fatalf("a bridge on %s was made over the host's route to %s", wide, routed)
	}
	if !errors.Is(err, errdefs.ErrAlreadyExists) || !strings.Contains(err.Error(), routed.String()) {
		t.Errorf("error %v: want already exists naming %s", err, routed)
	}
	if _, err := netlink.LinkByName(bridge.BridgeName(n)); err == nil {
		t.Errorf("bridge %s made though refused", bridge.BridgeName(n))
	}
}
