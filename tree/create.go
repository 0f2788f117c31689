package tree

import (
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/network"

	"github.com/enginefs/enginefs/ctl"
	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/engine"
	"github.com/enginefs/enginefs/errdefs"
)

// configFromCreate turns a create line (verbs.Create, on containers/ctl
// and on the ctl of a container reserved by clone) into a name and a
// config.
func configFromCreate(c verbs.Create) (string, engine.Config, error) {
	cfg := engine.Config{
		Image: c.Image, Cmd: c.Cmd, Env: c.Env, WorkingDir: c.Workdir, Hostname: c.Hostname, User: c.User,
		GroupAdd: c.GroupAdd, Tty: c.Tty, OpenStdin: c.Stdin, StdinOnce: c.StdinOnce, StopSignal: c.StopSignal,
		AutoRemove: c.Rm, Runtime: c.Runtime, CapAdd: c.CapAdd, CapDrop: c.CapDrop, Privileged: c.Privileged,
		ReadonlyRootfs: c.ReadOnly, SecurityOpt: c.SecurityOpt, UsernsMode: c.Userns,
		Init: c.Init, PidMode: c.PID, UTSMode: c.UTS, IpcMode: c.IPC, CgroupnsMode: c.Cgroupns,
		DeviceCgroupRules: c.DeviceCgroupRule,
	}
	for _, v := range c.Device {
		d, err := verbs.ParseDevice(v)
		if err != nil {
			return "", engine.Config{}, err
		}
		cfg.Devices = append(cfg.Devices, d)
	}
	// entrypoint= clears the image's; repeated, the words of a longer one.
	if eps := c.Entrypoint; len(eps) > 0 {
		cfg.Entrypoint = []string{}
		if len(eps) > 1 || eps[0] != "" {
			cfg.Entrypoint = eps
		}
	}
	// masked-path= and readonly-path= replace docker's lists; an empty
	// value alone means none.
	if len(c.MaskedPath) > 0 {
		cfg.MaskedPaths = nonEmpty(c.MaskedPath)
	}
	if len(c.ReadonlyPath) > 0 {
		cfg.ReadonlyPaths = nonEmpty(c.ReadonlyPath)
	}
	for _, l := range c.Sysctl {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return "", engine.Config{}, errdefs.Invalid("create: sysctl=%q: want KEY=VALUE", l)
		}
		if cfg.Sysctls == nil {
			cfg.Sysctls = map[string]string{}
		}
		cfg.Sysctls[k] = v
	}
	if c.LogDriver != "" || len(c.LogOpt) > 0 {
		cfg.LogConfig = &engine.LogConfig{Type: c.LogDriver, Config: map[string]string{}}
		for _, o := range c.LogOpt {
			k, v, ok := strings.Cut(o, "=")
			if !ok || k == "" {
				return "", engine.Config{}, errdefs.Invalid("create: log-opt=%q: want KEY=VALUE", o)
			}
			cfg.LogConfig.Config[k] = v
		}
	}
	for _, l := range c.Label {
		k, v, _ := strings.Cut(l, "=")
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		cfg.Labels[k] = v
	}
	p := values{verb: c.Verb()}
	if c.StopTimeout != "" {
		n := int(p.int("stop-timeout", c.StopTimeout))
		cfg.StopTimeout = &n
	}
	if c.Restart != "" {
		name, max, err := verbs.ParseRestart(c.Restart)
		if err != nil {
			p.fail("restart", c.Restart)
		}
		cfg.RestartPolicy.Name, cfg.RestartPolicy.MaximumRetryCount = name, max
	}
	cfg.Memory = p.size("memory", c.Memory)
	cfg.MemorySwap = p.size("memory-swap", c.MemorySwap)
	cfg.MemoryReservation = p.size("memory-reservation", c.MemoryReservation)
	cfg.ShmSize = p.size("shm-size", c.ShmSize)
	if c.CPUs != "" {
		n, err := verbs.ParseCPUs(c.CPUs)
		if err != nil {
			p.fail("cpus", c.CPUs)
		}
		cfg.NanoCPUs = n
	}
	cfg.CpusetCpus = c.CpusetCPUs
	cfg.CPUShares = p.int("cpu-shares", c.CPUShares)
	cfg.CPUQuota = p.int("cpu-quota", c.CPUQuota)
	cfg.CPUPeriod = p.int("cpu-period", c.CPUPeriod)
	cfg.CPURealtimeRuntime = p.int("cpu-rt-runtime", c.CPURtRuntime)
	cfg.CPURealtimePeriod = p.int("cpu-rt-period", c.CPURtPeriod)
	if c.PidsLimit != "" {
		n := p.int("pids-limit", c.PidsLimit)
		cfg.PidsLimit = &n
	}
	if c.ConsoleSize != "" {
		cs, err := verbs.ParseConsoleSize(c.ConsoleSize)
		if err != nil {
			p.fail("console-size", c.ConsoleSize)
		}
		cfg.ConsoleSize = cs
	}
	for _, u := range c.Ulimit {
		cfg.Ulimits = append(cfg.Ulimits, p.ulimit(u))
	}
	healthFromCreate(c, &p, &cfg)
	if p.err == nil {
		p.err = networkingFromCreate(c, &cfg)
	}
	if p.err == nil {
		p.err = storageFromCreate(c, &cfg)
	}
	return c.Name, cfg, p.err
}

