package engine

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime"
)

// security is what a container's SecurityOpt asks for.
type security struct {
	noNewPrivileges bool
	seccomp         string // "" (docker's default), "unconfined" or a profile
	systemPaths     bool   // systempaths=unconfined: no masked or read-only path
}

// securityOptions reads SecurityOpt as dockerd does (daemon/create.go's
// parseSecurityOpt): KEY=VALUE (or the old KEY:VALUE) with the keys
// no-new-privileges, seccomp, apparmor, label and systempaths; "disable"
// alone is label=disable. The label and apparmor options are accepted and
// have no effect: this engine applies no LSM, and dockerd on a host
// without SELinux or AppArmor does the same. Anything else is refused with
// dockerd's message.
func (c *Config) securityOptions() (security, error) {
	var sec security
	for _, opt := range c.SecurityOpt {
		if opt == "no-new-privileges" {
			sec.noNewPrivileges = true
			continue
		}
		if opt == "disable" {
			continue // label=disable
		}
		var k, v string
		var ok bool
		if k, v, ok = strings.Cut(opt, "="); !ok {
			k, v, ok = strings.Cut(opt, ":")
		}
		if !ok {
			return sec, errdefs.Invalid("invalid --security-opt 1: %q", opt)
		}
		switch k {
		case "label", "apparmor":
			if v == "" {
				return sec, errdefs.Invalid("invalid --security-opt: %s needs a value", k)
			}
		case "no-new-privileges":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return sec, errdefs.Invalid("invalid --security-opt 2: %q", opt)
			}
			sec.noNewPrivileges = b
		case "seccomp":
			switch {
			case v == "unconfined":
				sec.seccomp = v
			case v == "builtin" || v == "":
				sec.seccomp = ""
			case !json.Valid([]byte(v)):
				// docker's CLI sends a profile file's content; a path
				// reaching the daemon was never read by a client.
				return sec, errdefs.Invalid("invalid --security-opt %q: the seccomp profile must be the profile's JSON (the CLI reads the file), \"unconfined\" or \"builtin\"", abbreviate(opt))
			default:
				sec.seccomp = v
			}
		case "systempaths":
			if v != "unconfined" {
				return sec, errdefs.Invalid("invalid --security-opt %q: systempaths takes only unconfined", opt)
			}
			sec.systemPaths = true
		default:
			return sec, errdefs.Invalid("invalid --security-opt 2: %q", abbreviate(opt))
		}
	}
	return sec, nil
}

// abbreviate keeps an error message short when it quotes a profile.
func abbreviate(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// checkSysctls refuses what the runtime would: parameters outside the
// container's namespaces, and net.* ones on the host's network.
func (c *Config) checkSysctls() error {
	if len(c.Sysctls) == 0 {
		return nil
	}
	if _, err := runtime.CheckSysctls(c.Sysctls); err != nil {
		return err
	}
	if c.NetworkMode == "host" {
		for k := range c.Sysctls {
			if strings.HasPrefix(k, "net.") {
				return errdefs.Invalid("sysctl %q is not allowed in the host network namespace", k)
			}
		}
	}
	return nil
}

// specSecurity sets the security fields of the spec options.
func (c *Config) specSecurity(opts *runtime.SpecOptions) error {
	sec, err := c.securityOptions()
	if err != nil {
		return err
	}
	opts.NoNewPrivileges = sec.noNewPrivileges
	opts.Seccomp = sec.seccomp
	opts.MaskedPaths, opts.ReadonlyPaths = c.MaskedPaths, c.ReadonlyPaths
	if sec.systemPaths {
		opts.MaskedPaths, opts.ReadonlyPaths = []string{}, []string{}
	}
	opts.Sysctls = c.Sysctls
	return nil
}

// SystemPaths are the masked and read-only paths the container gets, as
// docker's inspect shows them: docker's defaults unless replaced (or
// cleared by systempaths=unconfined), none when privileged.
func (c *Config) SystemPaths() (masked, readonly []string) {
	if c.Privileged {
		return nil, nil
	}
	var opts runtime.SpecOptions
	if err := c.specSecurity(&opts); err != nil {
		return nil, nil
	}
	masked, readonly = runtime.DefaultMaskedPaths(), runtime.DefaultReadonlyPaths()
	if opts.MaskedPaths != nil {
		masked = opts.MaskedPaths
	}
	if opts.ReadonlyPaths != nil {
		readonly = opts.ReadonlyPaths
	}
	return masked, readonly
}
