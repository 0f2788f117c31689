package ipam

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/enginefs/enginefs/errdefs"
)

// TestPoolRange: with an ip-range, only its addresses are handed out (the
// auxiliary ones never); an --ip may be anywhere in the subnet but not on
// an auxiliary address.
func TestPoolRange(t *testing.T) {
	p, err := New(netip.MustParsePrefix("10.1.0.0/24"), netip.MustParseAddr("10.1.0.1"),
		WithRange(netip.MustParsePrefix("10.1.0.16/30")),
		WithAux(map[string]netip.Addr{"router": netip.MustParseAddr("10.1.0.17"), "far": netip.MustParseAddr("10.1.0.200")}))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := 0; i < 3; i++ {
		a, err := p.Allocate(string(rune('a' + i)))
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		got = append(got, a.String())
	}
	if want := "[10.1.0.18 10.1.0.19 10.1.0.16]"; func() string { return "[" + got[0] + " " + got[1] + " " + got[2] + "]" }() != want {
		t.Fatalf("allocated %v, want %s", got, want)
	}
	if _, err := p.Allocate("full"); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("allocating from a full range: %v, want unavailable", err)
	}
	if err := p.Claim(netip.MustParseAddr("10.1.0.100"), "static"); err != nil {
		t.Fatalf("claiming an address of the subnet outside the range: %v", err)
	}
	if err := p.Claim(netip.MustParseAddr("10.1.0.200"), "static2"); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("claiming an auxiliary address: %v, want already exists", err)
	}
}

func TestPoolRangeRefused(t *testing.T) {
	subnet, gw := netip.MustParsePrefix("10.1.0.0/24"), netip.MustParseAddr("10.1.0.1")
	for _, tc := range []struct {
		name string
		opt  Option
		want error
	}{
		{"range outside", WithRange(netip.MustParsePrefix("10.1.1.0/28")), errdefs.ErrInvalid},
		{"range wider", WithRange(netip.MustParsePrefix("10.1.0.0/23")), errdefs.ErrInvalid},
		{"range host bits", WithRange(netip.MustParsePrefix("10.1.0.17/28")), errdefs.ErrInvalid},
		{"aux outside", WithAux(map[string]netip.Addr{"a": netip.MustParseAddr("10.1.5.1")}), errdefs.ErrInvalid},
		{"aux gateway", WithAux(map[string]netip.Addr{"a": gw}), errdefs.ErrAlreadyExists},
		{"aux no name", WithAux(map[string]netip.Addr{"": netip.MustParseAddr("10.1.0.9")}), errdefs.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(subnet, gw, tc.opt); !errors.Is(err, tc.want) {
				t.Fatalf("New: %v, want %v", err, tc.want)
			}
		})
	}
}
