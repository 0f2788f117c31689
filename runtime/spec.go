package runtime

import (
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// SpecOptions is what the engine knows of a container when it builds the
// bundle: the image's config merged with the container's.
type SpecOptions struct {
	ID       string   // container id; the cgroup path is /enginefs/<ID>
	Hostname string   // defaults to the first 12 characters of ID
	Args     []string // entrypoint + cmd, already resolved; must not be empty
	Env      []string // KEY=value; PATH is added if missing
	Cwd      string   // absolute; defaults to /
	User     string   // "uid", "uid:gid"; names are resolved by the engine; default 0:0
	Terminal bool
	// ConsoleSize is the terminal's initial size, rows then columns (none
	// when zero).
	ConsoleSize [2]uint
	// ReadonlyRootfs mounts the rootfs read-only.
	ReadonlyRootfs bool
	// AdditionalGids are the supplementary groups of the process (docker's
	// --group-add, plus the groups the engine found for the user). None by
	// default: the process keeps no supplementary group of the daemon.
	AdditionalGids []uint32

	// CapAdd and CapDrop change Docker's default capabilities
	// (DefaultCapabilities) as docker run's --cap-add and --cap-drop do.
	// Names are case-insensitive, with or without the CAP_ prefix; "ALL"
	// in CapAdd gives every capability but those dropped, "ALL" in
	// CapDrop keeps only those added. A root process gets the result as
	// its bounding, effective and permitted sets; any other user the same
	// bounding set and no effective or permitted capability (as Docker
	// does). Inheritable and ambient sets are empty.
	CapAdd, CapDrop []string
	// Privileged is docker run --privileged: every capability, every
	// device allowed by the device cgroup, /sys and the cgroup mount
	// writable, no masked or read-only path. Unlike Docker, the host's
	// device nodes are not copied into the container's /dev (a
	// privileged container may mknod them).
	Privileged bool
	// Seccomp is the process's system-call filter: "" or "builtin" for
	// Docker's default profile (runtime/seccomp), "unconfined" for none, or
	// a profile in Docker's JSON form (what docker run --security-opt
	// seccomp=FILE sends). A privileged container has none, whatever this
	// says, as in Docker.
	Seccomp string
	// MaskedPaths and ReadonlyPaths replace Docker's defaults when not nil
	// (docker's HostConfig.MaskedPaths and ReadonlyPaths; both empty is
	// --security-opt systempaths=unconfined).
	MaskedPaths, ReadonlyPaths []string
	// NoNewPrivileges sets no_new_privs on the process (docker's
	// --security-opt no-new-privileges): setuid binaries and file
	// capabilities grant nothing.
	NoNewPrivileges bool
	// Rlimits are the process's resource limits (docker's --ulimit), with
	// the kernel's names ("RLIMIT_NOFILE"); Soft may not exceed Hard. A
	// runtime cannot raise a hard limit above its own without
	// CAP_SYS_RESOURCE.
	Rlimits []specs.POSIXRlimit
	// ShmSize is the size of /dev/shm in bytes (--shm-size); 0 is
	// Docker's 64 MiB.
	ShmSize int64
	// Resources are the cgroup limits (memory, CPU, pids).
	Resources Resources
	// Mounts are added after the default mounts, in order: the engine's
	// binds of /etc/hosts, /etc/hostname and /etc/resolv.conf (a bind of
	// a file onto a file works), then volumes. A mount on the destination
	// of a default mount replaces it (--tmpfs /dev/shm), as in Docker.
	// Destinations must be absolute, as must the sources of binds.
	Mounts []specs.Mount
	// UIDMappings and GIDMappings, when set, put the container in a user
	// namespace of its own with these maps (the daemon's --userns-remap):
	// its root is not the host's.
	UIDMappings, GIDMappings []specs.LinuxIDMapping
	// Sysctls are kernel parameters of the container's namespaces
	// (docker's --sysctl): kernel.msg*, kernel.sem, kernel.shm*,
	// fs.mqueue.* and net.*; any other is errdefs.ErrInvalid, as in
	// Docker. net.* ones need the container's own network namespace: the
	// engine refuses them with --network host, as Docker does.
	Sysctls map[string]string
	// HostPID, HostUTS and HostIPC keep the container in the host's PID,
	// UTS or IPC namespace (docker's --pid host, --uts host, --ipc host):
	// no namespace of that kind is made. With HostUTS the spec sets no
	// hostname (the host's is the container's); with HostIPC /dev/shm is
	// the host's, bound. NoShm mounts no /dev/shm (--ipc none).
	HostPID, HostUTS, HostIPC, NoShm bool
	// Init, when set, is the host path of docker-init (tini): it is bound
	// read-only at /sbin/docker-init and runs as pid 1 with Args after
	// "--", as docker run --init does.
	Init string
	// CgroupNS gives the container a cgroup namespace of its own
	// (--cgroupns private); without it the container sees the host's.
	CgroupNS bool
	// Devices are device nodes made in the container besides the default
	// ones, each allowed in the device cgroup with its access (docker's
	// --device); DeviceRules are added to the device cgroup after those
	// (--device-cgroup-rule).
	Devices     []Device
	DeviceRules []specs.LinuxDeviceCgroup
}

// InitPath is where Init is bound in the container, as in docker.
const InitPath = "/sbin/docker-init"

// DefaultPathEnv is the PATH a container gets when its image sets none;
// Docker's value.
const DefaultPathEnv = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// CgroupParent is the cgroup directory, below the root of every hierarchy,
// that holds the containers' cgroups.
const CgroupParent = "/enginefs"

// SpecVersion is the ociVersion of the bundles: the runtime-spec release
// whose fields they use. It is not the Go module's (specs.Version, 1.3.0),
// which crun 1.8 refuses ("unknown version specified": it takes 1.0.x and
// 1.1.x); dockerd writes 1.1.0 too.
const SpecVersion = "1.1.0"

// Spec returns the OCI runtime config of a container, built the way Docker
// builds its default config (moby's oci/defaults.go plus what runc adds for
// the devices): fresh pid, mount, uts, ipc and network namespaces, the
// standard /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys and
// /sys/fs/cgroup mounts, the default device nodes and a device cgroup that
// denies everything else. The rootfs is "rootfs" in the bundle.
//
// The environment starts with Docker's PATH and HOSTNAME (and TERM=xterm with
// a terminal); opts.Env replaces or extends them, in order. Capabilities,
// masked and read-only paths are Docker's defaults (see withSecurity);
// opts adds the limits, mounts and sysctls of docker run's flags.
//
// It returns an error of class errdefs.ErrInvalid when an option is bad: no
// ID or one that is not a plain name, empty Args, a relative Cwd, a User that
// is not numeric, an unknown capability or rlimit, a soft rlimit above its
// hard one, resources Docker refuses, a mount with a relative destination,
// a sysctl outside the container's namespaces.
func Spec(opts SpecOptions) (*specs.Spec, error) {
	if err := validateID(opts.ID); err != nil {
		return nil, err
	}
	if len(opts.Args) == 0 || opts.Args[0] == "" {
		return nil, errdefs.Invalid("container %s: no command to run", opts.ID)
	}
	cwd := opts.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if !path.IsAbs(cwd) {
		return nil, errdefs.Invalid("container %s: working directory %q is not an absolute path", opts.ID, opts.Cwd)
	}
	user, err := parseUser(opts.User)
	if err != nil {
		return nil, errdefs.Invalid("container %s: %w", opts.ID, err)
	}
	user.AdditionalGids = append([]uint32(nil), opts.AdditionalGids...)
	hostname := opts.Hostname
	if hostname == "" {
		hostname = opts.ID
		if len(hostname) > 12 {
			hostname = hostname[:12]
		}
	}

	rlimits, err := checkRlimits(opts.Rlimits)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", opts.ID, err)
	}
	if opts.ShmSize < 0 {
		return nil, errdefs.Invalid("container %s: shm size %d is negative", opts.ID, opts.ShmSize)
	}
	mounts, err := mergeMounts(namespaceMounts(defaultMounts(opts.ShmSize, opts.Privileged), opts), opts.Mounts)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", opts.ID, err)
	}
	sysctls, err := CheckSysctls(opts.Sysctls)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", opts.ID, err)
	}

	var console *specs.Box
	if opts.Terminal && opts.ConsoleSize[0] > 0 && opts.ConsoleSize[1] > 0 {
		console = &specs.Box{Height: opts.ConsoleSize[0], Width: opts.ConsoleSize[1]}
	}
	s := &specs.Spec{
		Version: SpecVersion,
		Process: &specs.Process{
			Terminal:        opts.Terminal,
			ConsoleSize:     console,
			User:            user,
			Args:            append([]string(nil), opts.Args...),
			Env:             processEnv(hostname, opts.Terminal, opts.Env),
			Cwd:             path.Clean(cwd),
			Rlimits:         rlimits,
			NoNewPrivileges: opts.NoNewPrivileges,
		},
		Root:     &specs.Root{Path: "rootfs", Readonly: opts.ReadonlyRootfs},
		Hostname: hostname,
		Mounts:   mounts,
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace},
				{Type: specs.MountNamespace},
				{Type: specs.UTSNamespace},
				{Type: specs.IPCNamespace},
				{Type: specs.NetworkNamespace},
			},
			CgroupsPath: CgroupParent + "/" + opts.ID,
			Devices:     defaultDevices(),
			Resources:   &specs.LinuxResources{Devices: defaultDeviceRules()},
			Sysctl:      sysctls,
		},
	}
	withModes(s, opts)
	if len(opts.UIDMappings) > 0 || len(opts.GIDMappings) > 0 {
		if len(opts.UIDMappings) == 0 || len(opts.GIDMappings) == 0 {
			return nil, errdefs.Invalid("container %s: a user namespace needs both uid and gid mappings", opts.ID)
		}
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = slices.Clone(opts.UIDMappings)
		s.Linux.GIDMappings = slices.Clone(opts.GIDMappings)
		// sysfs can only be mounted by the user namespace that owns the
		// network namespace, which the engine made outside it: /sys is
		// the host's, bound read-only (as runc does when rootless).
		for i, m := range s.Mounts {
			if m.Destination == "/sys" && m.Type == "sysfs" {
				s.Mounts[i] = specs.Mount{Destination: "/sys", Type: "bind", Source: "/sys",
					Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}}
			}
		}
	}
	if err := opts.Resources.linuxResources(s.Linux.Resources); err != nil {
		return nil, fmt.Errorf("container %s: %w", opts.ID, err)
	}
	if err := withSecurity(s, opts); err != nil {
		return nil, fmt.Errorf("container %s: %w", opts.ID, err)
	}
	withDevices(s, opts)
	return s, nil
}

