//go:build linux

package engine

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/vishvananda/netlink"
	bolt "go.etcd.io/bbolt"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/netdrv"
	"github.com/enginefs/enginefs/netdrv/bridge"
	"github.com/enginefs/enginefs/netdrv/netdrvtest"
)

// brokenFirewall fails every change, as nf_tables does when another tool
// holds it or netlink runs out of buffer.
type brokenFirewall struct{}

func (brokenFirewall) Sync(context.Context, []netdrv.Network) error {
	return errors.New("netlink: no buffer space available")
}
func (brokenFirewall) Remove(context.Context) error { return nil }

// TestCreateNetworkWithoutRules: a network whose firewall rules cannot be
// made is not made (it would not be isolated): the create fails with an
// unavailable error, and no record, entry or bridge is left.
func TestCreateNetworkWithoutRules(t *testing.T) {
	netdrvtest.Require(t)
	db, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists(bucketNetworks); return err }); err != nil {
		t.Fatal(err)
	}
	e := &Engine{logf: t.Logf, db: db, netcfg: &NetConfig{NamespaceDir: t.TempDir(),
		Drivers: map[string]netdrv.Driver{bridge.Name: bridge.New()}, Firewall: brokenFirewall{}}}
	e.net.nets = map[string]*netEntry{}
	br := netdrvtest.UniqueName("efst")
	_, err = e.CreateNetwork(context.Background(), NetworkOptions{Name: "walled", Driver: bridge.Name,
		Subnet: netdrvtest.FreeSubnet(t, 24).String(), Options: map[string]string{netdrv.OptionBridgeName: br}})
	if !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("create with no firewall: %v; want unavailable", err)
	}
	if len(e.net.nets) != 0 {
		t.Errorf("the failed create left networks: %v", e.net.nets)
	}
	_ = db.View(func(tx *bolt.Tx) error {
		if k, _ := tx.Bucket(bucketNetworks).Cursor().First(); k != nil {
			t.Errorf("the failed create left a record %s", k)
		}
		return nil
	})
	if link, err := netlink.LinkByName(br); err == nil {
		netlink.LinkDel(link)
		t.Errorf("the failed create left its bridge %s", br)
	}
}
