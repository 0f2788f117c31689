package ipam

import (
	"net/netip"
	"testing"
)

// FuzzPoolRange: whatever subnet, range and auxiliary address New takes,
// Allocate hands out only free host addresses of the range that are
// neither the gateway nor the auxiliary one, never twice, and says so
// when the range is full.
func FuzzPoolRange(f *testing.F) {
	f.Add(uint32(0x0a010000), uint8(24), uint32(0x0a010010), uint8(28), uint32(0x0a010011), uint8(20))
	f.Add(uint32(0x0a010000), uint8(30), uint32(0x0a010000), uint8(30), uint32(0x0a010002), uint8(5))
	f.Add(uint32(0xc0a80000), uint8(16), uint32(0xc0a8ff00), uint8(32), uint32(0xc0a8ff00), uint8(3))
	f.Fuzz(func(t *testing.T, subnet uint32, bits uint8, rng uint32, rbits uint8, aux uint32, n uint8) {
		s, err := netip.AddrFrom4(be(subnet)).Prefix(int(bits % 33))
		if err != nil || CheckSubnet(s) != nil {
			return
		}
		r := netip.PrefixFrom(netip.AddrFrom4(be(rng)), int(rbits%33))
		a := netip.AddrFrom4(be(aux))
		gw := FirstHost(s)
		p, err := New(s, gw, WithRange(r), WithAux(map[string]netip.Addr{"x": a}))
		if err != nil {
			return
		}
		seen := map[netip.Addr]bool{}
		for i := 0; i < int(n); i++ {
			got, err := p.Allocate("h")
			if err != nil {
				// Full: every address of the range is taken or reserved.
				for c := r.Masked().Addr(); r.Contains(c); c = c.Next() {
					if !seen[c] && !p.reserved(c) {
						t.Fatalf("Allocate: %v, but %s is free", err, c)
					}
				}
				return
			}
			switch {
			case !r.Contains(got):
				t.Fatalf("%s is outside the range %s", got, r)
			case got == gw || got == a || got == s.Masked().Addr() || got == broadcast(s):
				t.Fatalf("%s is reserved (gateway %s, aux %s, subnet %s)", got, gw, a, s)
			case seen[got]:
				t.Fatalf("%s handed out twice", got)
			}
			seen[got] = true
		}
	})
}

func be(v uint32) [4]byte { return [4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }
