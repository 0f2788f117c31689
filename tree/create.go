package tree

import (
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-units"

	"github.com/enginefs/enginefs/ctl"
	"github.com/enginefs/enginefs/engine"
	"github.com/enginefs/enginefs/errdefs"
)

// createKeys are the options of create, on containers/ctl and on the ctl of a
// container reserved by clone; they follow docker run's flags.
var createKeys = []string{
	"image", "name", "env", "workdir", "hostname", "user", "group-add", "entrypoint", "rm",
	"tty", "stdin", "stdin-once", "stop-signal", "stop-timeout", "restart", "runtime",
	"memory", "memory-swap", "memory-reservation", "cpus", "cpu-shares", "cpu-quota", "cpu-period",
	"cpuset-cpus", "pids-limit", "cap-add", "cap-drop", "privileged", "read-only", "security-opt",
	"ulimit", "shm-size", "label", "console-size",
	"network", "ip", "alias", "publish", "publish-all", "expose",
	"volume", "mount", "tmpfs", "volumes-from", "volume-driver",
}

const createUsage = "create image=REF [name=NAME] [env=K=V]... [workdir=DIR] [hostname=H] [user=U[:G]] [group-add=G]... " +
	"[entrypoint=PROG] [rm=true] [tty=true] [stdin=true] [stdin-once=true] [stop-signal=SIG] [stop-timeout=SECS] " +
	"[restart=no|always|unless-stopped|on-failure[:N]] [runtime=NAME] [memory=64m] [memory-swap=128m] " +
	"[memory-reservation=32m] [cpus=0.5] [cpu-shares=N] [cpu-quota=US] [cpu-period=US] [cpuset-cpus=0-1] " +
	"[pids-limit=N] [cap-add=CAP]... [cap-drop=CAP]... [privileged=true] [read-only=true] " +
	"[security-opt=no-new-privileges] [ulimit=nofile=SOFT[:HARD]]... [shm-size=64m] [label=KEY=VALUE]... [console-size=ROWSxCOLS] " +
	"[network=bridge|host|none|NAME] [ip=IPV4] [alias=NAME]... [publish=[HOSTIP:][HOSTPORT[-END]:]PORT[-END][/PROTO]]... [publish-all=true] " +
	"[expose=PORT[/PROTO]]... [volume=[SRC:]DST[:ro]]... [mount=type=...,src=...,dst=...]... [tmpfs=DST[:OPTS]]... " +
	"[volumes-from=CONTAINER[:ro]]... [volume-driver=NAME] [-- CMD ARG...]"

// configFromCreate reads the options of a create line into a name and a config.
func configFromCreate(cmd ctl.Command) (string, engine.Config, error) {
	cfg := engine.Config{Env: cmd.All("env"), Cmd: cmd.Argv, GroupAdd: cmd.All("group-add"),
		CapAdd: cmd.All("cap-add"), CapDrop: cmd.All("cap-drop"), SecurityOpt: cmd.All("security-opt")}
	cfg.Image, _ = cmd.Get("image")
	cfg.WorkingDir, _ = cmd.Get("workdir")
	cfg.Hostname, _ = cmd.Get("hostname")
	cfg.User, _ = cmd.Get("user")
	cfg.StopSignal, _ = cmd.Get("stop-signal")
	cfg.Runtime, _ = cmd.Get("runtime")
	cfg.CpusetCpus, _ = cmd.Get("cpuset-cpus")
	// entrypoint= clears the image's; repeated, the words of a longer one.
	if eps := cmd.All("entrypoint"); len(eps) > 0 {
		cfg.Entrypoint = []string{}
		if len(eps) > 1 || eps[0] != "" {
			cfg.Entrypoint = eps
		}
	}
	for _, l := range cmd.All("label") {
		k, v, _ := strings.Cut(l, "=")
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		cfg.Labels[k] = v
	}
	p := parser{cmd: cmd}
	cfg.AutoRemove = p.bool("rm")
	cfg.Tty = p.bool("tty")
	cfg.OpenStdin = p.bool("stdin")
	cfg.StdinOnce = p.bool("stdin-once")
	cfg.Privileged = p.bool("privileged")
	cfg.ReadonlyRootfs = p.bool("read-only")
	if _, ok := cmd.Get("stop-timeout"); ok {
		n := int(p.int("stop-timeout"))
		cfg.StopTimeout = &n
	}
	if r, ok := cmd.Get("restart"); ok {
		name, max, hasMax := strings.Cut(r, ":")
		cfg.RestartPolicy.Name = name
		if hasMax {
			n, err := strconv.Atoi(max)
			if err != nil {
				p.fail("restart", r)
			}
			cfg.RestartPolicy.MaximumRetryCount = n
		}
	}
	cfg.Memory = p.size("memory")
	cfg.MemorySwap = p.size("memory-swap")
	cfg.MemoryReservation = p.size("memory-reservation")
	cfg.ShmSize = p.size("shm-size")
	if v, ok := cmd.Get("cpus"); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			p.fail("cpus", v)
		}
		cfg.NanoCPUs = int64(f * 1e9)
	}
	cfg.CPUShares = p.int("cpu-shares")
	cfg.CPUQuota = p.int("cpu-quota")
	cfg.CPUPeriod = p.int("cpu-period")
	if _, ok := cmd.Get("pids-limit"); ok {
		n := p.int("pids-limit")
		cfg.PidsLimit = &n
	}
	if v, ok := cmd.Get("console-size"); ok {
		rows, cols, _ := strings.Cut(v, "x")
		r, err1 := strconv.ParseUint(rows, 10, 16)
		c, err2 := strconv.ParseUint(cols, 10, 16)
		if err1 != nil || err2 != nil || r == 0 || c == 0 {
			p.fail("console-size", v)
		}
		cfg.ConsoleSize = [2]uint{uint(r), uint(c)}
	}
	for _, u := range cmd.All("ulimit") {
		cfg.Ulimits = append(cfg.Ulimits, p.ulimit(u))
	}
	if p.err == nil {
		p.err = networkingFromCreate(cmd, &cfg)
	}
	if p.err == nil {
		p.err = storageFromCreate(cmd, &cfg)
	}
	name, _ := cmd.Get("name")
	return name, cfg, p.err
}

