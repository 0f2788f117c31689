package engine

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime"
)

// DeviceMapping is docker's --device: a host device, its path in the
// container and the device cgroup's permissions (rwm).
type DeviceMapping = container.DeviceMapping

// hostGateway is the IP of an --add-host entry that stands for the default
// bridge's gateway, as in docker.
const hostGateway = "host-gateway"

// maxDNSField is the longest search domain or resolver option accepted
// (resolv.conf's lines are read by libc into fixed buffers; 255 is a
// domain name's limit).
const maxDNSField = 255

// checkModes checks the namespace modes as dockerd does, with its words:
// "host" or the container's own; joining another container's namespace
// (container:NAME) is refused.
func (c *Config) checkModes() error {
	switch m := c.PidMode; {
	case m == "" || m == "host":
	case strings.HasPrefix(m, "container:"):
		return errdefs.Invalid("PID mode %s: sharing another container's PID namespace is not supported", m)
	default:
		return errdefs.Invalid("invalid PID mode: %s", m)
	}
	switch m := c.UTSMode; {
	case m == "":
	case m == "host":
		if c.Hostname != "" {
			return errdefs.Invalid("conflicting options: hostname and the UTS mode")
		}
	default:
		return errdefs.Invalid("invalid UTS mode: %s", m)
	}
	switch m := c.IpcMode; {
	case m == "" || m == "private" || m == "shareable" || m == "host" || m == "none":
	case strings.HasPrefix(m, "container:"):
		return errdefs.Invalid("IPC mode %s: sharing another container's IPC namespace is not supported", m)
	default:
		return errdefs.Invalid("invalid IPC mode: %s", m)
	}
	switch c.CgroupnsMode {
	case "", "host", "private":
	default:
		return errdefs.Invalid("invalid cgroup namespace mode: %s", c.CgroupnsMode)
	}
	for _, d := range c.Devices {
		if !filepath.IsAbs(d.PathOnHost) || !filepath.IsAbs(d.PathInContainer) {
			return errdefs.Invalid("invalid device specification: %s:%s: paths must be absolute", d.PathOnHost, d.PathInContainer)
		}
		if strings.Trim(d.CgroupPermissions, "rwm") != "" {
			return errdefs.Invalid("invalid device mode: %s", d.CgroupPermissions)
		}
	}
	for _, r := range c.DeviceCgroupRules {
		if _, err := parseDeviceRule(r); err != nil {
			return err
		}
	}
	return nil
}

// deviceRule is docker's --device-cgroup-rule syntax.
var deviceRule = regexp.MustCompile(`^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$`)

// parseDeviceRule reads a --device-cgroup-rule ('c 1:3 rwm') with
// dockerd's error.
func parseDeviceRule(r string) (specs.LinuxDeviceCgroup, error) {
	m := deviceRule.FindStringSubmatch(r)
	if m == nil {
		return specs.LinuxDeviceCgroup{}, errdefs.Invalid("invalid device cgroup format '%s'", r)
	}
	rule := specs.LinuxDeviceCgroup{Allow: true, Type: m[1], Access: m[4]}
	for i, p := range []**int64{&rule.Major, &rule.Minor} {
		if m[2+i] == "*" {
			continue
		}
		n, err := strconv.ParseInt(m[2+i], 10, 64)
		if err != nil {
			return specs.LinuxDeviceCgroup{}, errdefs.Invalid("invalid device cgroup format '%s'", r)
		}
		*p = &n
	}
	return rule, nil
}

// specDevices reads the host's devices of cfg (at start, as dockerd) and
// its cgroup rules into opts.
func (c *Config) specDevices(opts *runtime.SpecOptions) error {
	for _, d := range c.Devices {
		var st unix.Stat_t
		if err := unix.Stat(d.PathOnHost, &st); err != nil {
			return errdefs.Invalid("error gathering device information while adding custom device %q: %w", d.PathOnHost, err)
		}
		typ := ""
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFCHR:
			typ = "c"
		case unix.S_IFBLK:
			typ = "b"
		default:
			return errdefs.Invalid("error gathering device information while adding custom device %q: not a device node", d.PathOnHost)
		}
		mode := os.FileMode(st.Mode & 0o777)
		uid, gid := st.Uid, st.Gid
		perms := d.CgroupPermissions
		if perms == "" {
			perms = "rwm"
		}
		opts.Devices = append(opts.Devices, runtime.Device{Access: perms, LinuxDevice: specs.LinuxDevice{
			Path: d.PathInContainer, Type: typ, Major: int64(unix.Major(uint64(st.Rdev))), Minor: int64(unix.Minor(uint64(st.Rdev))),
			FileMode: &mode, UID: &uid, GID: &gid,
		}})
	}
	for _, r := range c.DeviceCgroupRules {
		rule, err := parseDeviceRule(r)
		if err != nil {
			return err
		}
		opts.DeviceRules = append(opts.DeviceRules, rule)
	}
	opts.CgroupNS = c.CgroupnsMode == "private"
	return nil
}