// withSecurity applies the confinement Docker applies by default: its
// capabilities, changed by CapAdd and CapDrop, its seccomp profile (for
// those capabilities, or opts.Seccomp), and the masked and read-only
// /proc and /sys paths of moby's oci/defaults.go, so that a container cannot
// reach the host's kernel through them (sysrq-trigger, core_pattern,
// kcore). A privileged container gets every capability and device, and no
// masked path.
func withSecurity(s *specs.Spec, opts SpecOptions) error {
	caps, err := tweakCapabilities(DefaultCapabilities(), opts.CapAdd, opts.CapDrop)
	if err != nil {
		return err
	}
	if opts.Privileged {
		caps = AllCapabilities()
	}
	c := &specs.LinuxCapabilities{Bounding: caps}
	if s.Process.User.UID == 0 {
		c.Effective = slices.Clone(caps)
		c.Permitted = slices.Clone(caps)
	}
	s.Process.Capabilities = c
	switch p := opts.Seccomp; {
	case p == "unconfined" || opts.Privileged:
	case p == "" || p == "builtin":
		s.Linux.Seccomp, err = seccomp.Default(s)
	default:
		s.Linux.Seccomp, err = seccomp.Load(p, s)
	}
	if err != nil {
		return err
	}
	if opts.Privileged {
		s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
		return nil
	}
	s.Linux.MaskedPaths = DefaultMaskedPaths()
	if opts.MaskedPaths != nil {
		s.Linux.MaskedPaths = nonEmpty(opts.MaskedPaths)
	}
	s.Linux.ReadonlyPaths = DefaultReadonlyPaths()
	if opts.ReadonlyPaths != nil {
		s.Linux.ReadonlyPaths = nonEmpty(opts.ReadonlyPaths)
	}
	for _, p := range append(slices.Clone(s.Linux.MaskedPaths), s.Linux.ReadonlyPaths...) {
		if !path.IsAbs(p) || path.Clean(p) != p {
			return errdefs.Invalid("masked or read-only path %q is not a clean absolute path", p)
		}
	}
	return nil
}

