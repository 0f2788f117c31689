//go:build linux

package engine

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
// refuses to remove a network in use and has every driver; the engine
// here has networking and nothing else.
func TestNetworkRunErrorClasses(t *testing.T) {
	testenv.NeedRoot(t)
	ctx := context.Background()
	e := &Engine{logf: t.Logf, netcfg: &NetConfig{NamespaceDir: t.TempDir(), Drivers: map[string]netdrv.Driver{}}}
	e.net.nets = map[string]*netEntry{}
	e.sandboxes.m = map[string]*sandbox{}
	ep := &Endpoint{NetworkID: "0123", IPAddress: netip.MustParseAddr("10.99.0.2"), IPPrefixLen: 24}
	rec := Record{ID: strings.Repeat("ab", 32), Config: Config{Networking: Networking{NetworkMode: "gone"}},
		Networks: map[string]*Endpoint{"gone": ep}}

	if _, _, err := e.netUp(ctx, rec); !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "gone") {
		t.Errorf("start on a network that is gone: %v; want not found naming it", err)
	}
	if ents, _ := os.ReadDir(e.netcfg.NamespaceDir); len(ents) != 0 {
		t.Errorf("the failed start left namespaces: %v", ents)
	}
	n := &netEntry{rec: NetworkRecord{ID: "0123", Name: "odd", Driver: "nodriver"}}
	if err := e.join(ctx, rec.ID, n, ep, "eth0", true, ""); !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "nodriver") {
		t.Errorf("join through a missing driver: %v; want not found naming it", err)
	}
	if err := e.hotplug(ctx, rec, n, ep); !errors.Is(err, errdefs.ErrBusy) {
		t.Errorf("connect of a container without a namespace: %v; want busy", err)
	}
}
