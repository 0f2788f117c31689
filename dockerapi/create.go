package dockerapi

import (
	"context"
	"encoding/csv"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"github.com/enginefs/enginefs/ctl"
	"github.com/enginefs/enginefs/errdefs"
)

// createContainer is POST /containers/create: docker's config becomes a
// create line on containers/ctl, whose reply is the new id. The endpoints
// of networks other than the first (API 1.44 creates with several) are
// connects on those networks' ctl files; if one fails the container is
// removed again.
func (s *Server) createContainer(w http.ResponseWriter, r *http.Request) error {
	var req container.CreateRequest
	if err := decodeBody(r, &req, true); err != nil {
		return err
	}
	line, err := createLine(r.URL.Query().Get("name"), req)
	if err != nil {
		return err
	}
	ctx := r.Context()
	id, err := s.command(ctx, "containers/ctl", line)
	if err != nil {
		return err
	}
	for _, ep := range extraEndpoints(req) {
		cmd, err := connectCommand(id, ep.settings)
		if err == nil {
			_, err = s.command(ctx, "networks/"+ep.network+"/ctl", cmd.String())
		}
		if err != nil {
			_, _ = s.command(context.WithoutCancel(ctx), "containers/"+id+"/ctl", "rm force")
			return err
		}
	}
	warnings := []string{}
	if req.HostConfig != nil && req.HostConfig.NetworkMode.IsHost() && len(req.HostConfig.PortBindings) > 0 {
		warnings = append(warnings, publishDiscarded) // as dockerd: the docker CLI prints it
	}
	return writeJSON(w, http.StatusCreated, container.CreateResponse{ID: id, Warnings: warnings})
}

// publishDiscarded is dockerd's warning for ports published on the host
// network: the container's ports are the host's, nothing is published.
const publishDiscarded = "Published ports are discarded when using host network mode"

// createLine maps docker's container config and host config to the
// options of the tree's create line (see tree/create.go), which follow
// docker run's flags.
func createLine(name string, req container.CreateRequest) (string, error) {
	cfg, hc := req.Config, req.HostConfig
	if cfg == nil {
		cfg = &container.Config{}
	}
	if hc == nil {
		hc = &container.HostConfig{}
	}
	if cfg.Image == "" {
		return "", errdefs.Invalid("no image specified: the config has no Image")
	}
	cmd := ctl.Command{Verb: "create"}
	opt := func(k, v string) { cmd.Opts = append(cmd.Opts, ctl.Opt{Key: k, Value: v}) }
	optIf := func(k, v string) {
		if v != "" {
			opt(k, v)
		}
	}
	num := func(k string, n int64) {
		if n != 0 {
			opt(k, strconv.FormatInt(n, 10))
		}
	}
	flag := func(k string, b bool) {
		if b {
			opt(k, "true")
		}
	}
	opt("image", cfg.Image)
	optIf("name", strings.TrimPrefix(name, "/"))
	for _, e := range cfg.Env {
		opt("env", e)
	}
	optIf("workdir", cfg.WorkingDir)
	optIf("hostname", cfg.Hostname)
	optIf("user", cfg.User)
	for _, g := range hc.GroupAdd {
		opt("group-add", g)
	}
	if cfg.Entrypoint != nil {
		if len(cfg.Entrypoint) == 0 {
			opt("entrypoint", "")
		}
		for _, e := range cfg.Entrypoint {
			opt("entrypoint", e)
		}
	}
	flag("rm", hc.AutoRemove)
	flag("tty", cfg.Tty)
	flag("stdin", cfg.OpenStdin)
	flag("stdin-once", cfg.StdinOnce && cfg.OpenStdin)
	if cs := hc.ConsoleSize; cfg.Tty && cs[0] > 0 && cs[1] > 0 {
		opt("console-size", strconv.FormatUint(uint64(cs[0]), 10)+"x"+strconv.FormatUint(uint64(cs[1]), 10))
	}
	optIf("stop-signal", cfg.StopSignal)
	if cfg.StopTimeout != nil {
		opt("stop-timeout", strconv.Itoa(*cfg.StopTimeout))
	}
	if p := hc.RestartPolicy; p.Name != "" && p.Name != container.RestartPolicyDisabled {
		v := string(p.Name)
		if p.MaximumRetryCount > 0 {
			v += ":" + strconv.Itoa(p.MaximumRetryCount)
		}
		opt("restart", v)
	}
	optIf("runtime", hc.Runtime)
	num("memory", hc.Memory)
	num("memory-swap", hc.MemorySwap)
	num("memory-reservation", hc.MemoryReservation)
	if hc.NanoCPUs != 0 {
		opt("cpus", strconv.FormatFloat(float64(hc.NanoCPUs)/1e9, 'f', -1, 64))
	}
	num("cpu-shares", hc.CPUShares)
	num("cpu-quota", hc.CPUQuota)
	num("cpu-period", hc.CPUPeriod)
	optIf("cpuset-cpus", hc.CpusetCpus)
	if hc.PidsLimit != nil && *hc.PidsLimit > 0 {
		num("pids-limit", *hc.PidsLimit)
	}
	for _, c := range hc.CapAdd {
		opt("cap-add", c)
	}
	for _, c := range hc.CapDrop {
		opt("cap-drop", c)
	}
	flag("privileged", hc.Privileged)
	flag("read-only", hc.ReadonlyRootfs)
	for _, o := range hc.SecurityOpt {
		opt("security-opt", o)
	}
	for _, u := range hc.Ulimits {
		if u != nil {
			opt("ulimit", u.Name+"="+strconv.FormatInt(u.Soft, 10)+":"+strconv.FormatInt(u.Hard, 10))
		}
	}
	num("shm-size", hc.ShmSize)
	if err := networkingOpts(opt, cfg, hc, req.NetworkingConfig); err != nil {
		return "", err
	}
	if err := storageOpts(opt, cfg, hc); err != nil {
		return "", err
	}
	keys := make([]string, 0, len(cfg.Labels))
	for k := range cfg.Labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		opt("label", k+"="+cfg.Labels[k])
	}
	if len(cfg.Cmd) > 0 {
		cmd.Argv = cfg.Cmd
	}
	return cmd.String(), nil
}

