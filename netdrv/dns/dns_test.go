//go:build linux

package dns_test

import (
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/enginefs/enginefs/netdrv"
	"github.com/enginefs/enginefs/netdrv/dns"
	"github.com/enginefs/enginefs/netdrv/netdrvtest"
)

// names is a Resolver over a fixed table, as container "me" sees it.
type names map[string]netip.Addr

func (n names) Lookup(id, name string) ([]netip.Addr, bool) {
	if id != "me" {
		return nil, false
	}
	a, ok := n[name]
	if !ok {
		return nil, false
	}
	return []netip.Addr{a}, true
}

func (n names) Reverse(id string, addr netip.Addr) (string, bool) {
	for k, v := range n {
		if v == addr {
			return k, true
		}
	}
	return "", false
}

func (n names) Forward(id string) bool { return true }

// internalOnly is names as a container on internal networks only sees them.
type internalOnly struct{ names }

func (internalOnly) Forward(id string) bool { return false }

// upstream runs a DNS server on loopback that answers every A question with
// 192.0.2.99, standing in for the host's resolver.
func upstream(t *testing.T) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		m.Answer = append(m.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: r.Question[0].Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 5}, A: net.IPv4(192, 0, 2, 99)})
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

// query asks the server in ns.
func query(t *testing.T, ns netdrv.Namespace, network, name string, qtype uint16) *mdns.Msg {
	t.Helper()
	var resp *mdns.Msg
	err := ns.Do(func() (err error) {
		c := &mdns.Client{Net: network, Timeout: 5 * time.Second}
		m := new(mdns.Msg)
		m.SetQuestion(name, qtype)
		resp, _, err = c.Exchange(m, dns.Address)
		return err
	})
	if err != nil {
		t.Fatalf("query %s %s: %v", network, name, err)
	}
	return resp
}

func TestServer(t *testing.T) {
	netdrvtest.Require(t)
	ns, err := netdrv.CreateNamespace(filepath.Join(t.TempDir(), "ns"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { netdrv.DeleteNamespace(ns.Path()) })
	table := names{"web": netip.MustParseAddr("10.9.0.2")}
	s := dns.New(table, dns.WithForwarders(upstream(t)))
	t.Cleanup(s.Close)
	if err := s.Listen("me", ns); err != nil {
		t.Fatal(err)
	}
	if err := s.Listen("me", ns); err != nil {
		t.Fatalf("listening again: %v", err)
	}

	for _, network := range []string{"udp", "tcp"} {
		r := query(t, ns, network, "WEB.", mdns.TypeA)
		if len(r.Answer) != 1 || r.Answer[0].(*mdns.A).A.String() != "10.9.0.2" || r.Rcode != mdns.RcodeSuccess {
			t.Errorf("%s: A web: %v", network, r)
		}
	}
	if r := query(t, ns, "udp", "web.", mdns.TypeAAAA); r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 0 {
		t.Errorf("AAAA web: %v, want an empty answer", r)
	}
	if r := query(t, ns, "udp", "2.0.9.10.in-addr.arpa.", mdns.TypePTR); len(r.Answer) != 1 || r.Answer[0].(*mdns.PTR).Ptr != "web." {
		t.Errorf("PTR: %v", r)
	}
	// Another name goes to the forwarder (the test's own, on loopback).
	if r := query(t, ns, "udp", "elsewhere.test.", mdns.TypeA); len(r.Answer) != 1 || r.Answer[0].(*mdns.A).A.String() != "192.0.2.99" {
		t.Errorf("forwarded A: %v", r)
	}

	// Without forwarders an unknown name is refused, at once.
	s2 := dns.New(table)
	t.Cleanup(s2.Close)
	s.Stop("me")
	if err := s2.Listen("me", ns); err != nil {
		t.Fatalf("listening after Stop: %v", err)
	}
	if r := query(t, ns, "udp", "elsewhere.test.", mdns.TypeA); r.Rcode != mdns.RcodeRefused {
		t.Errorf("no forwarders: rcode %d, want REFUSED", r.Rcode)
	}

	// A container on internal networks only: its peers resolve, other
	// names are refused though there are forwarders.
	s3 := dns.New(internalOnly{table}, dns.WithForwarders(upstream(t)))
	t.Cleanup(s3.Close)
	s2.Stop("me")
	if err := s3.Listen("me", ns); err != nil {
		t.Fatal(err)
	}
	if r := query(t, ns, "udp", "web.", mdns.TypeA); len(r.Answer) != 1 {
		t.Errorf("internal: A web: %v", r)
	}
	if r := query(t, ns, "udp", "elsewhere.test.", mdns.TypeA); r.Rcode != mdns.RcodeRefused || len(r.Answer) != 0 {
		t.Errorf("internal: forwarded A: %v, want REFUSED", r)
	}
}
