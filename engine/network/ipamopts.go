package network

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/netdrv/ipam"
)

// What network create checks of its name and its IPAM options.

// validAlias is what a network-scoped alias (a DNS name) may be.
var validAlias = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// MaxNameLen caps a network's name: it is a directory of the tree, and
// Linux takes no longer file name (NAME_MAX).
const MaxNameLen = 255

// checkName refuses a network name: docker takes any name that is not
// blank; the tree, where the name is a directory, also refuses '/', "."
// and "..", and line breaks and NUL, which no listing could show.
func checkName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return errdefs.Invalid("invalid name: %q is blank", name)
	case len(name) > MaxNameLen:
		return errdefs.Invalid("invalid network name: %d bytes, more than %d (MaxNameLen)", len(name), MaxNameLen)
	case name == "." || name == "..":
		return errdefs.Invalid("invalid network name %q: it names a directory of the tree", name)
	case strings.ContainsAny(name, "/\n\r\x00"):
		return errdefs.Invalid("invalid network name %q: '/', line breaks and NUL are not allowed", name)
	}
	return nil
}

// newPool returns the address pool of r.
func (r Record) newPool() (*ipam.Pool, error) {
	return ipam.New(r.Subnet, r.Gateway, ipam.WithRange(r.IPRange), ipam.WithAux(r.AuxAddresses))
}

// ipam gives rec the ip-range and auxiliary addresses of o, which need a
// subnet given with them (docker's rule: the daemon's own pick is not
// known to whoever chose the range).
func (rec *Record) ipam(o Options) error {
	if o.IPRange == "" && len(o.Aux) == 0 {
		return nil
	}
	if o.Subnet == "" {
		return errdefs.Invalid("network %s: every ip-range or aux-address must have a corresponding subnet", rec.Name)
	}
	if o.IPRange != "" {
		r, err := netip.ParsePrefix(o.IPRange)
		if err != nil {
			return errdefs.Invalid("network %s: invalid ip-range %q: %v", rec.Name, o.IPRange, err)
		}
		rec.IPRange = r
	}
	if len(o.Aux) > MaxAuxAddresses {
		return errdefs.Invalid("network %s: %d aux-addresses, more than %d (MaxAuxAddresses)", rec.Name, len(o.Aux), MaxAuxAddresses)
	}
	for name, ip := range o.Aux {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return errdefs.Invalid("network %s: invalid aux-address %s=%q: %v", rec.Name, name, ip, err)
		}
		if rec.AuxAddresses == nil {
			rec.AuxAddresses = map[string]netip.Addr{}
		}
		rec.AuxAddresses[name] = a
	}
	if _, err := rec.newPool(); err != nil {
		return fmt.Errorf("network %s: %w", rec.Name, err)
	}
	return nil
}

// MaxAuxAddresses caps the auxiliary addresses of one network: each is
// kept in the network's record and checked on every allocation.
const MaxAuxAddresses = 256
