package network

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/enginefs/enginefs/netdrv"
)

// TestOpenKeepsRange: a daemon started again rebuilds a network's pool
// with its ip-range and auxiliary addresses from its record.
func TestOpenKeepsRange(t *testing.T) {
	rec := Record{ID: strings.Repeat("r", 64), Name: "ranged net", Driver: "bridge",
		Subnet: netip.MustParsePrefix("10.78.0.0/24"), Gateway: netip.MustParseAddr("10.78.0.1"),
		IPRange: netip.MustParsePrefix("10.78.0.16/30"), AuxAddresses: map[string]netip.Addr{"r": netip.MustParseAddr("10.78.0.16")}}
	data, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	st := &memStore{m: map[string][]byte{rec.ID: data}}
	cs := &fakeContainers{m: map[string]Container{}}
	m := New(Config{NamespaceDir: t.TempDir(), Drivers: map[string]netdrv.Driver{}, DefaultNetwork: "ranged net"}, WithLogger(t.Logf))
	if err := m.Open(context.Background(), st, cs, func(string, string, ...string) {}); err != nil {
		t.Fatal(err)
	}
	got, err := m.Get("ranged net")
	if err != nil || got.IPRange != rec.IPRange || got.AuxAddresses["r"] != rec.AuxAddresses["r"] {
		t.Fatalf("record after Open: %+v, %v", got, err)
	}
	var addrs []string
	for i := 0; i < 3; i++ {
		att, err := m.Attach(Container{ID: strings.Repeat(string(rune('a'+i)), 64)}, nil)
		if err != nil {
			t.Fatalf("attach %d: %v", i, err)
		}
		addrs = append(addrs, att.Endpoints()["ranged net"].IPAddress.String())
		att.Commit(nil)
	}
	if want := "10.78.0.17 10.78.0.18 10.78.0.19"; strings.Join(addrs, " ") != want {
		t.Errorf("addresses %v, want %s", addrs, want)
	}
}
