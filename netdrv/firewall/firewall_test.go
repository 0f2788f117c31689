package firewall

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"

	"github.com/enginefs/enginefs/internal/testenv"
	"github.com/enginefs/enginefs/netdrv"
	"github.com/enginefs/enginefs/netdrv/netdrvtest"
)

// TestSyncRemove: in a network namespace of its own, Sync makes the table
// with a rule set per bridge network (none for a macvlan one), a second
// Sync replaces it, and Remove deletes it.
func TestSyncRemove(t *testing.T) {
	netdrvtest.Require(t)
	testenv.Need(t, "nf_tables", testenv.NFTables())
	ns, err := netdrv.CreateNamespace(filepath.Join(t.TempDir(), "ns"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netdrv.DeleteNamespace(ns.Path()) })
	fd, err := unix.Open(ns.Path(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	name := TableName(t.TempDir())
	fw, err := New(name, WithNetNS(fd))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	nets := []netdrv.Network{
		{ID: "a1", Name: "a", Driver: "bridge", Subnet: netip.MustParsePrefix("10.1.0.0/24"), Options: map[string]string{netdrv.OptionBridgeName: "bra"}},
		{ID: "b1", Name: "b", Driver: "bridge", Subnet: netip.MustParsePrefix("10.2.0.0/24"), Options: map[string]string{netdrv.OptionBridgeName: "brb"}},
		{ID: "i1", Name: "i", Driver: "bridge", Internal: true, Subnet: netip.MustParsePrefix("10.3.0.0/24"), Options: map[string]string{netdrv.OptionBridgeName: "bri"}},
		{ID: "m1", Name: "m", Driver: "macvlan", Subnet: netip.MustParsePrefix("10.4.0.0/24")},
	}
	conn, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		t.Fatal(err)
	}
	count := func() (fwd, nat int) {
		t.Helper()
		tbl := &nftables.Table{Name: name, Family: nftables.TableFamilyINet}
		for _, c := range []struct {
			chain string
			n     *int
		}{{"forward", &fwd}, {"postrouting", &nat}} {
			rules, err := conn.GetRules(tbl, &nftables.Chain{Name: c.chain, Table: tbl})
			if err != nil {
				t.Fatalf("rules of %s: %v", c.chain, err)
			}
			*c.n = len(rules)
		}
		return fwd, nat
	}
	if err := fw.Sync(ctx, nets); err != nil {
		t.Fatal(err)
	}
	// forward: established, 2 per bridge (3 per internal one) and the
	// last drop; postrouting: a masquerade per bridge that is not internal.
	if os.Getenv("SHOWNFT") != "" {
		out, _ := exec.Command("nsenter", "--net="+ns.Path(), "nft", "list", "ruleset").CombinedOutput()
		t.Logf("%s", out)
	}
	if fwd, nat := count(); fwd != 9 || nat != 2 {
		t.Errorf("after Sync of 3 bridges (1 internal): %d forward rules, %d nat rules; want 9 and 2", fwd, nat)
	}
	if err := fw.Sync(ctx, nets[:1]); err != nil {
		t.Fatal(err)
	}
	if fwd, nat := count(); fwd != 4 || nat != 1 {
		t.Errorf("after Sync of 1 bridge: %d forward rules, %d nat rules; want 4 and 1", fwd, nat)
	}
	if err := fw.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ListTableOfFamily(name, nftables.TableFamilyINet); err == nil {
		t.Error("the table is still there after Remove")
	}
	if err := fw.Remove(ctx); err != nil {
		t.Errorf("Remove of no table: %v", err)
	}
}