// DefaultMaskedPaths are the paths Docker hides from a container (moby's
// oci/defaults.go): the kernel's memory, its keys, timers and firmware.
func DefaultMaskedPaths() []string {
	return []string{
		"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
}

// DefaultReadonlyPaths are the paths Docker makes read-only in a container.
func DefaultReadonlyPaths() []string {
	return []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
}

// nonEmpty drops empty entries; the result is not nil.
func nonEmpty(paths []string) []string {
	out := []string{}
	for _, p := range paths {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// validateID checks that id can name a cgroup and a state directory.
func validateID(id string) error {
	switch {
	case id == "":
		return errdefs.Invalid("container id is empty")
	case id == "." || id == ".." || strings.ContainsAny(id, "/\x00"):
		return errdefs.Invalid("container id %q is not a plain name", id)
	}
	return nil
}

// parseUser reads "uid" or "uid:gid". Names are resolved by the engine
// against the image's /etc/passwd before a spec is built.
func parseUser(u string) (specs.User, error) {
	if u == "" {
		return specs.User{}, nil
	}
	uid, gid, hasGid := strings.Cut(u, ":")
	var out specs.User
	n, err := strconv.ParseUint(uid, 10, 32)
	if err != nil {
		return out, fmt.Errorf("user %q: uid %q is not a number", u, uid)
	}
	out.UID = uint32(n)
	if hasGid {
		n, err := strconv.ParseUint(gid, 10, 32)
		if err != nil {
			return out, fmt.Errorf("user %q: gid %q is not a number", u, gid)
		}
		out.GID = uint32(n)
	}
	return out, nil
}

// processEnv is Docker's container environment: its defaults, replaced or
// extended by env in order.
func processEnv(hostname string, terminal bool, env []string) []string {
	out := []string{"PATH=" + DefaultPathEnv, "HOSTNAME=" + hostname}
	if terminal {
		out = append(out, "TERM=xterm")
	}
	index := make(map[string]int, len(out)+len(env))
	for i, kv := range out {
		k, _, _ := strings.Cut(kv, "=")
		index[k] = i
	}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := index[k]; ok {
			out[i] = kv
			continue
		}
		index[k] = len(out)
		out = append(out, kv)
	}
	return out
}

// DefaultShmSize is the size of a container's /dev/shm unless
// SpecOptions.ShmSize says otherwise: Docker's 64 MiB.
const DefaultShmSize = 64 << 20

// defaultMounts are Docker's default mounts, /dev/shm of shmSize bytes
// (DefaultShmSize if 0); /sys and the cgroups are writable in a privileged
// container.
func defaultMounts(shmSize int64, privileged bool) []specs.Mount {
	if shmSize == 0 {
		shmSize = DefaultShmSize
	}
	shm := "size=" + strconv.FormatInt(shmSize, 10)
	if shmSize%1024 == 0 {
		shm = "size=" + strconv.FormatInt(shmSize/1024, 10) + "k"
	}
	ro := "ro"
	if privileged {
		ro = "rw"
	}
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", ro}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", ro}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", shm}},
	}
}