// primaryNetwork is the network a container is created on: its
// NetworkMode or, when that says default, the one endpoint it names.
func primaryNetwork(hc *container.HostConfig, nc *network.NetworkingConfig) string {
	mode := ""
	if hc != nil && hc.NetworkMode != "default" {
		mode = string(hc.NetworkMode)
	}
	if mode == "" && nc != nil && len(nc.EndpointsConfig) == 1 {
		for name := range nc.EndpointsConfig {
			mode = name
		}
	}
	return mode
}

// extraEndpoint is a network a container joins after its create.
type extraEndpoint struct {
	network  string
	settings *network.EndpointSettings
}

// extraEndpoints are the endpoints of networks other than the primary
// one, by name.
func extraEndpoints(req container.CreateRequest) []extraEndpoint {
	nc := req.NetworkingConfig
	if nc == nil {
		return nil
	}
	primary := primaryNetwork(req.HostConfig, nc)
	var out []extraEndpoint
	for _, name := range sortedKeys(nc.EndpointsConfig) {
		if name != primary {
			out = append(out, extraEndpoint{network: name, settings: nc.EndpointsConfig[name]})
		}
	}
	return out
}

// networkingOpts maps the network mode, the primary network's endpoint
// (its address and aliases), the exposed and published ports to network=,
// ip=, alias=, expose=, publish= and publish-all=.
func networkingOpts(opt func(k, v string), cfg *container.Config, hc *container.HostConfig, nc *network.NetworkingConfig) error {
	primary := primaryNetwork(hc, nc)
	if primary != "" {
		opt("network", primary)
	}
	if nc != nil {
		for name, es := range nc.EndpointsConfig {
			if es == nil {
				continue
			}
			switch {
			case es.MacAddress != "":
				return errdefs.Invalid("network %s: a MAC address of one's choice is not supported", name)
			case len(es.Links) > 0:
				return errdefs.Invalid("network %s: links are not supported (containers on a user-defined network find each other by name)", name)
			}
			if name != primary {
				continue
			}
			cmd, err := connectCommand("", es)
			if err != nil {
				return err
			}
			for _, o := range cmd.Opts {
				opt(o.Key, o.Value)
			}
		}
	}
	if len(hc.Links) > 0 {
		return errdefs.Invalid("links are not supported (containers on a user-defined network find each other by name)")
	}
	for _, p := range sortedPorts(cfg.ExposedPorts) {
		if _, published := hc.PortBindings[p]; !published {
			opt("expose", string(p))
		}
	}
	ports := make([]nat.Port, 0, len(hc.PortBindings))
	for p := range hc.PortBindings {
		ports = append(ports, p)
	}
	slices.Sort(ports)
	for _, p := range ports {
		bindings := hc.PortBindings[p]
		if len(bindings) == 0 {
			opt("expose", string(p))
		}
		for _, b := range bindings {
			spec := string(p)
			switch ip := b.HostIP; {
			case ip != "":
				if strings.Contains(ip, ":") {
					ip = "[" + ip + "]"
				}
				spec = ip + ":" + b.HostPort + ":" + spec
			case b.HostPort != "":
				spec = b.HostPort + ":" + spec
			}
			opt("publish", spec)
		}
	}
	if hc.PublishAllPorts {
		opt("publish-all", "true")
	}
	return nil
}

