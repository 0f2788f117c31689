package dockerapi

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/errdefs"
)

// createContainer is POST /containers/create: docker's config becomes a
// create line on containers/ctl, whose reply is the new id. The endpoints
// of networks other than the first (API 1.44 creates with several) are
// connects on those networks' ctl files; if one fails the container is
// removed again.
func (s *Server) createContainer(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		container.CreateRequest
		// Runtime is not docker's at the top level (HostConfig.Runtime
		// is): dockerd drops it, the bridge refuses it.
		Runtime *string `json:"Runtime,omitempty"`
	}
	if err := decodeBody(r, &body, true); err != nil {
		return err
	}
	req := body.CreateRequest
	if body.Runtime != nil {
		return errdefs.Invalid("Runtime=%q at the top level of the create body is not docker's: the runtime is HostConfig.Runtime", *body.Runtime)
	}
	c, err := createVerb(r.URL.Query().Get("name"), req)
	if err != nil {
		return err
	}
	ctx := r.Context()
	id, err := s.command(ctx, "containers/ctl", verbs.Line(c))
	if err != nil {
		return err
	}
	for _, ep := range extraEndpoints(req) {
		conn, err := connectVerb(id, ep.settings)
		if err == nil {
			_, err = s.command(ctx, "networks/"+ep.network+"/ctl", verbs.Line(conn))
		}
		if err != nil {
			_, _ = s.command(context.WithoutCancel(ctx), "containers/"+id+"/ctl", verbs.Line(verbs.ContainerRm{Force: true}))
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

// createVerb maps docker's container config and host config to the
// create line of the tree (verbs.Create, whose words follow docker run's
// flags).
func createVerb(name string, req container.CreateRequest) (verbs.Create, error) {
	cfg, hc := req.Config, req.HostConfig
	if cfg == nil {
		cfg = &container.Config{}
	}
	if hc == nil {
		hc = &container.HostConfig{}
	}
	if cfg.Image == "" {
		return verbs.Create{}, errdefs.Invalid("no image specified: the config has no Image")
	}
	if err := checkCreateFields(req); err != nil {
		return verbs.Create{}, err
	}
	num := func(n int64) string {
		if n == 0 {
			return ""
		}
		return strconv.FormatInt(n, 10)
	}
	c := verbs.Create{
		Image: cfg.Image, Name: strings.TrimPrefix(name, "/"), Env: cfg.Env, Workdir: cfg.WorkingDir,
		Hostname: cfg.Hostname, User: cfg.User, GroupAdd: hc.GroupAdd, Entrypoint: cfg.Entrypoint,
		Rm: hc.AutoRemove, Tty: cfg.Tty, Stdin: cfg.OpenStdin, StdinOnce: cfg.StdinOnce && cfg.OpenStdin,
		StopSignal: cfg.StopSignal, Runtime: hc.Runtime,
		Memory: num(hc.Memory), MemorySwap: num(hc.MemorySwap), MemoryReservation: num(hc.MemoryReservation),
		CPUShares: num(hc.CPUShares), CPUQuota: num(hc.CPUQuota), CPUPeriod: num(hc.CPUPeriod), CpusetCPUs: hc.CpusetCpus,
		CPURtRuntime: num(hc.CPURealtimeRuntime), CPURtPeriod: num(hc.CPURealtimePeriod),
		CapAdd: hc.CapAdd, CapDrop: hc.CapDrop, Privileged: hc.Privileged, ReadOnly: hc.ReadonlyRootfs,
		SecurityOpt: hc.SecurityOpt, ShmSize: num(hc.ShmSize), Userns: string(hc.UsernsMode),
		AddHost: hc.ExtraHosts, DNS: hc.DNS, DNSSearch: hc.DNSSearch, DNSOption: hc.DNSOptions,
		Init: hc.Init != nil && *hc.Init, PID: string(hc.PidMode), UTS: string(hc.UTSMode), IPC: string(hc.IpcMode),
	}
	if cfg.Entrypoint != nil && len(cfg.Entrypoint) == 0 {
		c.Entrypoint = []string{""} // entrypoint= clears the image's
	}
	if cs := hc.ConsoleSize; cfg.Tty && cs[0] > 0 && cs[1] > 0 {
		c.ConsoleSize = verbs.FormatConsoleSize(cs)
	}
	if cfg.StopTimeout != nil {
		c.StopTimeout = strconv.Itoa(*cfg.StopTimeout)
	}
	if p := hc.RestartPolicy; p.Name != "" && p.Name != container.RestartPolicyDisabled {
		c.Restart = verbs.FormatRestart(string(p.Name), p.MaximumRetryCount)
	}
	if hc.NanoCPUs != 0 {
		c.CPUs = verbs.FormatCPUs(hc.NanoCPUs)
	}
	if hc.PidsLimit != nil && *hc.PidsLimit > 0 {
		c.PidsLimit = num(*hc.PidsLimit)
	}
	for _, d := range hc.Devices {
		c.Device = append(c.Device, verbs.FormatDevice(d))
	}
	c.DeviceCgroupRule, c.Cgroupns = hc.DeviceCgroupRules, string(hc.CgroupnsMode)
	for _, k := range sortedKeys(hc.Sysctls) {
		c.Sysctl = append(c.Sysctl, k+"="+hc.Sysctls[k])
	}
	// Docker's nil is its default list; an empty list (the CLI's
	// systempaths=unconfined) is none, which masked-path= says.
	if hc.MaskedPaths != nil {
		c.MaskedPath = orNone(hc.MaskedPaths)
	}
	if hc.ReadonlyPaths != nil {
		c.ReadonlyPath = orNone(hc.ReadonlyPaths)
	}
	for _, u := range hc.Ulimits {
		if u != nil {
			c.Ulimit = append(c.Ulimit, verbs.FormatUlimit(*u))
		}
	}
	healthOf(&c, cfg.Healthcheck)
	if err := networkingOf(&c, cfg, hc, req.NetworkingConfig); err != nil {
		return verbs.Create{}, err
	}
	if err := storageOf(&c, cfg, hc); err != nil {
		return verbs.Create{}, err
	}
	for _, k := range sortedKeys(cfg.Labels) {
		c.Label = append(c.Label, k+"="+cfg.Labels[k])
	}
	c.LogDriver = hc.LogConfig.Type
	for _, k := range sortedKeys(hc.LogConfig.Config) {
		c.LogOpt = append(c.LogOpt, k+"="+hc.LogConfig.Config[k])
	}
	if len(cfg.Cmd) > 0 {
		c.Cmd = cfg.Cmd
	}
	return c, nil
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

// networkingOf maps the network mode, the primary network's endpoint (its
// address and aliases), the exposed and published ports to Create's
// Network, IP, Alias, Expose, Publish and PublishAll.
func networkingOf(c *verbs.Create, cfg *container.Config, hc *container.HostConfig, nc *network.NetworkingConfig) error {
	primary := primaryNetwork(hc, nc)
	c.Network = primary
	if nc != nil {
		for name, es := range nc.EndpointsConfig {
			if es == nil {
				continue
			}
			switch {
			case es.MacAddress != "" && name != primary:
				return errdefs.Invalid("network %s: a MAC address of one's choice is supported only on the first network (%s)", name, primary)
			case len(es.Links) > 0:
				return errdefs.Invalid("network %s: links are supported on the default bridge network only (containers on a user-defined network find each other by name)", name)
			}
			if name != primary {
				continue
			}
			conn, err := connectVerb("", es)
			if err != nil {
				return err
			}
			c.IP, c.Alias = conn.IP, conn.Alias
			if es.MacAddress != "" {
				c.MacAddress = es.MacAddress
			}
		}
	}
	c.Link = hc.Links // legacy links, NAME:ALIAS: the engine takes them on the default bridge
	for _, p := range sortedPorts(cfg.ExposedPorts) {
		if _, published := hc.PortBindings[p]; !published {
			c.Expose = append(c.Expose, string(p))
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
			c.Expose = append(c.Expose, string(p))
		}
		for _, b := range bindings {
			c.Publish = append(c.Publish, verbs.FormatPublish(p, b))
		}
	}
	c.PublishAll = hc.PublishAllPorts
	if c.MacAddress == "" {
		c.MacAddress = cfg.MacAddress // API < 1.44: the config's, for the first network
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

// storageOf maps Binds, Mounts, Tmpfs, VolumesFrom, VolumeDriver and the
// config's Volumes (anonymous ones, where no bind, mount or tmpfs covers
// the path) to Create's Volume, Mount, Tmpfs, VolumesFrom and
// VolumeDriver.
func storageOf(c *verbs.Create, cfg *container.Config, hc *container.HostConfig) error {
	covered := map[string]bool{}
	for _, b := range hc.Binds {
		parts := strings.Split(b, ":")
		dst := parts[0]
		if len(parts) > 1 {
			dst = parts[1]
		}
		covered[dst] = true
		c.Volume = append(c.Volume, b)
	}
	for _, m := range hc.Mounts {
		line, err := verbs.FormatMount(m)
		if err != nil {
			return err
		}
		covered[m.Target] = true
		c.Mount = append(c.Mount, line)
	}
	for _, dst := range sortedKeys(hc.Tmpfs) {
		covered[dst] = true
		c.Tmpfs = append(c.Tmpfs, verbs.FormatTmpfs(dst, hc.Tmpfs[dst]))
	}
	vols := make([]string, 0, len(cfg.Volumes))
	for dst := range cfg.Volumes {
		vols = append(vols, dst)
	}
	slices.Sort(vols)
	for _, dst := range vols {
		if !covered[dst] {
			c.Volume = append(c.Volume, dst)
		}
	}
	c.VolumesFrom = hc.VolumesFrom
	c.VolumeDriver = hc.VolumeDriver
	return nil
}

// orNone is list, or the one empty value that says "none" on a create line.
func orNone(list []string) []string {
	if len(list) == 0 {
		return []string{""}
	}
	return list
}
