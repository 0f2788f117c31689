// Package ipam hands out the IPv4 addresses of a network's subnet and picks
// subnets for networks created without one.
//
// A [Pool] is memory only: the engine persists every address it hands out
// in the record of the container that holds it (in the same write that
// attaches the container), and rebuilds the pools from those records when a
// daemon starts, so an address is never handed out twice, is free again once
// its container is removed, and survives restarts with no second copy of the
// truth to keep in step.
//
// A pool may hand out only the addresses of a range of its subnet
// (docker's --ip-range) and keep auxiliary addresses that no holder ever
// gets (docker's --aux-address).
//
// Entry points: New (WithRange, WithAux), Pool.Allocate, Pool.Claim,
// Pool.Release; NextSubnet.
package ipam

import (
	"fmt"
	"net/netip"
	"sync"

	"github.com/enginefs/enginefs/errdefs"
)

// Pool is the set of addresses of one IPv4 subnet. It is safe for
// concurrent use.
type Pool struct {
	subnet  netip.Prefix
	gateway netip.Addr
	iprange netip.Prefix          // where Allocate looks: the subnet, or a range in it
	aux     map[netip.Addr]string // auxiliary address → its name

	mu   sync.Mutex
	used map[netip.Addr]string // address → holder
	last netip.Addr            // the last address handed out
}

// Option configures New.
type Option func(*Pool) error

// WithRange makes Allocate hand out only the addresses of r, a prefix
// inside the subnet (docker's --ip-range). Claim still takes any host
// address of the subnet, as docker's --ip does. Default: the whole subnet.
func WithRange(r netip.Prefix) Option {
	return func(p *Pool) error {
		if !r.IsValid() {
			return nil
		}
		if r != r.Masked() {
			return errdefs.Invalid("invalid ip-range %s: host bits are set (did you mean %s?)", r, r.Masked())
		}
		if !r.Addr().Is4() || r.Bits() < p.subnet.Bits() || !p.subnet.Contains(r.Addr()) {
			return errdefs.Invalid("no matching subnet for range %s (subnet %s)", r, p.subnet)
		}
		p.iprange = r
		return nil
	}
}

// WithAux reserves the auxiliary addresses of aux (name → address, docker's
// --aux-address): host addresses of the subnet, other than the gateway and
// each other, that Allocate never hands out and Claim refuses. Default:
// none.
func WithAux(aux map[string]netip.Addr) Option {
	return func(p *Pool) error {
		for name, a := range aux {
			switch {
			case name == "":
				return errdefs.Invalid("aux-address %s has no name (want NAME=IP)", a)
			case !a.Is4() || !p.subnet.Contains(a):
				return errdefs.Invalid("no matching subnet for aux-address %s (%s=%s, subnet %s)", a, name, a, p.subnet)
			case p.reserved(a) || p.aux[a] != "":
				return errdefs.AlreadyExists("failed to allocate secondary ip address (%s:%s): Address already in use", name, a)
			}
			p.aux[a] = name
		}
		return nil
	}
}

// New returns a pool over subnet (IPv4, /8 to /30) in which the network and
// broadcast addresses, the gateway (when valid) and the auxiliary addresses
// are never handed out.
func New(subnet netip.Prefix, gateway netip.Addr, opts ...Option) (*Pool, error) {
	if err := CheckSubnet(subnet); err != nil {
		return nil, err
	}
	subnet = subnet.Masked()
	if gateway.IsValid() && (!subnet.Contains(gateway) || gateway == subnet.Addr() || gateway == broadcast(subnet)) {
		return nil, errdefs.Invalid("gateway %s is not a host address of subnet %s", gateway, subnet)
	}
	p := &Pool{subnet: subnet, gateway: gateway, iprange: subnet, aux: map[netip.Addr]string{},
		used: map[netip.Addr]string{}}
	for _, o := range opts {
		if err := o(p); err != nil {
			return nil, err
		}
	}
	p.last = p.iprange.Addr()
	return p, nil
}

// CheckSubnet refuses what a pool cannot serve.
func CheckSubnet(subnet netip.Prefix) error {
	switch {
	case !subnet.IsValid():
		return errdefs.Invalid("invalid subnet")
	case !subnet.Addr().Is4():
		return errdefs.Invalid("subnet %s: only IPv4 subnets are supported", subnet)
	case subnet.Bits() < 8 || subnet.Bits() > 30:
		return errdefs.Invalid("subnet %s: the prefix length must be between /8 and /30", subnet)
	}
	return nil
}

