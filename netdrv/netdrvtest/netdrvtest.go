// Package netdrvtest is the conformance suite of netdrv.Driver: every driver
// (netdrv/bridge, netdrv/macvlan) runs [TestDriver] on the real kernel, in
// network namespaces the test makes, and shows that two endpoints of one
// network get their addresses, MACs and routes, reach each other over TCP,
// and are gone after Leave, as is the host side after Teardown.
//
// It also holds the helpers tests elsewhere use to make names and subnets
// that concurrent tests on one host, in one process or many, do not share ([UniqueName],
// [FreeSubnet]), and a place beyond the host for traffic that leaves it
// ([NewOutside]).
package netdrvtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/enginefs/enginefs/internal/testenv"
	"github.com/enginefs/enginefs/netdrv"
	"github.com/enginefs/enginefs/netdrv/ipam"
)

// Require skips the test, naming what is missing, when it cannot make
// network namespaces and links.
func Require(t testing.TB) {
	t.Helper()
	testenv.NeedRoot(t) // network namespaces, netlink
}

// UniqueName returns prefix followed by random hex digits, IFNAMSIZ-safe.
func UniqueName(prefix string) string {
	var b [8]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])[:netdrv.IFNameMax-len(prefix)]
}

// FreeSubnet returns a random subnet of the given length (16 to 28) in
// 10.192.0.0/11 that no route of the host overlaps, for a test network.
func FreeSubnet(t testing.TB, bits int) netip.Prefix {
	t.Helper()
	return FreeSubnetIn(t, netip.MustParsePrefix("10.192.0.0/11"), bits)
}

// FreeSubnetIn returns a random subnet of the given length in within that
// no route of the host overlaps and no other test process holds: it is
// held, in a directory of the host's temporary directory, until the test
// ends (or its process dies), since a daemon's network pool has no route
// until a bridge is made in it.
func FreeSubnetIn(t testing.TB, within netip.Prefix, bits int) netip.Prefix {
	t.Helper()
	unlock, held, err := lockSubnets()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	routes, err := netdrv.HostRoutes()
	if err != nil {
		t.Fatal(err)
	}
	taken := append(routes, held...)
	b := within.Masked().Addr().As4()
	base := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	for try := 0; try < 100; try++ {
		n, _ := rand.Int(rand.Reader, big.NewInt(1<<(bits-within.Bits())))
		v := base + uint32(n.Int64())<<(32-bits)
		cand := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), bits)
		if slices.ContainsFunc(taken, cand.Overlaps) {
			continue
		}
		file := filepath.Join(subnetDir(), strings.ReplaceAll(cand.String(), "/", "_"))
		if err := os.WriteFile(file, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(file) })
		return cand
	}
	t.Fatalf("no free test subnet in %s", within)
	return netip.Prefix{}
}

func subnetDir() string { return filepath.Join(os.TempDir(), "enginefs-test-subnets") }

// lockSubnets takes the lock of the held subnets and returns them, having
// removed those of processes that are gone.
func lockSubnets() (unlock func(), held []netip.Prefix, err error) {
	dir := subnetDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	unlock = func() { f.Close() } // closing drops the lock
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		p, err := netip.ParsePrefix(strings.ReplaceAll(e.Name(), "_", "/"))
		if err != nil {
			continue
		}
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		pid, _ := strconv.Atoi(string(data))
		if pid <= 0 || unix.Kill(pid, 0) == unix.ESRCH {
			os.Remove(filepath.Join(dir, e.Name()))
			continue
		}
		held = append(held, p)
	}
	return unlock, held, nil
}

// DummyParent makes a link with no traffic of its own to be the parent of
// macvlan endpoints, up, and deletes it when the test ends. It is a dummy
// link where the kernel has the dummy driver, else an ifb link, else one end
// of a veth pair (the test's name is the same either way).
func DummyParent(t testing.TB) string {
	t.Helper()
	name := UniqueName("efsd")
	attrs := netlink.LinkAttrs{Name: name}
	var link netlink.Link
	var errs []error
	for _, l := range []netlink.Link{
		&netlink.Dummy{LinkAttrs: attrs},
		&netlink.Ifb{LinkAttrs: attrs},
		&netlink.Veth{LinkAttrs: attrs, PeerName: UniqueName("efsp")},
	} {
		err := netlink.LinkAdd(l)
		if err == nil {
			link = l
			break
		}
		errs = append(errs, fmt.Errorf("%s: %w", l.Type(), err))
	}
	if link == nil {
		testenv.Need(t, "a dummy, ifb or veth link driver (a parent link for macvlan)", errors.Join(errs...))
	}
	t.Cleanup(func() {
		if err := netlink.LinkDel(link); err != nil {
			t.Errorf("deleting the test's parent link %s: %v", name, err)
		}
	})
	if err := netlink.LinkSetUp(link); err != nil {
		t.Fatal(err)
	}
	if v, ok := link.(*netlink.Veth); ok {
		if peer, err := netlink.LinkByName(v.PeerName); err == nil {
			_ = netlink.LinkSetUp(peer)
		}
	}
	return name
}

