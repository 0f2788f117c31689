package engine

import (
	"net/netip"

	"github.com/docker/go-connections/nat"

	"github.com/enginefs/enginefs/errdefs"
)

// validate checks the ports.
func (n Networking) validate() error {
	check := func(p nat.Port) error {
		if p.Proto() != "tcp" && p.Proto() != "udp" {
			return errdefs.Invalid("port %s: only tcp and udp ports are supported", p)
		}
		if v := p.Int(); v < 1 || v > 65535 {
			return errdefs.Invalid("invalid container port %q", p)
		}
		return nil
	}
	for p := range n.ExposedPorts {
		if err := check(p); err != nil {
			return err
		}
	}
	for p, bs := range n.PortBindings {
		if err := check(p); err != nil {
			return err
		}
		for _, b := range bs {
			if b.HostIP != "" {
				if a, err := netip.ParseAddr(b.HostIP); err != nil || !a.Is4() {
					return errdefs.Invalid("port %s: invalid host IP %q (IPv4 only)", p, b.HostIP)
				}
			}
			if b.HostPort != "" {
				// A range (-p 8080-8081:80) gives the port one free
				// host port of it, as in docker.
				if lo, hi, err := nat.ParsePortRangeToInt(b.HostPort); err != nil || lo < 0 || hi > 65535 || lo > hi {
					return errdefs.Invalid("port %s: invalid host port %q", p, b.HostPort)
				}
			}
		}
	}
	return nil
}
