//go:build linux

package macvlan_test

import (
	"testing"

	"github.com/enginefs/enginefs/netdrv"
	"github.com/enginefs/enginefs/netdrv/ipam"
	"github.com/enginefs/enginefs/netdrv/macvlan"
	"github.com/enginefs/enginefs/netdrv/netdrvtest"
)

func TestDriver(t *testing.T) {
	netdrvtest.TestDriver(t, netdrvtest.Config{
		Driver: macvlan.New(),
		Network: func(t *testing.T) netdrv.Network {
			parent := netdrvtest.DummyParent(t)
			subnet := netdrvtest.FreeSubnet(t, 24)
			return netdrv.Network{
				ID: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Name: "mv", Driver: macvlan.Name,
				Subnet: subnet, Gateway: ipam.FirstHost(subnet),
				Options: map[string]string{netdrv.OptionParent: parent},
			}
		},
	})
}

func TestSetupErrors(t *testing.T) {
	netdrvtest.Require(t)
	d := macvlan.New()
	if err := d.Setup(t.Context(), netdrv.Network{Name: "x"}); err == nil {
		t.Error("Setup without a parent succeeded")
	}
	if err := d.Setup(t.Context(), netdrv.Network{Name: "x", Options: map[string]string{"parent": "efsnothere0"}}); err == nil {
		t.Error("Setup on a missing parent succeeded")
	}
}
