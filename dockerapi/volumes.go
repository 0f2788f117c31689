package dockerapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/errdefs"
)

// Volumes are volumes/: list (docker's volume documents), usage (the same
// with their sizes), <name>/config (docker's volume inspect), ctl (create,
// prune) and each volume's ctl (rm).

func (s *Server) volumeList(ctx context.Context, file string) ([]*volume.Volume, error) {
	var list []*volume.Volume
	return list, s.readJSON(ctx, "volumes/"+file, &list)
}

// volumeFilters are the filters of GET /volumes.
var volumeFilters = map[string]bool{"name": true, "driver": true, "label": true, "dangling": true}

// matchVolume applies docker's volume filters to one volume.
func matchVolume(f filters.Args, v *volume.Volume) (bool, error) {
	if f.Contains("name") && !f.Match("name", v.Name) {
		return false, nil
	}
	if f.Contains("driver") && !f.ExactMatch("driver", v.Driver) {
		return false, nil
	}
	if f.Contains("label") && !f.MatchKVList("label", v.Labels) {
		return false, nil
	}
	if f.Contains("dangling") {
		want, err := f.GetBoolOrDefault("dangling", false)
		if err != nil {
			return false, errdefs.Invalid("%v", err)
		}
		if want != (v.UsageData == nil || v.UsageData.RefCount == 0) {
			return false, nil
		}
	}
	return true, nil
}

// listVolumes is GET /volumes.
func (s *Server) listVolumes(w http.ResponseWriter, r *http.Request) error {
	f, err := filters.FromJSON(r.URL.Query().Get("filters"))
	if err != nil {
		return errdefs.Invalid("%v", err)
	}
	if err := f.Validate(volumeFilters); err != nil {
		return errdefs.Invalid("%v", err)
	}
	list, err := s.volumeList(r.Context(), "list")
	if err != nil {
		return err
	}
	out := volume.ListResponse{Volumes: []*volume.Volume{}, Warnings: []string{}}
	for _, v := range list {
		ok, err := matchVolume(f, v)
		if err != nil {
			return err
		}
		if ok {
			out.Volumes = append(out.Volumes, v)
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// inspectVolume is GET /volumes/{name}.
func (s *Server) inspectVolume(w http.ResponseWriter, r *http.Request) error {
	var v volume.Volume
	if err := s.readJSON(r.Context(), "volumes/"+r.PathValue("name")+"/config", &v); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

// createVolume is POST /volumes/create: volumes/ctl's create, answered
// with the new (or existing) volume's document.
func (s *Server) createVolume(w http.ResponseWriter, r *http.Request) error {
	var req volume.CreateOptions
	if err := decodeBody(r, &req, false); err != nil {
		return err
	}
	if req.ClusterVolumeSpec != nil {
		return errdefs.Invalid("cluster volumes (ClusterVolumeSpec) are not supported")
	}
	c := verbs.VolumeCreate{Name: req.Name, Driver: req.Driver}
	for _, k := range sortedKeys(req.DriverOpts) {
		c.Opt = append(c.Opt, k+"="+req.DriverOpts[k])
	}
	for _, k := range sortedKeys(req.Labels) {
		c.Label = append(c.Label, k+"="+req.Labels[k])
	}
	ctx := r.Context()
	name, err := s.command(ctx, "volumes/ctl", verbs.Line(c))
	if err != nil {
		return err
	}
	var v volume.Volume
	if err := s.readJSON(ctx, "volumes/"+strings.TrimSpace(name)+"/config", &v); err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, v)
}

// removeVolume is DELETE /volumes/{name}?force=: the volume's rm. With
// force a volume that is not there is no error, as in docker; a volume in
// use is docker's 409 naming the containers.
func (s *Server) removeVolume(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := r.PathValue("name")
	if _, err := s.command(ctx, "volumes/"+name+"/ctl", verbs.Line(verbs.VolumeDirRm{})); err != nil {
		switch {
		case errors.Is(err, errdefs.ErrNotFound) && boolValue(r, "force"):
		case errors.Is(err, errdefs.ErrBusy):
			return s.volumeInUse(ctx, name, err)
		default:
			return err
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// volumeInUse words the tree's busy error as dockerd does: "remove NAME:
// volume is in use - [CONTAINER ID, ...]".
func (s *Server) volumeInUse(ctx context.Context, name string, err error) error {
	var ctrs []listEntry
	if s.readJSON(ctx, "containers/list", &ctrs) != nil {
		return err
	}
	var ids []string
	for _, c := range ctrs {
		for _, m := range c.Mounts {
			if m.Type == "volume" && m.Name == name {
				ids = append(ids, c.ID)
				break
			}
		}
	}
	if len(ids) == 0 {
		return err
	}
	return errdefs.Busy("remove %s: volume is in use - [%s]", name, strings.Join(ids, ", "))
}

// pruneVolumes is POST /volumes/prune: the unused anonymous volumes (with
// the filter all=true every unused volume) that match the label filters;
// the space reclaimed is their size (volumes/usage) before.
func (s *Server) pruneVolumes(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	f, err := filters.FromJSON(r.URL.Query().Get("filters"))
	if err != nil {
		return errdefs.Invalid("%v", err)
	}
	if err := f.Validate(map[string]bool{"label": true, "label!": true, "all": true}); err != nil {
		return errdefs.Invalid("%v", err)
	}
	all, err := f.GetBoolOrDefault("all", false)
	if err != nil {
		return errdefs.Invalid("%v", err)
	}
	list, err := s.volumeList(ctx, "usage")
	if err != nil {
		return err
	}
	report := volume.PruneReport{VolumesDeleted: []string{}}
	for _, v := range list {
		_, anonymous := v.Labels["com.docker.volume.anonymous"]
		if (!all && !anonymous) || (v.UsageData != nil && v.UsageData.RefCount > 0) || !matchPruneLabels(f, v.Labels) {
			continue
		}
		if _, err := s.command(ctx, "volumes/"+v.Name+"/ctl", verbs.Line(verbs.VolumeDirRm{})); err != nil {
			if errors.Is(err, errdefs.ErrBusy) || errors.Is(err, errdefs.ErrNotFound) {
				continue // taken, or gone meanwhile
			}
			return err
		}
		report.VolumesDeleted = append(report.VolumesDeleted, v.Name)
		if v.UsageData != nil && v.UsageData.Size > 0 {
			report.SpaceReclaimed += uint64(v.UsageData.Size)
		}
	}
	return writeJSON(w, http.StatusOK, report)
}
