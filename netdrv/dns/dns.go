// Package dns is the embedded DNS server of user-defined networks: in each
// container's network namespace it answers on 127.0.0.11:53 (UDP and TCP,
// docker's address) with the addresses of the containers that share a
// network with the one asking, by name, alias or short id, and forwards
// every other question to the host's resolvers, except for a container
// that is only on internal networks: as in docker, its questions about
// other names are refused, for a name lookup would be a way out.
//
// The listening sockets are made inside the container's namespace by the
// daemon (netdrv.Namespace.Do) and served by the daemon's goroutines, so one
// server serves every container with no process of its own in it, and the
// forwarded queries leave from the daemon's own namespace, where the host's
// resolvers (loopback ones included) answer. Listening inside each
// namespace rather than on a bridge's gateway also serves macvlan networks,
// whose containers cannot reach the host, and internal networks.
//
// Entry points: New, Server.Listen, Server.Stop, Server.Close.
package dns

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/enginefs/enginefs/netdrv"
)

// Address is where the server answers inside a container's namespace.
const Address = "127.0.0.11:53"

// forwardTimeout bounds each exchange with a forwarder.
const forwardTimeout = 2 * time.Second

// TTL of the answers about containers, in seconds (docker's).
const TTL = 600

// Resolver knows the names of the engine's networks.
type Resolver interface {
	// Lookup returns the addresses of name (lower case, no trailing dot)
	// as the container id sees them; ok is false when name is none of
	// the engine's, and the question is then forwarded.
	Lookup(id, name string) (addrs []netip.Addr, ok bool)
	// Reverse returns the name of the container holding addr on a network
	// that id is on.
	Reverse(id string, addr netip.Addr) (name string, ok bool)
	// Forward reports whether the questions of id that Lookup and Reverse
	// do not answer may go to the forwarders (false for a container on
	// internal networks only).
	Forward(id string) bool
}

// Upstreamer is a Resolver that may name, for a container, the resolvers
// its forwarded questions go to instead of the server's forwarders
// (docker's --dns on a user-defined network); none keeps the server's.
type Upstreamer interface {
	Upstreams(id string) []string
}

// Server serves the embedded DNS in many namespaces. It is safe for
// concurrent use.
type Server struct {
	res        Resolver
	forwarders []string
	logf       func(string, ...any)

	mu        sync.Mutex
	listeners map[string]*listener // by container id
	closed    bool
}

type listener struct{ udp, tcp *mdns.Server }

// Option configures New.
type Option func(*Server)

// WithForwarders sets the resolvers ("host:port", or an address for port 53)
// that questions about other names go to, in order. Default: none, and such
// questions are answered REFUSED.
func WithForwarders(addrs ...string) Option {
	return func(s *Server) { s.forwarders = withPort(addrs) }
}

// withPort gives each address without a port port 53.
func withPort(addrs []string) []string {
	var out []string
	for _, a := range addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			a = net.JoinHostPort(a, "53")
		}
		out = append(out, a)
	}
	return out
}

// WithLogger sets where the server reports what it cannot answer with
// (default: the standard logger).
func WithLogger(logf func(string, ...any)) Option { return func(s *Server) { s.logf = logf } }

// New returns a server that answers from res.
func New(res Resolver, opts ...Option) *Server {
	s := &Server{res: res, logf: log.Printf, listeners: map[string]*listener{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Listen starts answering in ns for the container id. Listening again for
// the same id does nothing.
func (s *Server) Listen(id string, ns netdrv.Namespace) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("dns: server closed")
	}
	if _, ok := s.listeners[id]; ok {
		return nil
	}
	var pc net.PacketConn
	var l net.Listener
	err := ns.Do(func() (err error) {
		if pc, err = net.ListenPacket("udp4", Address); err != nil {
			return err
		}
		if l, err = net.Listen("tcp4", Address); err != nil {
			pc.Close()
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("dns: listening on %s in %s: %w", Address, ns, err)
	}
	h := mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) { s.serve(id, w, r) })
	ln := &listener{udp: &mdns.Server{PacketConn: pc, Handler: h}, tcp: &mdns.Server{Listener: l, Handler: h}}
	for _, srv := range []*mdns.Server{ln.udp, ln.tcp} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() {
			if err := srv.ActivateAndServe(); err != nil {
				s.logf("dns: container %.12s: %v", id, err)
			}
		}()
		<-started
	}
	s.listeners[id] = ln
	return nil
}