// Config is one driver under test.
type Config struct {
	Driver netdrv.Driver
	// Network returns the network to test on; the suite fills nothing in.
	// It may make what the network needs (a parent interface), removing it
	// with t.Cleanup.
	Network func(t *testing.T) netdrv.Network
	// HostSide reports whether the driver makes something on the host for
	// a network (a bridge) named by HostLink, checked after Teardown.
	HostLink func(n netdrv.Network) string
}

// TestDriver runs the suite.
func TestDriver(t *testing.T, cfg Config) {
	Require(t)
	ctx := context.Background()
	n := cfg.Network(t)
	if err := cfg.Driver.Setup(ctx, n); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	t.Cleanup(func() {
		if err := cfg.Driver.Teardown(ctx, n); err != nil {
			t.Errorf("Teardown: %v", err)
		}
		if cfg.HostLink != nil {
			if _, err := netlink.LinkByName(cfg.HostLink(n)); !netdrv.IsNotFound(err) {
				t.Errorf("host link %s still there after Teardown (%v)", cfg.HostLink(n), err)
			}
		}
	})
	// Setup again adopts what is there.
	if err := cfg.Driver.Setup(ctx, n); err != nil {
		t.Fatalf("Setup a second time: %v", err)
	}

	dir := t.TempDir()
	var nss [2]netdrv.Namespace
	var eps [2]netdrv.Endpoint
	pool, err := ipam.New(n.Subnet, n.Gateway)
	if err != nil {
		t.Fatal(err)
	}
	for i := range nss {
		ns, err := netdrv.CreateNamespace(filepath.Join(dir, fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := netdrv.DeleteNamespace(ns.Path()); err != nil {
				t.Error(err)
			}
		})
		nss[i] = ns
		addr, err := pool.Allocate(fmt.Sprint(i))
		if err != nil {
			t.Fatal(err)
		}
		id := UniqueName("c") + fmt.Sprint(i)
		eps[i] = netdrv.Endpoint{ContainerID: id, IfName: "eth0", Address: netip.PrefixFrom(addr, n.Subnet.Bits()),
			MAC: netdrv.MACFor(addr), DefaultRoute: true}
		if err := cfg.Driver.Join(ctx, n, eps[i], ns); err != nil {
			t.Fatalf("Join %d: %v", i, err)
		}
		t.Cleanup(func() { _ = cfg.Driver.Leave(ctx, n, eps[i], ns) })
	}

	t.Run("Interface", func(t *testing.T) {
		for i, ns := range nss {
			checkInterface(t, ns, n, eps[i])
		}
	})
	t.Run("Reach", func(t *testing.T) {
		reach(t, nss[0], nss[1], eps[1].Address.Addr())
		reach(t, nss[1], nss[0], eps[0].Address.Addr())
	})
	t.Run("Leave", func(t *testing.T) {
		if err := cfg.Driver.Leave(ctx, n, eps[0], nss[0]); err != nil {
			t.Fatal(err)
		}
		h, err := nss[0].Handle()
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		if _, err := h.LinkByName("eth0"); !netdrv.IsNotFound(err) {
			t.Errorf("eth0 still in the namespace after Leave (%v)", err)
		}
		if err := cfg.Driver.Leave(ctx, n, eps[0], nss[0]); err != nil {
			t.Errorf("a second Leave: %v", err)
		}
	})
}

// checkInterface checks ep's interface in ns.
func checkInterface(t *testing.T, ns netdrv.Namespace, n netdrv.Network, ep netdrv.Endpoint) {
	t.Helper()
	h, err := ns.Handle()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	link, err := h.LinkByName(ep.IfName)
	if err != nil {
		t.Fatalf("%s in %s: %v", ep.IfName, ns, err)
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("%s is down", ep.IfName)
	}
	if got := link.Attrs().HardwareAddr.String(); got != ep.MAC.String() {
		t.Errorf("%s has MAC %s, want %s", ep.IfName, got, ep.MAC)
	}
	addrs, err := h.AddrList(link, netlink.FAMILY_V4)
	if err != nil || len(addrs) != 1 || addrs[0].IPNet.String() != ep.Address.String() {
		t.Errorf("%s has addresses %v (%v), want %s", ep.IfName, addrs, err, ep.Address)
	}
	routes, err := h.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	gw := ""
	for _, r := range routes {
		if r.Dst == nil || r.Dst.IP.IsUnspecified() {
			gw = r.Gw.String()
		}
	}
	if want := n.Gateway.String(); n.Gateway.IsValid() && gw != want {
		t.Errorf("default route via %q, want %s", gw, want)
	}
	lo, err := h.LinkByName("lo")
	if err != nil || lo.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("lo is not up in %s (%v)", ns, err)
	}
}

// reach listens on TCP in to, connects from from to addr and exchanges a line.
func reach(t *testing.T, from, to netdrv.Namespace, addr netip.Addr) {
	t.Helper()
	var l net.Listener
	if err := to.Do(func() (err error) {
		l, err = net.Listen("tcp", netip.AddrPortFrom(addr, 0).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write([]byte("hello\n"))
	}()
	var c net.Conn
	if err := from.Do(func() (err error) {
		d := net.Dialer{Timeout: 5 * time.Second}
		c, err = d.Dial("tcp", l.Addr().String())
		return err
	}); err != nil {
		t.Fatalf("connect from %s to %s: %v", from, l.Addr(), err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "hello\n" {
		t.Fatalf("read %q, %v", b, err)
	}
}
