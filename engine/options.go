package engine

import (
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime"
)

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
		return "", errdefs.Unavailable("--init: %w", err)
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
	return nil
}
