package runtime

import (
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/enginefs/enginefs/errdefs"
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
	// ReadonlyRootfs mounts the rootfs read-only.
	ReadonlyRootfs bool
	// AdditionalGids are the supplementary groups of the process (docker's
	// --group-add, plus the groups the engine found for the user). None by
	// default: the process keeps no supplementary group of the daemon.
	AdditionalGids []uint32
}

// DefaultPathEnv is the PATH a container gets when its image sets none;
// Docker's value.
const DefaultPathEnv = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// CgroupParent is the cgroup directory, below the root of every hierarchy,
// that holds the containers' cgroups.
const CgroupParent = "/enginefs"

// Spec returns the OCI runtime config of a container, built the way Docker
// builds its default config (moby's oci/defaults.go plus what runc adds for
// the devices): fresh pid, mount, uts, ipc and network namespaces, the
// standard /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys and
// /sys/fs/cgroup mounts, the default device nodes and a device cgroup that
// denies everything else. The rootfs is "rootfs" in the bundle.
//
// The environment starts with Docker's PATH and HOSTNAME (and TERM=xterm with
// a terminal); opts.Env replaces or extends them, in order.
//
// It returns an error of class errdefs.ErrInvalid when an option is bad: no
// ID or one that is not a plain name, empty Args, a relative Cwd, a User that
// is not numeric.
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

	s := &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Terminal: opts.Terminal,
			User:     user,
			Args:     append([]string(nil), opts.Args...),
			Env:      processEnv(hostname, opts.Terminal, opts.Env),
			Cwd:      path.Clean(cwd),
		},
		Root:     &specs.Root{Path: "rootfs", Readonly: opts.ReadonlyRootfs},
		Hostname: hostname,
		Mounts:   defaultMounts(),
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
		},
	}
	withSecurity(s)
	return s, nil
}

// withSecurity applies the confinement Docker applies by default. So far:
// the masked and read-only /proc and /sys paths of moby's oci/defaults.go, so
// a container cannot reach the host's kernel through them (sysrq-trigger,
// core_pattern, kcore). Capabilities, rlimits and noNewPrivileges come next.
func withSecurity(s *specs.Spec) {
	s.Linux.MaskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
	s.Linux.ReadonlyPaths = []string{
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
	}
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

// defaultMounts are Docker's default mounts; /dev/shm carries runc's size.
func defaultMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
	}
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
