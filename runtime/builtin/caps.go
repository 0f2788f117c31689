//go:build linux

package builtin

import (
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime"
	"github.com/enginefs/enginefs/runtime/builtin/nsinit"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// newCapSets turns the spec's capability names into the masks the child
// applies (see nsinit's caps.go for which sets execve honours).
// Capabilities the running kernel does not know are left out, as runc does;
// an unknown name is errdefs.ErrInvalid. A spec without capabilities gets
// none (runc does the same).
func newCapSets(c *specs.LinuxCapabilities) (nsinit.CapSets, error) {
	var out nsinit.CapSets
	if c == nil {
		return out, nil
	}
	last := nsinit.LastCap()
	mask := func(names []string) (uint64, error) {
		var m uint64
		for _, n := range names {
			i, ok := runtime.CapabilityNumber(n)
			if !ok {
				return 0, errdefs.Invalid("unknown capability %q", n)
			}
			if i <= last {
				m |= 1 << i
			}
		}
		return m, nil
	}
	var err error
	if out.Bounding, err = mask(c.Bounding); err != nil {
		return out, err
	}
	if out.Inheritable, err = mask(c.Inheritable); err != nil {
		return out, err
	}
	if out.Ambient, err = mask(c.Ambient); err != nil {
		return out, err
	}
	// Checked as well, though execve decides.
	if _, err = mask(c.Effective); err != nil {
		return out, err
	}
	if _, err = mask(c.Permitted); err != nil {
		return out, err
	}
	return out, nil
}
