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
// Entry points: New, Pool.Allocate, Pool.Claim, Pool.Release; NextSubnet.
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

	mu   sync.Mutex
	used map[netip.Addr]string // address → holder
	last netip.Addr            // the last address handed out
}

// New returns a pool over subnet (IPv4, /8 to /30) in which the network and
// broadcast addresses and gateway (when valid) are never handed out.
func New(subnet netip.Prefix, gateway netip.Addr) (*Pool, error) {
	if err := CheckSubnet(subnet); err != nil {
		return nil, err
	}
	subnet = subnet.Masked()
	if gateway.IsValid() && (!subnet.Contains(gateway) || gateway == subnet.Addr() || gateway == broadcast(subnet)) {
		return nil, errdefs.Invalid("gateway %s is not a host address of subnet %s", gateway, subnet)
	}
	return &Pool{subnet: subnet, gateway: gateway, used: map[netip.Addr]string{}, last: subnet.Addr()}, nil
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

// reserved reports whether a is an address of the subnet no holder may have.
func (p *Pool) reserved(a netip.Addr) bool {
	return a == p.subnet.Addr() || a == broadcast(p.subnet) || a == p.gateway
}

// Allocate hands out a free address to holder: the next one after the last
// handed out, going round, so a freed address is not reused at once. A full
// subnet is an errdefs.ErrUnavailable error.
func (p *Pool) Allocate(holder string) (netip.Addr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.last
	for {
		if a = a.Next(); !p.subnet.Contains(a) {
			a = p.subnet.Addr() // round again; reserved, so skipped
		}
		if !p.reserved(a) {
			if _, taken := p.used[a]; !taken {
				p.used[a], p.last = holder, a
				return a, nil
			}
		}
		if a == p.last {
			return netip.Addr{}, errdefs.Unavailable("no free address left in %s", p.subnet)
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
