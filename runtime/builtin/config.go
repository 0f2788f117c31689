//go:build linux

package builtin

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime/builtin/nsinit"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// nsFlags are the namespaces the child is cloned into.
var nsFlags = map[specs.LinuxNamespaceType]int{
	specs.PIDNamespace:     unix.CLONE_NEWPID,
	specs.MountNamespace:   unix.CLONE_NEWNS,
	specs.UTSNamespace:     unix.CLONE_NEWUTS,
	specs.IPCNamespace:     unix.CLONE_NEWIPC,
	specs.NetworkNamespace: unix.CLONE_NEWNET,
}

// rlimitTypes maps the spec's names to resources.
var rlimitTypes = map[string]int{
	"RLIMIT_AS":         unix.RLIMIT_AS,
	"RLIMIT_CORE":       unix.RLIMIT_CORE,
	"RLIMIT_CPU":        unix.RLIMIT_CPU,
	"RLIMIT_DATA":       unix.RLIMIT_DATA,
	"RLIMIT_FSIZE":      unix.RLIMIT_FSIZE,
	"RLIMIT_LOCKS":      unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK":    unix.RLIMIT_MEMLOCK,
	"RLIMIT_MSGQUEUE":   unix.RLIMIT_MSGQUEUE,
	"RLIMIT_NICE":       unix.RLIMIT_NICE,
	"RLIMIT_NOFILE":     unix.RLIMIT_NOFILE,
	"RLIMIT_NPROC":      unix.RLIMIT_NPROC,
	"RLIMIT_RSS":        unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO":     unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME":     unix.RLIMIT_RTTIME,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK":      unix.RLIMIT_STACK,
}

