package runtime

import (
	"slices"
	"strings"

	"github.com/enginefs/enginefs/errdefs"
)

// capabilityNames are the Linux capabilities, indexed by their number
// (linux/capability.h, up to Linux 6.x).
var capabilityNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
	"CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// CapabilityNumber returns the number of the capability name ("CAP_KILL"),
// as the kernel knows it, and whether the name is known.
func CapabilityNumber(name string) (int, bool) {
	i := slices.Index(capabilityNames, name)
	return i, i >= 0
}

// AllCapabilities returns the names of every capability enginefs knows, in
// the kernel's order; a privileged container gets them all (those the
// running kernel does not know are ignored by the runtime).
func AllCapabilities() []string { return slices.Clone(capabilityNames) }

// DefaultCapabilities returns the capabilities Docker gives a container
// (moby's oci/caps/defaults.go), in Docker's order.
func DefaultCapabilities() []string {
	return []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
		"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
		"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
	}
}

// capAll is the word that names every capability in CapAdd and CapDrop.
const capAll = "ALL"

// normalizeCaps returns names in the kernel's spelling (upper case, with
// the CAP_ prefix; "ALL" stays), without duplicates. An unknown name is
// errdefs.ErrInvalid naming it, as Docker says it.
func normalizeCaps(names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		c := strings.ToUpper(strings.TrimSpace(n))
		if c != capAll && !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		if _, ok := CapabilityNumber(c); !ok && c != capAll {
			return nil, errdefs.Invalid("unknown capability: %q", n)
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// tweakCapabilities applies docker's --cap-add and --cap-drop to basics,
// the way moby's caps.TweakCapabilities does: adding ALL gives every
// capability but those dropped; dropping ALL keeps only those added;
// otherwise the dropped ones go and the added ones come, in order.
func tweakCapabilities(basics, add, drop []string) ([]string, error) {
	add, err := normalizeCaps(add)
	if err != nil {
		return nil, err
	}
	drop, err = normalizeCaps(drop)
	if err != nil {
		return nil, err
	}
	var caps []string
	switch {
	case slices.Contains(add, capAll):
		for _, c := range capabilityNames {
			if !slices.Contains(drop, c) {
				caps = append(caps, c)
			}
		}
		return caps, nil
	case slices.Contains(drop, capAll):
		return add, nil
	}
	for _, c := range basics {
		if !slices.Contains(drop, c) {
			caps = append(caps, c)
		}
	}
	for _, c := range add {
		if !slices.Contains(caps, c) {
			caps = append(caps, c)
		}
	}
	return caps, nil
}
