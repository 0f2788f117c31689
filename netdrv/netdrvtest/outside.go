package netdrvtest

import (
	"net"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/enginefs/enginefs/netdrv"
)

// Outside is a place beyond the host that a test makes for the traffic
// that leaves it: a network namespace reached from the host over a veth
// pair, on a /30 of 198.18.0.0/15 (the benchmarking range) that no route
// of the host overlaps. Traffic sent to Addr never leaves the machine.
type Outside struct {
	NS       netdrv.Namespace
	HostAddr netip.Addr // the host's end
	Addr     netip.Addr // the namespace's end
	Link     string     // the host's end of the veth pair
}

// NewOutside makes an Outside and removes it when the test ends.
func NewOutside(t testing.TB) *Outside {
	t.Helper()
	Require(t)
	subnet := FreeSubnetIn(t, netip.MustParsePrefix("198.18.0.0/15"), 30)
	o := &Outside{HostAddr: subnet.Addr().Next(), Addr: subnet.Addr().Next().Next(), Link: UniqueName("efso")}
	ns, err := netdrv.CreateNamespace(filepath.Join(t.TempDir(), "outside"))
	if err != nil {
		t.Fatal(err)
	}
	o.NS = ns
	t.Cleanup(func() {
		if err := netdrv.DeleteNamespace(ns.Path()); err != nil {
			t.Errorf("removing the outside namespace: %v", err)
		}
	})
	fd, err := unix.Open(ns.Path(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: o.Link}, PeerName: "eth0", PeerNamespace: netlink.NsFd(fd)}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("veth %s: %v", o.Link, err)
	}
	t.Cleanup(func() {
		if link, err := netlink.LinkByName(o.Link); err == nil {
			_ = netlink.LinkDel(link)
		}
	})
	addr := func(a netip.Addr) *netlink.Addr {
		return &netlink.Addr{IPNet: &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(30, 32)}}
	}
	link, err := netlink.LinkByName(o.Link)
	if err == nil {
		err = netlink.AddrAdd(link, addr(o.HostAddr))
	}
	if err == nil {
		err = netlink.LinkSetUp(link)
	}
	if err != nil {
		t.Fatalf("the host's end %s: %v", o.Link, err)
	}
	h, err := ns.Handle()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	peer, err := h.LinkByName("eth0")
	if err == nil {
		err = h.AddrAdd(peer, addr(o.Addr))
	}
	if err == nil {
		err = h.LinkSetUp(peer)
	}
	if err != nil {
		t.Fatalf("the outside end: %v", err)
	}
	return o
}

// Listen listens on TCP port in the outside namespace, on its address.
func (o *Outside) Listen(t testing.TB, port int) net.Listener {
	t.Helper()
	var l net.Listener
	err := o.NS.Do(func() (err error) {
		l, err = net.Listen("tcp4", netip.AddrPortFrom(o.Addr, uint16(port)).String())
		return err
	})
	if err != nil {
		t.Fatalf("listening outside: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}
