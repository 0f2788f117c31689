//go:build linux

package network

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/internal/testenv"
	"github.com/enginefs/enginefs/netdrv"
)

// TestNetworkRunErrorClasses: a start whose network is gone, a network
// whose driver the daemon lacks and a connect to a running container
// without a namespace fail with a class (so an errno and an HTTP status),
// not as unclassed errors. None can be reached through the tree, which
// refuses to remove a network in use and has every driver; the manager
// here has no network and no driver.
func TestNetworkRunErrorClasses(t *testing.T) {
	testenv.NeedRoot(t)
	ctx := context.Background()
	m := New(Config{NamespaceDir: t.TempDir(), Drivers: map[string]netdrv.Driver{}}, WithLogger(t.Logf))
	ep := &Endpoint{NetworkID: "0123", IPAddress: netip.MustParseAddr("10.99.0.2"), IPPrefixLen: 24}
	c := Container{ID: strings.Repeat("ab", 32), Settings: Settings{NetworkMode: "gone"},
		Endpoints: map[string]*Endpoint{"gone": ep}}

	if _, err := m.Up(ctx, c); !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "gone") {
		t.Errorf("start on a network that is gone: %v; want not found naming it", err)
	}
	if ents, _ := os.ReadDir(m.cfg.NamespaceDir); len(ents) != 0 {
		t.Errorf("the failed start left namespaces: %v", ents)
	}
	n := &entry{rec: Record{ID: "0123", Name: "odd", Driver: "nodriver"}}
	if err := m.join(ctx, c.ID, n, ep, "eth0", true, ""); !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "nodriver") {
		t.Errorf("join through a missing driver: %v; want not found naming it", err)
	}
	if err := m.hotplug(ctx, c, n, ep); !errors.Is(err, errdefs.ErrBusy) {
		t.Errorf("connect of a container without a namespace: %v; want busy", err)
	}
}