func sortedPorts(ps nat.PortSet) []nat.Port {
	out := make([]nat.Port, 0, len(ps))
	for p := range ps {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// storageOpts maps Binds, Mounts, Tmpfs, VolumesFrom, VolumeDriver and the
// config's Volumes (anonymous ones, where no bind, mount or tmpfs covers
// the path) to volume=, mount=, tmpfs=, volumes-from= and volume-driver=.
func storageOpts(opt func(k, v string), cfg *container.Config, hc *container.HostConfig) error {
	covered := map[string]bool{}
	for _, b := range hc.Binds {
		parts := strings.Split(b, ":")
		dst := parts[0]
		if len(parts) > 1 {
			dst = parts[1]
		}
		covered[dst] = true
		opt("volume", b)
	}
	for _, m := range hc.Mounts {
		line, err := mountLine(m)
		if err != nil {
			return err
		}
		covered[m.Target] = true
		opt("mount", line)
	}
	for _, dst := range sortedKeys(hc.Tmpfs) {
		covered[dst] = true
		if o := hc.Tmpfs[dst]; o != "" {
			opt("tmpfs", dst+":"+o)
		} else {
			opt("tmpfs", dst)
		}
	}
	vols := make([]string, 0, len(cfg.Volumes))
	for dst := range cfg.Volumes {
		vols = append(vols, dst)
	}
	slices.Sort(vols)
	for _, dst := range vols {
		if !covered[dst] {
			opt("volume", dst)
		}
	}
	for _, v := range hc.VolumesFrom {
		opt("volumes-from", v)
	}
	if hc.VolumeDriver != "" {
		opt("volume-driver", hc.VolumeDriver)
	}
	return nil
}

// mountLine writes a Mounts entry as docker's --mount value, which the
// tree's mount= reads.
func mountLine(m mount.Mount) (string, error) {
	switch m.Type {
	case mount.TypeBind, mount.TypeVolume, mount.TypeTmpfs:
	default:
		return "", errdefs.Invalid("mount type %q is not supported (bind, volume or tmpfs)", m.Type)
	}
	f := []string{"type=" + string(m.Type), "dst=" + m.Target}
	if m.Source != "" {
		f = append(f, "src="+m.Source)
	}
	if m.ReadOnly {
		f = append(f, "readonly")
	}
	if b := m.BindOptions; b != nil && b.Propagation != "" {
		f = append(f, "bind-propagation="+string(b.Propagation))
	}
	if v := m.VolumeOptions; v != nil {
		if v.NoCopy {
			f = append(f, "volume-nocopy")
		}
		for _, k := range sortedKeys(v.Labels) {
			f = append(f, "volume-label="+k+"="+v.Labels[k])
		}
		if d := v.DriverConfig; d != nil {
			if d.Name != "" {
				f = append(f, "volume-driver="+d.Name)
			}
			for _, k := range sortedKeys(d.Options) {
				f = append(f, "volume-opt="+k+"="+d.Options[k])
			}
		}
		if v.Subpath != "" {
			return "", errdefs.Invalid("mount %s: volume subpaths are not supported", m.Target)
		}
	}
	if t := m.TmpfsOptions; t != nil {
		if t.SizeBytes > 0 {
			f = append(f, "tmpfs-size="+strconv.FormatInt(t.SizeBytes, 10))
		}
		if t.Mode != 0 {
			f = append(f, "tmpfs-mode="+strconv.FormatUint(uint64(t.Mode.Perm()), 8))
		}
	}
	var b strings.Builder
	w := csv.NewWriter(&b)
	if err := w.Write(f); err != nil {
		return "", errdefs.Invalid("mount %s: %v", m.Target, err)
	}
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n"), nil
}
