//go:build linux

package bridge_test

import (
	"testing"

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
