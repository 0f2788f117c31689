package dockerapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/errdefs"
)

// Networks are networks/: list (docker's network ls), <name|id>/config
// (docker's network inspect), ctl (create, prune) and each network's ctl
// (connect, disconnect, rm).

func (s *Server) networkList(ctx context.Context) ([]network.Inspect, error) {
	var list []network.Inspect
	return list, s.readJSON(ctx, "networks/list", &list)
}

// predefinedNetwork says whether a network is one of docker's own.
func predefinedNetwork(name string) bool {
	return name == "bridge" || name == "host" || name == "none"
}

// networkFilters are the filters of GET /networks and POST /networks/prune.
var networkFilters = map[string]bool{"name": true, "id": true, "driver": true, "label": true, "type": true, "scope": true, "dangling": true}

// matchNetwork applies docker's network filters to one network.
func matchNetwork(f filters.Args, n network.Inspect) (bool, error) {
	if f.Contains("name") && !f.Match("name", n.Name) {
		return false, nil
	}
	if f.Contains("id") && !f.Match("id", n.ID) {
		return false, nil
	}
	if f.Contains("driver") && !f.ExactMatch("driver", n.Driver) {
		return false, nil
	}
	if f.Contains("label") && !f.MatchKVList("label", n.Labels) {
		return false, nil
	}
	if f.Contains("scope") && !f.ExactMatch("scope", n.Scope) {
		return false, nil
	}
	for _, typ := range f.Get("type") {
		if typ != "custom" && typ != "builtin" {
			return false, errdefs.Invalid("invalid filter: 'type'='%s'", typ)
		}
	}
	if f.Contains("type") && !f.ExactMatch("type", map[bool]string{true: "builtin", false: "custom"}[predefinedNetwork(n.Name)]) {
		return false, nil
	}
	if f.Contains("dangling") {
		want, err := f.GetBoolOrDefault("dangling", false)
		if err != nil {
			return false, errdefs.Invalid("%v", err)
		}
		if want != (!predefinedNetwork(n.Name) && len(n.Containers) == 0) {
			return false, nil
		}
	}
	return true, nil
}