// Stop stops answering for the container id.
func (s *Server) Stop(id string) {
	s.mu.Lock()
	ln := s.listeners[id]
	delete(s.listeners, id)
	s.mu.Unlock()
	if ln != nil {
		_ = ln.udp.Shutdown()
		_ = ln.tcp.Shutdown()
	}
}

// Close stops every listener; the server serves no more.
func (s *Server) Close() {
	s.mu.Lock()
	ids := make([]string, 0, len(s.listeners))
	for id := range s.listeners {
		ids = append(ids, id)
	}
	s.closed = true
	s.mu.Unlock()
	for _, id := range ids {
		s.Stop(id)
	}
}

// serve answers one query of the container id.
func (s *Server) serve(id string, w mdns.ResponseWriter, r *mdns.Msg) {
	if len(r.Question) != 1 || r.Opcode != mdns.OpcodeQuery {
		m := new(mdns.Msg)
		m.SetRcode(r, mdns.RcodeNotImplemented)
		_ = w.WriteMsg(m)
		return
	}
	if m := s.local(id, r); m != nil {
		_ = w.WriteMsg(m)
		return
	}
	if !s.res.Forward(id) {
		m := new(mdns.Msg)
		_ = w.WriteMsg(m.SetRcode(r, mdns.RcodeRefused))
		return
	}
	fws := s.forwarders
	if u, ok := s.res.(Upstreamer); ok {
		if list := u.Upstreams(id); len(list) > 0 {
			fws = withPort(list)
		}
	}
	_ = w.WriteMsg(forward(fws, r, w.LocalAddr().Network()))
}

// local answers from the resolver, or returns nil.
func (s *Server) local(id string, r *mdns.Msg) *mdns.Msg {
	q := r.Question[0]
	if q.Qclass != mdns.ClassINET {
		return nil
	}
	name := strings.ToLower(strings.TrimSuffix(q.Name, "."))
	m := new(mdns.Msg)
	m.SetReply(r)
	m.Authoritative, m.RecursionAvailable = true, true
	if q.Qtype == mdns.TypePTR {
		addr, ok := reverseName(name)
		if !ok {
			return nil
		}
		host, ok := s.res.Reverse(id, addr)
		if !ok {
			return nil
		}
		m.Answer = append(m.Answer, &mdns.PTR{Hdr: header(q.Name, mdns.TypePTR), Ptr: mdns.Fqdn(host)})
		return m
	}
	addrs, ok := s.res.Lookup(id, name)
	if !ok {
		return nil
	}
	if q.Qtype == mdns.TypeA || q.Qtype == mdns.TypeANY {
		for _, a := range addrs {
			m.Answer = append(m.Answer, &mdns.A{Hdr: header(q.Name, mdns.TypeA), A: a.AsSlice()})
		}
	}
	// Other types of a known name (AAAA: the networks are IPv4 only)
	// get an empty answer, not the host's idea of that name.
	return m
}

func header(name string, t uint16) mdns.RR_Header {
	return mdns.RR_Header{Name: name, Rrtype: t, Class: mdns.ClassINET, Ttl: TTL}
}

// reverseName reads d.c.b.a.in-addr.arpa.
func reverseName(name string) (netip.Addr, bool) {
	rest, ok := strings.CutSuffix(name, ".in-addr.arpa")
	if !ok {
		return netip.Addr{}, false
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 4 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(parts[3] + "." + parts[2] + "." + parts[1] + "." + parts[0])
	return a, err == nil
}

// forward asks the forwarders in turn, over the transport the question came
// on, and passes on the first answer; none answering is SERVFAIL, none
// configured REFUSED.
func forward(forwarders []string, r *mdns.Msg, network string) *mdns.Msg {
	fail := new(mdns.Msg)
	if len(forwarders) == 0 {
		return fail.SetRcode(r, mdns.RcodeRefused)
	}
	c := &mdns.Client{Net: "udp", Timeout: forwardTimeout}
	if strings.HasPrefix(network, "tcp") {
		c.Net = "tcp"
	}
	for _, fw := range forwarders {
		ctx, cancel := context.WithTimeout(context.Background(), forwardTimeout)
		resp, _, err := c.ExchangeContext(ctx, r, fw)
		cancel()
		if err == nil && resp != nil {
			return resp
		}
	}
	return fail.SetRcode(r, mdns.RcodeServerFailure)
}