// newInitConfig checks that the built-in runtime can run the spec s of the
// bundle and turns it into the child's config and clone flags. Everything
// that can be checked before the fork is: a bad spec is errdefs.ErrInvalid,
// a missing rootfs errdefs.ErrNotFound, what the runtime cannot do
// errdefs.ErrUnavailable.
func newInitConfig(bundle string, s *specs.Spec) (*nsinit.InitConfig, uintptr, error) {
	bundle, err := filepath.Abs(bundle)
	if err != nil {
		return nil, 0, errdefs.Invalid("bundle %s: %w", bundle, err)
	}
	if s.Linux == nil {
		return nil, 0, errdefs.Invalid("bundle %s: no linux section", bundle)
	}
	if err := supported(s); err != nil {
		return nil, 0, err
	}
	p := s.Process
	if len(p.Args) == 0 || p.Args[0] == "" {
		return nil, 0, errdefs.Invalid("bundle %s: no program to run", bundle)
	}
	cfg := &nsinit.InitConfig{
		Args: p.Args, Env: p.Env, Cwd: "/",
		UID: p.User.UID, GID: p.User.GID, Gids: p.User.AdditionalGids, Umask: 0o022,
		NoNewPrivs: p.NoNewPrivileges, OOMScoreAdj: p.OOMScoreAdj,
		Hostname: s.Hostname, Domainname: s.Domainname,
		ReadonlyRoot: s.Root.Readonly, SetupDev: true,
		MaskedPaths: s.Linux.MaskedPaths, ReadonlyPaths: s.Linux.ReadonlyPaths,
	}
	if p.Cwd != "" {
		if !path.IsAbs(p.Cwd) {
			return nil, 0, errdefs.Invalid("bundle %s: working directory %q is not absolute", bundle, p.Cwd)
		}
		cfg.Cwd = path.Clean(p.Cwd)
	}
	if p.User.Umask != nil {
		cfg.Umask = int(*p.User.Umask)
	}
	if cfg.Rlimits, err = newRlimits(p.Rlimits); err != nil {
		return nil, 0, fmt.Errorf("bundle %s: %w", bundle, err)
	}
	if cfg.Caps, err = newCapSets(p.Capabilities); err != nil {
		return nil, 0, fmt.Errorf("bundle %s: %w", bundle, err)
	}
	if cfg.Seccomp, err = compileSeccomp(s.Linux.Seccomp); err != nil {
		return nil, 0, fmt.Errorf("bundle %s: %w", bundle, err)
	}
	cfg.Console = p.Terminal
	if b := p.ConsoleSize; p.Terminal && b != nil {
		cfg.ConsoleSize = &[2]uint16{uint16(b.Height), uint16(b.Width)}
	}

	cfg.Rootfs = s.Root.Path
	if !filepath.IsAbs(cfg.Rootfs) {
		cfg.Rootfs = filepath.Join(bundle, cfg.Rootfs)
	}
	if fi, err := os.Stat(cfg.Rootfs); err != nil || !fi.IsDir() {
		return nil, 0, errdefs.NotFound("bundle %s: rootfs %s is not a directory", bundle, cfg.Rootfs)
	}
	if rp := s.Linux.RootfsPropagation; rp != "" {
		if cfg.RootPropagation = propagationFlags[rp]; cfg.RootPropagation == 0 {
			return nil, 0, errdefs.Invalid("bundle %s: rootfsPropagation %q", bundle, rp)
		}
	}
	for _, m := range s.Mounts {
		e, err := newMountEntry(bundle, m)
		if err != nil {
			return nil, 0, err
		}
		if e.Dest == "/dev" && e.Kind == nsinit.KindBind {
			cfg.SetupDev = false // the host's /dev: leave it as it is
		}
		if e.Dest == "/dev/pts" && e.Type == "devpts" {
			cfg.Devpts = true
		}
		cfg.Mounts = append(cfg.Mounts, e)
	}
	for _, d := range s.Linux.Devices {
		n, err := newDeviceNode(d)
		if err != nil {
			return nil, 0, errdefs.Invalid("bundle %s: %w", bundle, err)
		}
		cfg.Devices = append(cfg.Devices, n)
	}
	for k, v := range s.Linux.Sysctl {
		if k == "" || strings.Contains(k, "/") || slices.Contains(strings.Split(k, "."), "") {
			return nil, 0, errdefs.Invalid("bundle %s: sysctl %q", bundle, k)
		}
		cfg.Sysctls = append(cfg.Sysctls, nsinit.Sysctl{Path: strings.ReplaceAll(k, ".", "/"), Value: v})
	}
	slices.SortFunc(cfg.Sysctls, func(a, b nsinit.Sysctl) int { return strings.Compare(a.Path, b.Path) })

	var flags int
	for _, ns := range s.Linux.Namespaces {
		switch {
		case ns.Type == specs.CgroupNamespace && ns.Path == "":
			cfg.CgroupNS = true
		case ns.Path != "" && (ns.Type == specs.NetworkNamespace || ns.Type == specs.UTSNamespace || ns.Type == specs.IPCNamespace):
			cfg.Join = append(cfg.Join, nsinit.Namespace{Flag: nsFlags[ns.Type], Path: ns.Path})
		case ns.Path != "":
			return nil, 0, errdefs.Unavailable("joining a %s namespace (%s) is not supported by the built-in runtime", ns.Type, ns.Path)
		case nsFlags[ns.Type] != 0:
			flags |= nsFlags[ns.Type]
		default:
			return nil, 0, errdefs.Unavailable("%s namespaces are not supported by the built-in runtime", ns.Type)
		}
	}
	if flags&unix.CLONE_NEWNS == 0 {
		return nil, 0, errdefs.Invalid("the built-in runtime needs a mount namespace")
	}
	cfg.NewUTS = flags&unix.CLONE_NEWUTS != 0
	cfg.NewNet = flags&unix.CLONE_NEWNET != 0
	return cfg, uintptr(flags), nil
}

// newRlimits checks the spec's rlimits and turns them into resources.
func newRlimits(limits []specs.POSIXRlimit) ([]nsinit.Rlimit, error) {
	var out []nsinit.Rlimit
	for _, l := range limits {
		res, ok := rlimitTypes[l.Type]
		if !ok {
			return nil, errdefs.Invalid("unknown rlimit %q", l.Type)
		}
		if l.Soft > l.Hard {
			return nil, errdefs.Invalid("rlimit %s: soft limit %d is above the hard limit %d", l.Type, l.Soft, l.Hard)
		}
		out = append(out, nsinit.Rlimit{Resource: res, Soft: l.Soft, Hard: l.Hard})
	}
	return out, nil
}