// listNetworks is GET /networks.
func (s *Server) listNetworks(w http.ResponseWriter, r *http.Request) error {
	f, err := filters.FromJSON(r.URL.Query().Get("filters"))
	if err != nil {
		return errdefs.Invalid("%v", err)
	}
	if err := f.Validate(networkFilters); err != nil {
		return errdefs.Invalid("%v", err)
	}
	list, err := s.networkList(r.Context())
	if err != nil {
		return err
	}
	out := []network.Inspect{}
	for _, n := range list {
		ok, err := matchNetwork(f, n)
		if err != nil {
			return err
		}
		if ok {
			out = append(out, n)
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// inspectNetwork is GET /networks/{id}.
func (s *Server) inspectNetwork(w http.ResponseWriter, r *http.Request) error {
	var n network.Inspect
	if err := s.readJSON(r.Context(), "networks/"+r.PathValue("id")+"/config", &n); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, n)
}

// createNetwork is POST /networks/create: networks/ctl's create. One IPv4
// subnet (with its gateway) is what the tree's networks take; what it
// cannot do (IPv6, swarm scopes) is refused, naming the field.
func (s *Server) createNetwork(w http.ResponseWriter, r *http.Request) error {
	var req network.CreateRequest
	if err := decodeBody(r, &req, true); err != nil {
		return err
	}
	if req.Name == "" {
		return errdefs.Invalid("network create: the Name is empty")
	}
	c := verbs.NetworkCreate{Name: req.Name, Driver: req.Driver, Internal: req.Internal}
	switch {
	case req.EnableIPv6 != nil && *req.EnableIPv6:
		return errdefs.Invalid("network %s: IPv6 (EnableIPv6) is not supported", req.Name)
	case req.EnableIPv4 != nil && !*req.EnableIPv4:
		return errdefs.Invalid("network %s: networks without IPv4 (EnableIPv4=false) are not supported", req.Name)
	case req.Scope != "" && req.Scope != "local":
		return errdefs.Invalid("network %s: scope %q is not supported (local only)", req.Name, req.Scope)
	case req.Ingress || req.ConfigOnly || req.ConfigFrom != nil:
		return errdefs.Invalid("network %s: swarm networks (Ingress, ConfigOnly, ConfigFrom) are not supported", req.Name)
	}
	if ipam := req.IPAM; ipam != nil {
		if ipam.Driver != "" && ipam.Driver != "default" {
			return errdefs.Invalid("network %s: IPAM driver %q is not supported (default only)", req.Name, ipam.Driver)
		}
		if len(ipam.Options) > 0 {
			return errdefs.Invalid("network %s: IPAM options are not supported", req.Name)
		}
		switch len(ipam.Config) {
		case 0:
		case 1:
			cfg := ipam.Config[0]
			if cfg.Subnet == "" && cfg.Gateway != "" {
				return errdefs.Invalid("network %s: a gateway needs a subnet", req.Name)
			}
			c.Subnet, c.Gateway, c.IPRange = cfg.Subnet, cfg.Gateway, cfg.IPRange
			for _, name := range sortedKeys(cfg.AuxAddress) {
				c.Aux = append(c.Aux, name+"="+cfg.AuxAddress[name])
			}
		default:
			return errdefs.Invalid("network %s: %d IPAM configs: one IPv4 subnet is supported", req.Name, len(ipam.Config))
		}
	}
	for _, k := range sortedKeys(req.Options) {
		c.Opt = append(c.Opt, k+"="+req.Options[k])
	}
	for _, k := range sortedKeys(req.Labels) {
		c.Label = append(c.Label, k+"="+req.Labels[k])
	}
	id, err := s.command(r.Context(), "networks/ctl", verbs.Line(c))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, network.CreateResponse{ID: strings.TrimSpace(id)})
}

// removeNetwork is DELETE /networks/{id}.
func (s *Server) removeNetwork(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.command(r.Context(), "networks/"+r.PathValue("id")+"/ctl", verbs.Line(verbs.NetworkDirRm{})); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// connectNetwork is POST /networks/{id}/connect: the network's connect
// with the endpoint's IPv4 address and aliases.
func (s *Server) connectNetwork(w http.ResponseWriter, r *http.Request) error {
	var req network.ConnectOptions
	if err := decodeBody(r, &req, true); err != nil {
		return err
	}
	if err := checkConnectEndpoint(req.Container, req.EndpointConfig); err != nil {
		return err
	}
	conn, err := connectVerb(req.Container, req.EndpointConfig)
	if err != nil {
		return err
	}
	if err := s.networkCtl(r.Context(), r.PathValue("id"), req.Container, conn); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// connectVerb is the connect line of a container and its endpoint
// settings.
func connectVerb(ctr string, es *network.EndpointSettings) (verbs.NetworkConnect, error) {
	conn := verbs.NetworkConnect{Container: ctr}
	if es == nil {
		return conn, nil
	}
	if c := es.IPAMConfig; c != nil {
		if c.IPv6Address != "" || len(c.LinkLocalIPs) > 0 {
			return conn, errdefs.Invalid("endpoint of %s: IPv6 and link-local addresses are not supported", ctr)
		}
		conn.IP = c.IPv4Address
	}
	conn.Alias = es.Aliases
	return conn, nil
}

// networkCtl writes a connect or disconnect of container ctr on a
// network's ctl: a container that is not there is docker's "No such
// container".
func (s *Server) networkCtl(ctx context.Context, netRef, ctr string, v verbs.Verb) error {
	if ctr == "" {
		return errdefs.Invalid("no container given (Container)")
	}
	if _, err := s.status(ctx, ctr); err != nil {
		return err
	}
	_, err := s.command(ctx, "networks/"+netRef+"/ctl", verbs.Line(v))
	return err
}

// disconnectNetwork is POST /networks/{id}/disconnect. Force, which
// dockerd uses to clean up after containers it lost, has nothing to do
// here: the engine's attachments live and die with the containers.
func (s *Server) disconnectNetwork(w http.ResponseWriter, r *http.Request) error {
	var req network.DisconnectOptions
	if err := decodeBody(r, &req, true); err != nil {
		return err
	}
	if err := s.networkCtl(r.Context(), r.PathValue("id"), req.Container, verbs.NetworkDisconnect{Container: req.Container}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// pruneNetworks is POST /networks/prune: networks/ctl's prune or, with
// filters (label, until), the removal of each unused user-defined network
// that matches.
func (s *Server) pruneNetworks(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	f, err := filters.FromJSON(r.URL.Query().Get("filters"))
	if err != nil {
		return errdefs.Invalid("%v", err)
	}
	if err := f.Validate(map[string]bool{"label": true, "label!": true, "until": true}); err != nil {
		return errdefs.Invalid("%v", err)
	}
	report := network.PruneReport{NetworksDeleted: []string{}}
	if f.Len() == 0 {
		reply, err := s.command(ctx, "networks/ctl", verbs.Line(verbs.NetworkPrune{}))
		if err != nil {
			return err
		}
		report.NetworksDeleted = append(report.NetworksDeleted, strings.Fields(reply)...)
		return writeJSON(w, http.StatusOK, report)
	}
	until, err := untilFilter(f)
	if err != nil {
		return err
	}
	list, err := s.networkList(ctx)
	if err != nil {
		return err
	}
	for _, n := range list {
		if predefinedNetwork(n.Name) || !matchPruneLabels(f, n.Labels) || (!until.IsZero() && n.Created.After(until)) {
			continue
		}
		if _, err := s.command(ctx, "networks/"+n.ID+"/ctl", verbs.Line(verbs.NetworkDirRm{})); err != nil {
			if errors.Is(err, errdefs.ErrBusy) || errors.Is(err, errdefs.ErrNotFound) {
				continue // in use, or gone meanwhile
			}
			return err
		}
		report.NetworksDeleted = append(report.NetworksDeleted, n.Name)
	}
	return writeJSON(w, http.StatusOK, report)
}

// untilFilter reads the until filter of a prune: a time, or a duration
// before now.
func untilFilter(f filters.Args) (time.Time, error) {
	vals := f.Get("until")
	if len(vals) == 0 {
		return time.Time{}, nil
	}
	if len(vals) > 1 {
		return time.Time{}, errdefs.Invalid("more than one until filter")
	}
	if d, err := time.ParseDuration(vals[0]); err == nil {
		return time.Now().Add(-d), nil
	}
	return parseTime(vals[0])
}

// matchPruneLabels applies the label and label! filters of a prune.
func matchPruneLabels(f filters.Args, labels map[string]string) bool {
	if f.Contains("label") && !f.MatchKVList("label", labels) {
		return false
	}
	if f.Contains("label!") && f.MatchKVList("label!", labels) {
		return false
	}
	return true
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