// rtFiles are where cgroup v1 shows the real-time scheduler's budget:
// without them the kernel has no CONFIG_RT_GROUP_SCHED (or the host is on
// cgroup v2, which has none), as dockerd's sysinfo finds.
var rtFiles = []string{"/sys/fs/cgroup/cpu/cpu.rt_period_us", "/sys/fs/cgroup/cpu,cpuacct/cpu.rt_period_us"}

// checkRealtime checks --cpu-rt-runtime and --cpu-rt-period as dockerd
// does (validateResources), with its words.
func (r Resources) checkRealtime() error {
	if r.CPURealtimeRuntime == 0 && r.CPURealtimePeriod == 0 {
		return nil
	}
	supported := false
	for _, f := range rtFiles {
		if _, err := os.Stat(f); err == nil {
			supported = true
		}
	}
	switch {
	case !supported:
		return errdefs.Invalid("kernel does not support CPU real-time scheduler")
	case r.CPURealtimeRuntime < -1 || r.CPURealtimePeriod < 0:
		return errdefs.Invalid("cpu real-time runtime and period cannot be negative")
	case r.CPURealtimePeriod != 0 && r.CPURealtimeRuntime > r.CPURealtimePeriod:
		return errdefs.Invalid("cpu real-time runtime cannot be higher than cpu real-time period")
	}
	return nil
}

// checkNames checks --add-host, --dns, --dns-search and --dns-option
// with dockerd's words.
func (n Networking) checkNames() error {
	for _, h := range n.ExtraHosts {
		name, ip, ok := strings.Cut(h, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t\n") {
			return errdefs.Invalid("bad format for add-host: %q", h)
		}
		if _, err := netip.ParseAddr(ip); err != nil && ip != hostGateway {
			return errdefs.Invalid("invalid IP address in add-host: %q", ip)
		}
	}
	for _, d := range n.DNS {
		if _, err := netip.ParseAddr(d); err != nil {
			return errdefs.Invalid("IP address is not correctly formatted: %s", d)
		}
	}
	for _, list := range [][]string{n.DNSSearch, n.DNSOptions} {
		for _, v := range list {
			if v == "" || len(v) > maxDNSField || strings.ContainsAny(v, " \t\r\n#;") {
				return errdefs.Invalid("%q is not a valid DNS search domain or option (at most %d characters, no blanks; cap maxDNSField)", v, maxDNSField)
			}
		}
	}
	return nil
}

// initBinary is the name of docker's init, looked up as dockerd does.
const initBinary = "docker-init"

// lookupInit finds docker-init as dockerd does (LookupInitPath): in the
// libexec and lib directories of docker, then in PATH. Debian's tini
// package installs it as /usr/bin/docker-init.
func lookupInit() (string, error) {
	for _, dir := range []string{"/usr/local/libexec/docker", "/usr/libexec/docker", "/usr/local/lib/docker",
		"/usr/lib/docker", "/usr/local/libexec", "/usr/libexec"} {
		if p, err := exec.LookPath(filepath.Join(dir, initBinary)); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath(initBinary)
	if err != nil {
		return "", errdefs.Unavailable("%w", err) // dockerd's words: exec: "docker-init": executable file not found in $PATH
	}
	return p, nil
}

// specModes sets the namespace modes and the init of cfg on opts.
func (c *Config) specModes(opts *runtime.SpecOptions) error {
	opts.HostPID = c.PidMode == "host"
	opts.HostUTS = c.UTSMode == "host"
	opts.HostIPC = c.IpcMode == "host"
	opts.NoShm = c.IpcMode == "none"
	if c.Init {
		p, err := lookupInit()
		if err != nil {
			return err
		}
		opts.Init = p
	}
	return c.specDevices(opts)
}
