//go:build linux

package network

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/vishvananda/netlink"

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

// memStore is a Store in memory.
type memStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memStore) Put(k string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = append([]byte(nil), v...)
	return nil
}

func (s *memStore) Delete(k string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, k)
	return nil
}

func (s *memStore) ForEach(fn func(string, []byte) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.m {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

// TestCreateNetworkWithoutRules: a network whose firewall rules cannot be
// made is not made (it would not be isolated): the create fails with an
// unavailable error, and no record, entry or bridge is left.
func TestCreateNetworkWithoutRules(t *testing.T) {
	netdrvtest.Require(t)
	st := &memStore{m: map[string][]byte{}}
	m := New(Config{NamespaceDir: t.TempDir(), Drivers: map[string]netdrv.Driver{bridge.Name: bridge.New()},
		Firewall: brokenFirewall{}}, WithLogger(t.Logf))
	m.store, m.emit = st, func(string, string, ...string) {}
	br := netdrvtest.UniqueName("efst")
	_, err := m.Create(context.Background(), Options{Name: "walled", Driver: bridge.Name,
		Subnet: netdrvtest.FreeSubnet(t, 24).String(), Options: map[string]string{netdrv.OptionBridgeName: br}})
	if !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("create with no firewall: %v; want unavailable", err)
	}
	if len(m.nets) != 0 {
		t.Errorf("the failed create left networks: %v", m.nets)
	}
	for k := range st.m {
		t.Errorf("the failed create left a record %s", k)
	}
	if link, err := netlink.LinkByName(br); err == nil {
		netlink.LinkDel(link)
		t.Errorf("the failed create left its bridge %s", br)
	}
}
