// Package hostconfig checks the pieces of docker's host config that both
// the ctl layer (the text a client writes) and the engine (a config from
// any client) must check alike: mounts (docker's mount.Mount, their
// destinations and propagation) and ports (exposed ports and bindings).
// It holds checks only, no parsing: ctl/verbs parses docker's text forms.
package hostconfig

import (
	"net/netip"
	"path"
	"slices"
	"strings"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/go-connections/nat"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/voldrv"
)

// CheckMount checks a mount (docker's --mount, or a Mounts entry of a
// config): an absolute destination other than /, a source and options
// that fit its type. Errors are errdefs.ErrInvalid.
func CheckMount(m mount.Mount) error {
	if err := CheckDestination(m.Target); err != nil {
		return err
	}
	switch m.Type {
	case mount.TypeBind:
		if !path.IsAbs(m.Source) || strings.ContainsRune(m.Source, 0) {
			return errdefs.Invalid("invalid mount on %s: a bind mount needs an absolute source, not %q", m.Target, m.Source)
		}
		if m.VolumeOptions != nil || m.TmpfsOptions != nil {
			return errdefs.Invalid("invalid mount on %s: volume or tmpfs options on a bind mount", m.Target)
		}
		if m.BindOptions != nil {
			if err := CheckPropagation(string(m.BindOptions.Propagation)); err != nil {
				return err
			}
		}
	case mount.TypeVolume:
		if m.Source != "" {
			if err := voldrv.CheckName(m.Source); err != nil {
				return err
			}
		}
		if m.BindOptions != nil || m.TmpfsOptions != nil {
			return errdefs.Invalid("invalid mount on %s: bind or tmpfs options on a volume", m.Target)
		}
	case mount.TypeTmpfs:
		if m.Source != "" {
			return errdefs.Invalid("invalid mount on %s: a tmpfs mount has no source", m.Target)
		}
		if m.BindOptions != nil || m.VolumeOptions != nil {
			return errdefs.Invalid("invalid mount on %s: bind or volume options on a tmpfs", m.Target)
		}
	default:
		return errdefs.Invalid("invalid mount on %s: unsupported type %q (volume, bind, tmpfs)", m.Target, m.Type)
	}
	return nil
}

// CheckDestination checks a mount's destination: absolute, not /, without
// a NUL byte (which no system call takes), and not where the kernel's own
// filesystems are: /proc, /sys and /dev themselves, or anything below /proc
// but the files lxcfs stands in for (runc's rule: a mount over /proc's
// files could hide the masked and read-only paths, the class of
// CVE-2019-16884). Below /sys and /dev mounts stay allowed, as in docker
// (-v /dev/snd:/dev/snd).
func CheckDestination(dst string) error {
	if !path.IsAbs(dst) || path.Clean(dst) == "/" || strings.ContainsRune(dst, 0) {
		return errdefs.Invalid("invalid mount destination %q: it must be an absolute path other than /, without NUL", dst)
	}
	switch d := path.Clean(dst); {
	case d == "/proc" || d == "/sys" || d == "/dev":
		return errdefs.Invalid("invalid mount destination %q: the container's %s is the kernel's, not to be mounted over", dst, d)
	case strings.HasPrefix(d, "/proc/") && !slices.Contains(procFiles, d):
		return errdefs.Invalid("invalid mount destination %q: it is inside /proc (only %s may be mounted over)", dst, strings.Join(procFiles, ", "))
	}
	return nil
}

// procFiles are the /proc files a mount may cover: those lxcfs provides
// (runc's list).
var procFiles = []string{
	"/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps",
	"/proc/uptime", "/proc/loadavg", "/proc/slabinfo", "/proc/net/dev", "/proc/sys/kernel/ns_last_pid",
}

// CheckPropagation checks a bind mount's propagation (docker's names).
func CheckPropagation(p string) error {
	switch mount.Propagation(p) {
	case "", mount.PropagationPrivate, mount.PropagationRPrivate, mount.PropagationShared,
		mount.PropagationRShared, mount.PropagationSlave, mount.PropagationRSlave:
		return nil
	}
	return errdefs.Invalid("invalid mount propagation %q", p)
}

// CheckPorts checks what nat lets through: the protocols, the container
// ports, the host addresses (IPv4) and ports of the bindings.
func CheckPorts(exposed nat.PortSet, bindings nat.PortMap) error {
	check := func(p nat.Port) error {
		if p.Proto() != "tcp" && p.Proto() != "udp" {
			return errdefs.Invalid("port %s: only tcp and udp ports are supported", p)
		}
		if v := p.Int(); v < 1 || v > 65535 {
			return errdefs.Invalid("invalid container port %q", p)
		}
		return nil
	}
	for p := range exposed {
		if err := check(p); err != nil {
			return err
		}
	}
	for p, bs := range bindings {
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