// networkingFromCreate reads network, ip, alias, publish, publish-all and
// expose (docker run's --network, --ip, --network-alias, -p, -P, --expose).
func networkingFromCreate(cmd ctl.Command, cfg *engine.Config) error {
	cfg.NetworkMode, _ = cmd.Get("network")
	ip, _ := cmd.Get("ip")
	if aliases := cmd.All("alias"); ip != "" || len(aliases) > 0 {
		mode := cfg.NetworkMode
		if mode == "" {
			return errdefs.Invalid("ip= and alias= need network= (they apply to that network)")
		}
		es := &network.EndpointSettings{Aliases: aliases}
		if ip != "" {
			es.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: ip}
		}
		cfg.EndpointsConfig = map[string]*network.EndpointSettings{mode: es}
	}
	if specs := cmd.All("publish"); len(specs) > 0 {
		exposed, bindings, err := engine.ParsePublish(specs)
		if err != nil {
			return err
		}
		cfg.ExposedPorts, cfg.PortBindings = exposed, bindings
	}
	if specs := cmd.All("expose"); len(specs) > 0 {
		exposed, err := engine.ParseExpose(specs)
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
	all, err := cmd.Bool("publish-all", false)
	cfg.PublishAllPorts = all
	return err
}

// storageFromCreate reads volume, mount, tmpfs, volumes-from and
// volume-driver (docker run's -v, --mount, --tmpfs, --volumes-from).
func storageFromCreate(cmd ctl.Command, cfg *engine.Config) error {
	cfg.Binds = cmd.All("volume")
	cfg.VolumesFrom = cmd.All("volumes-from")
	cfg.VolumeDriver, _ = cmd.Get("volume-driver")
	for _, m := range cmd.All("mount") {
		mnt, err := engine.ParseMount(m)
		if err != nil {
			return err
		}
		cfg.Mounts = append(cfg.Mounts, mnt)
	}
	for _, t := range cmd.All("tmpfs") {
		dst, opts, _ := strings.Cut(t, ":")
		if cfg.Tmpfs == nil {
			cfg.Tmpfs = map[string]string{}
		}
		cfg.Tmpfs[dst] = opts
	}
	return nil
}

// parser reads typed option values, keeping the first error.
type parser struct {
	cmd ctl.Command
	err error
}

func (p *parser) fail(key, value string) {
	if p.err == nil {
		p.err = &ctl.Error{Verb: p.cmd.Verb, Msg: "bad value", Word: key + "=" + value}
	}
}

func (p *parser) bool(key string) bool {
	v, err := p.cmd.Bool(key, false)
	if err != nil && p.err == nil {
		p.err = err
	}
	return v
}

func (p *parser) int(key string) int64 {
	v, ok := p.cmd.Get(key)
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		p.fail(key, v)
	}
	return n
}

// size reads docker's sizes: 64m, 1g, 512k, bytes; -1 where docker allows it.
func (p *parser) size(key string) int64 {
	v, ok := p.cmd.Get(key)
	if !ok {
		return 0
	}
	if v == "-1" {
		return -1
	}
	n, err := units.RAMInBytes(v)
	if err != nil {
		p.fail(key, v)
	}
	return n
}

// ulimit reads NAME=SOFT[:HARD].
func (p *parser) ulimit(v string) engine.Ulimit {
	name, limits, ok := strings.Cut(v, "=")
	soft, hard, hasHard := strings.Cut(limits, ":")
	s, err1 := strconv.ParseInt(soft, 10, 64)
	h, err2 := s, error(nil)
	if hasHard {
		h, err2 = strconv.ParseInt(hard, 10, 64)
	}
	if !ok || name == "" || err1 != nil || err2 != nil {
		if p.err == nil {
			p.err = errdefs.Invalid("bad ulimit %q: want NAME=SOFT[:HARD]", v)
		}
	}
	return engine.Ulimit{Name: name, Soft: s, Hard: h}
}
