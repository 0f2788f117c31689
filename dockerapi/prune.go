package dockerapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/errdefs"
)

// pruneContainers is POST /containers/prune (docker container prune, and
// so docker system prune): containers/ctl's prune with the filters until,
// label and label!; the reply's sizes sum to SpaceReclaimed.
func (s *Server) pruneContainers(w http.ResponseWriter, r *http.Request) error {
	f, err := filters.FromJSON(r.URL.Query().Get("filters"))
	if err != nil {
		return errdefs.Invalid("%v", err)
	}
	if err := f.Validate(map[string]bool{"label": true, "label!": true, "until": true}); err != nil {
		return errdefs.Invalid("%v", err)
	}
	until, err := untilFilter(f)
	if err != nil {
		return err
	}
	v := verbs.ContainerPrune{Label: f.Get("label"), LabelNot: f.Get("label!")}
	if !until.IsZero() {
		v.Until = fmt.Sprintf("%d.%09d", until.Unix(), until.Nanosecond())
	}
	reply, err := s.command(r.Context(), "containers/ctl", verbs.Line(v))
	if err != nil {
		return err
	}
	var report container.PruneReport
	for _, line := range strings.Split(strings.TrimSpace(reply), "\n") {
		id, size, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		report.ContainersDeleted = append(report.ContainersDeleted, id)
		n, _ := strconv.ParseUint(size, 10, 64)
		report.SpaceReclaimed += n
	}
	return writeJSON(w, http.StatusOK, report)
}

// containerSize reads containers/<id>/size: docker's SizeRw and SizeRootFs.
func (s *Server) containerSize(ctx context.Context, id string) (rw, rootfs int64, err error) {
	var sz struct{ SizeRw, SizeRootFs int64 }
	if err := s.readJSON(ctx, "containers/"+id+"/size", &sz); err != nil {
		return 0, 0, noSuchContainer(err, id)
	}
	return sz.SizeRw, sz.SizeRootFs, nil
}
