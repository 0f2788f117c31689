package network

import (
	"cmp"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/enginefs/enginefs/internal/ids"
	"github.com/enginefs/enginefs/netdrv/dns"
)

// resolver answers the embedded DNS from the containers' endpoints.
type resolver struct{ m *Manager }

var _ dns.Resolver = resolver{}

// peers calls fn for each running container sharing a user-defined network
// with the container id, with its endpoint on that network.
func (r resolver) peers(id string, fn func(c Container, ep *Endpoint)) {
	c, err := r.m.ctrs.Get(id)
	if err != nil {
		return
	}
	mine := map[string]bool{}
	r.m.mu.RLock()
	for _, ep := range c.Endpoints {
		if n := r.m.nets[ep.NetworkID]; n != nil && n.rec.userDefined() {
			mine[ep.NetworkID] = true
		}
	}
	r.m.mu.RUnlock()
	for _, other := range r.m.ctrs.List() {
		if !other.Live {
			continue
		}
		for _, ep := range other.Endpoints {
			if mine[ep.NetworkID] {
				fn(other, ep)
			}
		}
	}
}

// Lookup implements dns.Resolver.
func (r resolver) Lookup(id, name string) ([]netip.Addr, bool) {
	var out []netip.Addr
	r.peers(id, func(c Container, ep *Endpoint) {
		for _, n := range ep.DNSNames(c.Name, c.ID) {
			if strings.EqualFold(n, name) && !slices.Contains(out, ep.addr()) {
				out = append(out, ep.addr())
			}
		}
	})
	return out, len(out) > 0
}

// Reverse implements dns.Resolver.
func (r resolver) Reverse(id string, addr netip.Addr) (string, bool) {
	name := ""
	r.peers(id, func(c Container, ep *Endpoint) {
		if ep.addr() == addr && name == "" {
			name = cmp.Or(c.Name, ids.Short(c.ID))
		}
	})
	return name, name != ""
}

// Forward implements dns.Resolver: a container's questions go out when
// one of its networks is not internal.
func (r resolver) Forward(id string) bool {
	c, err := r.m.ctrs.Get(id)
	if err != nil {
		return false
	}
	r.m.mu.RLock()
	defer r.m.mu.RUnlock()
	for _, ep := range c.Endpoints {
		if n := r.m.nets[ep.NetworkID]; n != nil && !n.rec.Internal {
			return true
		}
	}
	return false
}

// Upstreams implements dns.Upstreamer: a container's own resolvers
// (docker's --dns), which replace the daemon's forwarders for it.
func (r resolver) Upstreams(id string) []string {
	c, err := r.m.ctrs.Get(id)
	if err != nil {
		return nil
	}
	return c.DNS
}

// HostResolvers returns the nameservers of the host's resolv.conf, which
// the embedded DNS forwards to by default (Config.DNSForwarders).
func HostResolvers() []string {
	data, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "nameserver" {
			if ip := net.ParseIP(f[1]); ip != nil {
				out = append(out, f[1])
			}
		}
	}
	return out
}