// newMountEntry parses the spec's mount m.
func newMountEntry(bundle string, m specs.Mount) (nsinit.Mount, error) {
	dest := path.Clean("/" + m.Destination)
	if dest == "/" {
		return nsinit.Mount{}, errdefs.Invalid("bundle %s: a mount on / is not supported", bundle)
	}
	o := parseMountOptions(m.Options)
	e := nsinit.Mount{Dest: dest, Type: m.Type, Source: m.Source, Flags: o.flags, Propagation: o.propagation, Data: o.data}
	switch {
	case m.Type == "cgroup" || m.Type == "cgroup2":
		e.Kind = nsinit.KindCgroup
	case m.Type == "bind" || o.flags&unix.MS_BIND != 0:
		e.Kind = nsinit.KindBind
		if !filepath.IsAbs(e.Source) {
			e.Source = filepath.Join(bundle, e.Source)
		}
		fi, err := os.Stat(e.Source)
		if err != nil {
			return e, errdefs.Invalid("bind mount on %s: source: %w", dest, err)
		}
		e.File = !fi.IsDir()
	}
	return e, nil
}

// newDeviceNode turns the spec's device into what mknod wants.
func newDeviceNode(d specs.LinuxDevice) (nsinit.Device, error) {
	n := nsinit.Device{Path: path.Clean("/" + d.Path), Dev: unix.Mkdev(uint32(d.Major), uint32(d.Minor)), UID: -1, GID: -1}
	if n.Path == "/" {
		return n, errdefs.Invalid("device path %q", d.Path)
	}
	switch d.Type {
	case "c", "u":
		n.Mode = unix.S_IFCHR
	case "b":
		n.Mode = unix.S_IFBLK
	case "p":
		n.Mode = unix.S_IFIFO
	default:
		return n, errdefs.Invalid("device %s: type %q", d.Path, d.Type)
	}
	n.Mode |= 0o666
	if d.FileMode != nil {
		n.Mode = n.Mode&unix.S_IFMT | uint32(d.FileMode.Perm())
	}
	if d.UID != nil {
		n.UID = int(*d.UID)
	}
	if d.GID != nil {
		n.GID = int(*d.GID)
	}
	return n, nil
}

// supported refuses what the built-in runtime cannot apply yet: running a
// container less confined than its spec asks would be worse than not
// running it.
func supported(s *specs.Spec) error {
	if err := supportedProcess(s.Process); err != nil {
		return err
	}
	var what string
	switch {
	case len(s.Linux.UIDMappings) > 0 || len(s.Linux.GIDMappings) > 0:
		what = "user namespace mappings"
	case s.Hooks != nil && (len(s.Hooks.Prestart) > 0 || len(s.Hooks.CreateRuntime) > 0 ||
		len(s.Hooks.CreateContainer) > 0 || len(s.Hooks.StartContainer) > 0 ||
		len(s.Hooks.Poststart) > 0 || len(s.Hooks.Poststop) > 0):
		what = "hooks"
	default:
		return nil
	}
	return errdefs.Unavailable("%s: not supported by the built-in runtime yet", what)
}

// supportedProcess refuses the process settings the built-in runtime cannot
// apply yet (LSM labels).
func supportedProcess(p *specs.Process) error {
	var what string
	switch {
	case p.ApparmorProfile != "":
		what = "process.apparmorProfile"
	case p.SelinuxLabel != "":
		what = "process.selinuxLabel"
	case p.IOPriority != nil:
		what = "process.ioPriority"
	case p.Scheduler != nil:
		what = "process.scheduler"
	case p.ExecCPUAffinity != nil:
		what = "process.execCPUAffinity"
	default:
		return nil
	}
	return errdefs.Unavailable("%s: not supported by the built-in runtime yet", what)
}
