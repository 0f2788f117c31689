package ipam

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/enginefs/enginefs/errdefs"
)

func TestPoolAllocate(t *testing.T) {
	p, err := New(netip.MustParsePrefix("10.1.2.0/29"), netip.MustParseAddr("10.1.2.1"))
	if err != nil {
		t.Fatal(err)
	}
	// .0 network, .1 gateway, .7 broadcast: .2 to .6 are handed out.
	var got []string
	for i := 0; i < 5; i++ {
		a, err := p.Allocate("c" + string(rune('a'+i)))
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		got = append(got, a.String())
	}
	want := []string{"10.1.2.2", "10.1.2.3", "10.1.2.4", "10.1.2.5", "10.1.2.6"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("allocated %v, want %v", got, want)
		}
	}
	if _, err := p.Allocate("full"); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("allocating from a full pool: %v, want unavailable", err)
	}
	// A freed address comes back, and only that one.
	p.Release(netip.MustParseAddr("10.1.2.4"), "cc")
	if a, err := p.Allocate("again"); err != nil || a.String() != "10.1.2.4" {
		t.Fatalf("after release: %v %v, want 10.1.2.4", a, err)
	}
	// Release by another holder does nothing.
	p.Release(netip.MustParseAddr("10.1.2.4"), "someone else")
	if h := p.Holder(netip.MustParseAddr("10.1.2.4")); h != "again" {
		t.Fatalf("holder after a foreign release: %q", h)
	}
}

func TestPoolRoundRobin(t *testing.T) {
	p, _ := New(netip.MustParsePrefix("10.1.2.0/24"), netip.MustParseAddr("10.1.2.1"))
	a, _ := p.Allocate("a")
	p.Release(a, "a")
	b, _ := p.Allocate("b")
	if a == b {
		t.Fatalf("a released address (%s) was handed out again at once", a)
	}
}

func TestPoolClaim(t *testing.T) {
	p, _ := New(netip.MustParsePrefix("10.1.2.0/24"), netip.MustParseAddr("10.1.2.1"))
	for _, tc := range []struct {
		addr, holder string
		class        error
	}{
		{"10.1.2.9", "a", nil},
		{"10.1.2.9", "a", nil}, // again by the same holder
		{"10.1.2.9", "b", errdefs.ErrAlreadyExists},
		{"10.1.2.1", "b", errdefs.ErrInvalid},   // gateway
		{"10.1.2.0", "b", errdefs.ErrInvalid},   // network
		{"10.1.2.255", "b", errdefs.ErrInvalid}, // broadcast
		{"10.1.3.5", "b", errdefs.ErrInvalid},   // outside
	} {
		err := p.Claim(netip.MustParseAddr(tc.addr), tc.holder)
		if (tc.class == nil) != (err == nil) || (tc.class != nil && !errors.Is(err, tc.class)) {
			t.Errorf("claim %s by %s: %v, want %v", tc.addr, tc.holder, err, tc.class)
		}
	}
	// An allocation skips the claimed address.
	for i := 0; i < 10; i++ {
		if a, _ := p.Allocate("x"); a.String() == "10.1.2.9" {
			t.Fatal("a claimed address was handed out")
		}
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct{ subnet, gw string }{
		{"10.0.0.0/31", ""}, {"10.0.0.0/4", ""}, {"fd00::/64", ""},
		{"10.0.0.0/24", "10.0.1.1"}, {"10.0.0.0/24", "10.0.0.0"}, {"10.0.0.0/24", "10.0.0.255"},
	} {
		var gw netip.Addr
		if tc.gw != "" {
			gw = netip.MustParseAddr(tc.gw)
		}
		if _, err := New(netip.MustParsePrefix(tc.subnet), gw); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("New(%s, %s): %v, want invalid", tc.subnet, tc.gw, err)
		}
	}
}

func TestNextSubnet(t *testing.T) {
	pool := netip.MustParsePrefix("10.90.0.0/16")
	taken := []netip.Prefix{
		netip.MustParsePrefix("10.90.0.0/24"),
		netip.MustParsePrefix("10.90.1.128/25"), // a host route that overlaps the second /24
		netip.MustParsePrefix("192.168.0.0/16"),
	}
	got, err := NextSubnet(pool, 24, taken)
	if err != nil || got.String() != "10.90.2.0/24" {
		t.Fatalf("NextSubnet = %v, %v; want 10.90.2.0/24", got, err)
	}
	if _, err := NextSubnet(netip.MustParsePrefix("10.90.0.0/24"), 24, taken); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("a pool with nothing free: %v", err)
	}
}

func TestParseSubnet(t *testing.T) {
	if p, err := ParseSubnet("10.5.0.0/16"); err != nil || p.String() != "10.5.0.0/16" {
		t.Fatalf("ParseSubnet: %v %v", p, err)
	}
	for _, bad := range []string{"10.5.0.1/16", "10.5.0.0", "nonsense", "fd00::/64", "10.0.0.0/31"} {
		if _, err := ParseSubnet(bad); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("ParseSubnet(%q): %v, want invalid", bad, err)
		}
	}
}
