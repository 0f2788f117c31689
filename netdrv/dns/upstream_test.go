//go:build linux

package dns_test

import (
	"net"
	"net/netip"
	"path/filepath"
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/enginefs/enginefs/netdrv"
	"github.com/enginefs/enginefs/netdrv/dns"
	"github.com/enginefs/enginefs/netdrv/netdrvtest"
)

// ownResolvers is names for a container "me" with resolvers of its own
// (docker's --dns on a user-defined network).
type ownResolvers struct {
	names
	mine []string
}

func (o ownResolvers) Upstreams(id string) []string {
	if id == "me" {
		return o.mine
	}
	return nil
}

// answering runs a DNS server on loopback answering every A question
// with ip.
func answering(t *testing.T, ip net.IP) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		m.Answer = append(m.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: r.Question[0].Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 5}, A: ip})
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

// TestServerUpstreams: a container's own resolvers replace the server's
// forwarders for its questions; its peers still resolve locally.
func TestServerUpstreams(t *testing.T) {
	netdrvtest.Require(t)
	ns, err := netdrv.CreateNamespace(filepath.Join(t.TempDir(), "ns"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { netdrv.DeleteNamespace(ns.Path()) })
	table := names{"web": netip.MustParseAddr("10.9.0.2")}
	res := ownResolvers{names: table, mine: []string{answering(t, net.IPv4(192, 0, 2, 77))}}
	s := dns.New(res, dns.WithForwarders(answering(t, net.IPv4(192, 0, 2, 99))))
	t.Cleanup(s.Close)
	if err := s.Listen("me", ns); err != nil {
		t.Fatal(err)
	}
	if r := query(t, ns, "udp", "elsewhere.test.", mdns.TypeA); len(r.Answer) != 1 || r.Answer[0].(*mdns.A).A.String() != "192.0.2.77" {
		t.Errorf("forwarded A: %v, want the container's own resolver's 192.0.2.77", r)
	}
	if r := query(t, ns, "udp", "web.", mdns.TypeA); len(r.Answer) != 1 || r.Answer[0].(*mdns.A).A.String() != "10.9.0.2" {
		t.Errorf("A web: %v", r)
	}
}