// mergeMounts returns defaults followed by extra; a mount of extra on the
// destination of a default replaces the default (in its place, so that
// /dev stays before what is mounted below it). Two mounts of extra on one
// destination are errdefs.ErrInvalid, as in Docker.
func mergeMounts(defaults, extra []specs.Mount) ([]specs.Mount, error) {
	out := slices.Clone(defaults)
	seen := map[string]bool{}
	for _, m := range extra {
		if !path.IsAbs(m.Destination) {
			return nil, errdefs.Invalid("mount destination %q is not an absolute path", m.Destination)
		}
		m.Destination = path.Clean(m.Destination)
		switch {
		case m.Destination == "/":
			return nil, errdefs.Invalid("a mount on / is not allowed")
		case seen[m.Destination]:
			return nil, errdefs.Invalid("duplicate mount point: %s", m.Destination)
		}
		seen[m.Destination] = true
		bind := m.Type == "bind" || slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
		if bind && !path.IsAbs(m.Source) {
			return nil, errdefs.Invalid("bind mount on %s: source %q is not an absolute path", m.Destination, m.Source)
		}
		m.Options = slices.Clone(m.Options)
		if i := slices.IndexFunc(defaults, func(d specs.Mount) bool { return d.Destination == m.Destination }); i >= 0 {
			out[i] = m
			continue
		}
		out = append(out, m)
	}
	return out, nil
}

