package dockerapi

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/storage"
	"github.com/docker/go-connections/nat"

	"github.com/enginefs/enginefs/errdefs"
)

// inspect reads containers/<ref>/inspect, whose fields are docker's, into
// docker's type, and gives what the tree does not say docker's defaults.
func (s *Server) inspect(ctx context.Context, ref string) (*container.InspectResponse, error) {
	data, err := s.read(ctx, "containers/"+ref+"/inspect")
	if err != nil {
		return nil, noSuchContainer(err, ref)
	}
	ir := &container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{}}
	if err := json.Unmarshal(data, ir); err != nil {
		return nil, errdefs.Unavailable("containers/%s/inspect: %v", ref, err)
	}
	b := ir.ContainerJSONBase
	if b.State == nil {
		b.State = &container.State{}
	}
	if b.HostConfig == nil {
		b.HostConfig = &container.HostConfig{}
	}
	hc := b.HostConfig
	if hc.RestartPolicy.Name == "" {
		hc.RestartPolicy.Name = container.RestartPolicyDisabled
	}
	if hc.NetworkMode == "" {
		hc.NetworkMode = "default"
	}
	if hc.CgroupnsMode == "" {
		hc.CgroupnsMode = container.CgroupnsModeHost // the runtimes make no cgroup namespace
	}
	if hc.LogConfig.Type == "" {
		hc.LogConfig = container.LogConfig{Type: "json-file", Config: map[string]string{}}
	}
	if b.GraphDriver.Name == "" {
		b.GraphDriver = storage.DriverData{Name: "overlay", Data: map[string]string{}}
	}
	if ir.Config == nil {
		ir.Config = &container.Config{}
	}
	if ir.Config.Labels == nil {
		ir.Config.Labels = map[string]string{}
	}
	if ir.Mounts == nil {
		ir.Mounts = []container.MountPoint{}
	}
	if ir.NetworkSettings == nil {
		ir.NetworkSettings = &container.NetworkSettings{}
	}
	if ir.NetworkSettings.Networks == nil {
		ir.NetworkSettings.Networks = map[string]*network.EndpointSettings{}
	}
	if ir.NetworkSettings.Ports == nil {
		ir.NetworkSettings.Ports = nat.PortMap{}
	}
	if ents, err := s.tree.ReadDir(ctx, "containers/"+b.ID+"/exec"); err == nil {
		for _, e := range ents {
			if e.Mode.IsDir() {
				b.ExecIDs = append(b.ExecIDs, execID(b.ID, e.Name))
			}
		}
	}
	return ir, nil
}

// inspectContainer is GET /containers/{name}/json.
func (s *Server) inspectContainer(w http.ResponseWriter, r *http.Request) error {
	ir, err := s.inspect(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	if boolValue(r, "size") {
		rw, rootfs, err := s.containerSize(r.Context(), ir.ID)
		if err != nil {
			return err
		}
		ir.SizeRw, ir.SizeRootFs = &rw, &rootfs
	}
	return writeJSON(w, http.StatusOK, ir)
}

// listEntry is an element of containers/list: docker's summary plus the
// exit code, which the exited filter needs.
type listEntry struct {
	container.Summary
	ExitCode int
	// Health is the health status, "none" without a health check.
	Health string
}

// psFilters are the filters of GET /containers/json that the bridge applies.
var psFilters = map[string]bool{"status": true, "name": true, "id": true, "label": true, "ancestor": true, "exited": true, "health": true}

// listContainers is GET /containers/json: the tree's list, filtered as
// docker filters it, newest first.
func (s *Server) listContainers(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f, err := filters.FromJSON(q.Get("filters"))
	if err != nil {
		return errdefs.Invalid("%v", err)
	}
	if err := f.Validate(psFilters); err != nil {
		return errdefs.Invalid("%v", err)
	}
	for _, st := range f.Get("status") {
		switch st {
		case "created", "restarting", "running", "removing", "paused", "exited", "dead":
		default:
			return errdefs.Invalid("invalid filter 'status=%s'", st)
		}
	}
	for _, h := range f.Get("health") {
		if err := container.ValidateHealthStatus(h); err != nil {
			return errdefs.Invalid("Unrecognised filter value for health: %s", h)
		}
	}
	limit := -1
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil {
			return errdefs.Invalid("invalid limit %q", v)
		}
	}
	all := boolValue(r, "all") || limit > 0
	size := boolValue(r, "size")
	var list []listEntry
	if err := s.readJSON(r.Context(), "containers/list", &list); err != nil {
		return err
	}
	slices.Reverse(list)
	out := []container.Summary{}
	for _, c := range list {
		st := string(c.State)
		if !all && st != "running" && st != "paused" && st != "restarting" && !f.Contains("status") {
			continue
		}
		if !matchContainer(f, c) {
			continue
		}
		sum := c.Summary
		if sum.Ports == nil {
			sum.Ports = []container.Port{}
		}
		if sum.Mounts == nil {
			sum.Mounts = []container.MountPoint{}
		}
		if sum.Labels == nil {
			sum.Labels = map[string]string{}
		}
		if sum.HostConfig.NetworkMode == "" {
			sum.HostConfig.NetworkMode = "default"
		}
		if sum.NetworkSettings == nil {
			sum.NetworkSettings = &container.NetworkSettingsSummary{Networks: map[string]*network.EndpointSettings{}}
		}
		if size {
			if sum.SizeRw, sum.SizeRootFs, err = s.containerSize(r.Context(), sum.ID); err != nil {
				continue // removed meanwhile
			}
		}
		out = append(out, sum)
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// matchContainer applies docker ps's filters to one container.
func matchContainer(f filters.Args, c listEntry) bool {
	if f.Contains("status") && !f.ExactMatch("status", string(c.State)) {
		return false
	}
	if f.Contains("health") && !f.ExactMatch("health", firstNonEmpty(c.Health, container.NoHealthcheck)) {
		return false
	}
	if f.Contains("id") && !f.Match("id", c.ID) {
		return false
	}
	if f.Contains("name") {
		ok := false
		for _, n := range c.Names {
			ok = ok || f.Match("name", n) || f.Match("name", strings.TrimPrefix(n, "/"))
		}
		if !ok {
			return false
		}
	}
	if f.Contains("label") && !f.MatchKVList("label", c.Labels) {
		return false
	}
	if f.Contains("exited") {
		if c.State != "exited" || !f.ExactMatch("exited", strconv.Itoa(c.ExitCode)) {
			return false
		}
	}
	if f.Contains("ancestor") {
		ok := false
		for _, a := range f.Get("ancestor") {
			ok = ok || sameImage(a, c.Image) || (len(a) >= 4 && strings.HasPrefix(strings.TrimPrefix(c.ImageID, "sha256:"), strings.TrimPrefix(a, "sha256:")))
		}
		if !ok {
			return false
		}
	}
	return true
}