// networkingFromCreate reads network, ip, alias, publish, publish-all,
// expose, add-host, dns, dns-search, dns-option and mac-address (docker
// run's --network, --ip, --network-alias, -p, -P, --expose, --add-host,
// --dns, --dns-search, --dns-option, --mac-address).
func networkingFromCreate(c verbs.Create, cfg *engine.Config) error {
	cfg.NetworkMode = c.Network
	if c.IP != "" || len(c.Alias) > 0 {
		mode := cfg.NetworkMode
		if mode == "" {
			return errdefs.Invalid("ip= and alias= need network= (they apply to that network)")
		}
		es := &network.EndpointSettings{Aliases: c.Alias}
		if c.IP != "" {
			es.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: c.IP}
		}
		cfg.EndpointsConfig = map[string]*network.EndpointSettings{mode: es}
	}
	if len(c.Publish) > 0 {
		exposed, bindings, err := verbs.ParsePublish(c.Publish)
		if err != nil {
			return err
		}
		cfg.ExposedPorts, cfg.PortBindings = exposed, bindings
	}
	if len(c.Expose) > 0 {
		exposed, err := verbs.ParseExpose(c.Expose)
		if err != nil {
			return err
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = exposed
		}
		for p := range exposed {
			cfg.ExposedPorts[p] = struct{}{}
		}
	}
	cfg.PublishAllPorts = c.PublishAll
	cfg.ExtraHosts, cfg.DNS, cfg.DNSSearch, cfg.DNSOptions = c.AddHost, c.DNS, c.DNSSearch, c.DNSOption
	cfg.MacAddress = c.MacAddress
	cfg.Links = c.Link
	return nil
}

// storageFromCreate reads volume, mount, tmpfs, volumes-from and
// volume-driver (docker run's -v, --mount, --tmpfs, --volumes-from).
func storageFromCreate(c verbs.Create, cfg *engine.Config) error {
	cfg.Binds = c.Volume
	cfg.VolumesFrom = c.VolumesFrom
	cfg.VolumeDriver = c.VolumeDriver
	for _, m := range c.Mount {
		mnt, err := verbs.ParseMount(m)
		if err != nil {
			return err
		}
		cfg.Mounts = append(cfg.Mounts, mnt)
	}
	for _, t := range c.Tmpfs {
		dst, opts := verbs.ParseTmpfs(t)
		if cfg.Tmpfs == nil {
			cfg.Tmpfs = map[string]string{}
		}
		cfg.Tmpfs[dst] = opts
	}
	return nil
}

// values reads the values of a verb's options, keeping the first error;
// an empty value is an absent one.
type values struct {
	verb string
	err  error
}

// fail records a bad value: the error names key=value.
func (p *values) fail(key, value string) {
	if p.err == nil {
		p.err = &ctl.Error{Verb: p.verb, Msg: "bad value", Word: key + "=" + value}
	}
}

func (p *values) int(key, v string) int64 {
	if v == "" {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		p.fail(key, v)
	}
	return n
}

// size reads docker's sizes: 64m, 1g, 512k, bytes; -1 where docker allows it.
func (p *values) size(key, v string) int64 {
	if v == "" {
		return 0
	}
	n, err := verbs.ParseSize(v)
	if err != nil {
		p.fail(key, v)
	}
	return n
}

// ulimit reads NAME=SOFT[:HARD].
func (p *values) ulimit(v string) engine.Ulimit {
	u, err := verbs.ParseUlimit(v)
	if err != nil && p.err == nil {
		p.err = err
	}
	return engine.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard}
}

// nonEmpty drops empty entries; the result is not nil.
func nonEmpty(list []string) []string {
	out := []string{}
	for _, s := range list {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