// rlimitNames are the resource limits the kernel knows.
var rlimitNames = []string{
	"RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE",
	"RLIMIT_LOCKS", "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE",
	"RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_RSS", "RLIMIT_RTPRIO",
	"RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK",
}

// checkRlimits checks the names and that soft does not exceed hard; the
// last limit given for a resource wins, as with docker's --ulimit.
func checkRlimits(limits []specs.POSIXRlimit) ([]specs.POSIXRlimit, error) {
	var out []specs.POSIXRlimit
	for _, l := range limits {
		if !slices.Contains(rlimitNames, l.Type) {
			return nil, errdefs.Invalid("unknown rlimit %q", l.Type)
		}
		if l.Soft > l.Hard {
			return nil, errdefs.Invalid("rlimit %s: soft limit %d is above the hard limit %d", l.Type, l.Soft, l.Hard)
		}
		if i := slices.IndexFunc(out, func(o specs.POSIXRlimit) bool { return o.Type == l.Type }); i >= 0 {
			out[i] = l
			continue
		}
		out = append(out, l)
	}
	return out, nil
}

// CheckSysctls keeps the sysctls of the container's namespaces (Docker's
// list: IPC and network parameters) and refuses the others.
func CheckSysctls(sysctls map[string]string) (map[string]string, error) {
	if len(sysctls) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(sysctls))
	for k, v := range sysctls {
		ok := false
		switch {
		case k == "kernel.sem" || k == "kernel.msgmax" || k == "kernel.msgmnb" || k == "kernel.msgmni" ||
			k == "kernel.shmall" || k == "kernel.shmmax" || k == "kernel.shmmni" || k == "kernel.shm_rmid_forced":
			ok = true
		case strings.HasPrefix(k, "fs.mqueue.") || strings.HasPrefix(k, "net."):
			ok = !strings.Contains(k, "/") && !strings.HasSuffix(k, ".")
		}
		if !ok {
			return nil, errdefs.Invalid("sysctl %q is not allowed", k)
		}
		out[k] = v
	}
	return out, nil
}

// device is one of the default character devices.
type device struct {
	path         string
	major, minor int64
}

// defaultNodes are the device nodes every container gets (the runtime-spec's
// default devices; /dev/console and /dev/ptmx come from devpts).
var defaultNodes = []device{
	{"/dev/null", 1, 3},
	{"/dev/zero", 1, 5},
	{"/dev/full", 1, 7},
	{"/dev/random", 1, 8},
	{"/dev/urandom", 1, 9},
	{"/dev/tty", 5, 0},
}

func defaultDevices() []specs.LinuxDevice {
	out := make([]specs.LinuxDevice, 0, len(defaultNodes))
	for _, d := range defaultNodes {
		mode := os.FileMode(0o666)
		var zero uint32
		out = append(out, specs.LinuxDevice{
			Path: d.path, Type: "c", Major: d.major, Minor: d.minor,
			FileMode: &mode, UID: &zero, GID: &zero,
		})
	}
	return out
}

// defaultDeviceRules is the device cgroup Docker ends up with: deny all, let
// any node be created, allow the default nodes, the console and ptys
// (136:*) and /dev/ptmx. moby's list also denies /dev/fuse: after the
// deny-all it is a no-op, and cgroup v1 refuses it once the "c *:* m" rule
// is there, which makes runc fail.
func defaultDeviceRules() []specs.LinuxDeviceCgroup {
	rule := func(allow bool, typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
		r := specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Access: access}
		if major >= 0 {
			r.Major = &major
		}
		if minor >= 0 {
			r.Minor = &minor
		}
		return r
	}
	rules := []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		rule(true, "c", -1, -1, "m"),
		rule(true, "b", -1, -1, "m"),
	}
	for _, d := range defaultNodes {
		rules = append(rules, rule(true, "c", d.major, d.minor, "rwm"))
	}
	return append(rules,
		rule(true, "c", 5, 1, "rwm"),    // /dev/console
		rule(true, "c", 136, -1, "rwm"), // /dev/pts/*
		rule(true, "c", 5, 2, "rwm"),    // /dev/ptmx
	)
}