// FirstHost returns the first host address of subnet, docker's default
// gateway.
func FirstHost(subnet netip.Prefix) netip.Addr { return subnet.Masked().Addr().Next() }

// Subnet returns the pool's subnet.
func (p *Pool) Subnet() netip.Prefix { return p.subnet }

// broadcast returns the last address of subnet.
func broadcast(subnet netip.Prefix) netip.Addr {
	b := subnet.Masked().Addr().As4()
	host := uint32(1)<<(32-subnet.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// reserved reports whether a is an address of the subnet no holder may have
// (the auxiliary ones aside).
func (p *Pool) reserved(a netip.Addr) bool {
	_, aux := p.aux[a]
	return a == p.subnet.Addr() || a == broadcast(p.subnet) || a == p.gateway || aux
}

// Range returns where Allocate looks: the subnet, or the range given to
// WithRange.
func (p *Pool) Range() netip.Prefix { return p.iprange }

// Allocate hands out a free address of the range to holder: the next one
// after the last handed out, going round, so a freed address is not reused
// at once. A full range is an errdefs.ErrUnavailable error.
func (p *Pool) Allocate(holder string) (netip.Addr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.last
	for {
		if a = a.Next(); !p.iprange.Contains(a) {
			a = p.iprange.Addr() // round again
		}
		if !p.reserved(a) {
			if _, taken := p.used[a]; !taken {
				p.used[a], p.last = holder, a
				return a, nil
			}
		}
		if a == p.last {
			return netip.Addr{}, errdefs.Unavailable("no free address left in %s", p.iprange)
		}
	}
}

// Claim gives holder the address a: an address the holder asked for (docker's
// --ip), or one a record holds when the pool is rebuilt. An address held by
// another is an errdefs.ErrAlreadyExists error; one outside the subnet or
// reserved is errdefs.ErrInvalid. Claiming an address one holds already is
// not an error.
func (p *Pool) Claim(a netip.Addr, holder string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case !a.Is4() || !p.subnet.Contains(a):
		return errdefs.Invalid("address %s is not in subnet %s", a, p.subnet)
	case p.aux[a] != "":
		return errdefs.AlreadyExists("address %s is already in use (auxiliary address %s)", a, p.aux[a])
	case p.reserved(a):
		return errdefs.Invalid("address %s is reserved in %s (network, broadcast or gateway)", a, p.subnet)
	}
	if h, taken := p.used[a]; taken && h != holder {
		return errdefs.AlreadyExists("address %s is already in use (by %s)", a, shortHolder(h))
	}
	p.used[a] = holder
	return nil
}

// Release frees a, if holder holds it.
func (p *Pool) Release(a netip.Addr, holder string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.used[a] == holder {
		delete(p.used, a)
	}
}

// Holder returns who holds a, or "".
func (p *Pool) Holder(a netip.Addr) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.used[a]
}

// Len returns how many addresses are held.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.used)
}

func shortHolder(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// NextSubnet returns the first subnet of length bits inside pool that
// overlaps none of taken (the other networks' subnets and the host's
// routes). When none is left it returns an errdefs.ErrUnavailable error.
func NextSubnet(pool netip.Prefix, bits int, taken []netip.Prefix) (netip.Prefix, error) {
	pool = pool.Masked()
	if err := CheckSubnet(pool); err != nil {
		return netip.Prefix{}, err
	}
	if bits < pool.Bits() || bits > 30 {
		return netip.Prefix{}, errdefs.Invalid("cannot carve /%d subnets out of %s", bits, pool)
	}
	step := uint32(1) << (32 - bits)
	b := pool.Addr().As4()
	start := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	count := uint32(1) << (bits - pool.Bits())
	for i := uint32(0); i < count; i++ {
		v := start + i*step
		cand := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), bits)
		free := true
		for _, t := range taken {
			if t.Overlaps(cand) {
				free = false
				break
			}
		}
		if free {
			return cand, nil
		}
	}
	return netip.Prefix{}, errdefs.Unavailable("no free /%d subnet left in %s", bits, pool)
}

// ParseSubnet reads a CIDR subnet for a network.
func ParseSubnet(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, errdefs.Invalid("invalid subnet %q: %v", s, err)
	}
	if p != p.Masked() {
		return netip.Prefix{}, errdefs.Invalid("invalid subnet %q: host bits are set (did you mean %s?)", s, p.Masked())
	}
	return p, CheckSubnet(p)
}

// String describes the pool for logs.
func (p *Pool) String() string {
	return fmt.Sprintf("%s (%d in use)", p.subnet, p.Len())
}
