//go:build linux

package tests

import (
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"

	"github.com/enginefs/enginefs/internal/testenv"
	"github.com/enginefs/enginefs/netdrv/firewall"
	"github.com/enginefs/enginefs/netdrv/netdrvtest"
)

// requireFirewall skips the test (fails it under CI), naming what is
// missing, on a host without nf_tables. It checks the kernel directly, not
// through the firewall's own probe: once nf_tables answers, a firewall
// that cannot be made is a failure of the tests that need it.
func requireFirewall(t *testing.T) {
	t.Helper()
	needDaemon(t)
	testenv.Need(t, "nf_tables", testenv.NFTables())
}

// TestNetworkIsolation: containers reach each other on their own network
// but not across networks; what leaves the host is masqueraded (an HTTP
// server in a namespace the test makes beyond the host sees the host's
// address, not the container's); a container on an internal network
// reaches nothing beyond its bridge. The daemon's nftables table goes when
// it stops with no network in use and comes back when it starts.
func TestNetworkIsolation(t *testing.T) {
	requireFirewall(t)
	out := netdrvtest.NewOutside(t)
	l := out.Listen(t, 80)
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		w.Write([]byte("from " + host + "\n"))
	}))

	d := startDaemon(t)
	subnets := map[string]netip.Prefix{}
	for _, n := range []struct{ name, internal string }{{"neta", ""}, {"netb", ""}, {"neti", "--internal"}} {
		subnets[n.name] = netdrvtest.FreeSubnet(t, 24)
		args := []string{"network", "create", "--subnet", subnets[n.name].String()}
		if n.internal != "" {
			args = append(args, n.internal)
		}
		d.mustDctl(append(args, n.name)...)
	}
	d.mustDctl("run", "-d", "--name", "weba", "--network", "neta", "busybox", "sh", "-c", httpdScript("on-a"))
	ipA := d.inspectNet("weba").Networks["neta"].IPAddress
	// timeout (busybox wget's own -T crashes) in sh, with a command after
	// it so that sh does not exec it: as the container's init, wget would
	// ignore the signal.
	fetch := func(url string) string {
		return "for i in 1 2 3 4 5 6 7 8 9 10; do timeout 3 wget -qO- " + url + " && exit 0; sleep 0.2; done; exit 1"
	}
	noFetch := func(url string) string { return "timeout 2 wget -qO- " + url + "; exit $?" }
	if got := d.mustDctl("run", "--rm", "--network", "neta", "busybox", "sh", "-c", fetch("http://"+ipA+"/")); got != "on-a\n" {
		t.Errorf("a container on neta fetched %q from weba", got)
	}
	if got, _, code := d.dctl("run", "--rm", "--network", "netb", "busybox", "sh", "-c", noFetch("http://"+ipA+"/")); code == 0 {
		t.Errorf("a container on netb reached weba on neta: %q", got)
	}
	want := "from " + out.HostAddr.String() + "\n"
	for _, network := range []string{"neta", "bridge"} {
		if got := d.mustDctl("run", "--rm", "--network", network, "busybox", "sh", "-c", fetch("http://"+out.Addr.String()+"/")); got != want {
			t.Errorf("a container on %s reached the outside as %q, want %q (masqueraded)", network, got, want)
		}
	}
	// (An internal network has no gateway, so this holds by routing too;
	// the rules are a second wall.)
	if got, _, code := d.dctl("run", "--rm", "--network", "neti", "busybox", "sh", "-c", noFetch("http://"+out.Addr.String()+"/")); code == 0 {
		t.Errorf("a container on the internal neti reached the outside: %q", got)
	}
	// A machine beyond the host that routes to neta through the host
	// reaches no container: the host forwards, but not into a bridge.
	h, err := out.NS.Handle()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	dst := subnets["neta"]
	if err := h.RouteAdd(&netlink.Route{Dst: &net.IPNet{IP: dst.Addr().AsSlice(), Mask: net.CIDRMask(dst.Bits(), 32)}, Gw: out.HostAddr.AsSlice()}); err != nil {
		t.Fatalf("a route to %s in the outside namespace: %v", dst, err)
	}
	err = out.NS.Do(func() error {
		c, err := net.DialTimeout("tcp4", ipA+":80", 2*time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
	if err == nil {
		t.Errorf("a connection from beyond the host reached weba (%s:80), which publishes no port", ipA)
	}

	conn, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	table := firewall.TableName(d.run)
	if _, err := conn.ListTableOfFamily(table, nftables.TableFamilyINet); err != nil {
		t.Errorf("the daemon's table %s: %v", table, err)
	}
	d.mustDctl("rm", "-f", "weba")
	d.stop()
	if _, err := conn.ListTableOfFamily(table, nftables.TableFamilyINet); err == nil {
		t.Errorf("the table %s is left after the daemon stopped with no network in use", table)
	}
	d.start()
	if _, err := conn.ListTableOfFamily(table, nftables.TableFamilyINet); err != nil {
		t.Errorf("the table %s is not back after a restart: %v", table, err)
	}
}
