package dockerapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/enginefs/enginefs/errdefs"
)

// statsInterval is how often a stats stream samples, as docker's collector.
const statsInterval = time.Second

// sample reads one containers/<id>/stats; a container that is not running
// has docker's empty sample.
func (s *Server) sample(ctx context.Context, ir *container.InspectResponse) (container.StatsResponse, error) {
	var st container.StatsResponse
	err := s.readJSON(ctx, "containers/"+ir.ID+"/stats", &st)
	if errors.Is(err, errdefs.ErrBusy) {
		return container.StatsResponse{Name: ir.Name, ID: ir.ID}, nil
	}
	return st, noSuchContainer(err, ir.ID)
}

// containerStats is GET /containers/{name}/stats: with stream (the
// default) a sample every second, each with the previous one's CPU
// figures; without, one sample that has them (taken a second after the
// first unless one-shot is set).
func (s *Server) containerStats(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	ir, err := s.inspect(ctx, r.PathValue("name"))
	if err != nil {
		return err
	}
	stream := r.URL.Query().Get("stream") == "" || boolValue(r, "stream")
	oneShot := boolValue(r, "one-shot")
	if oneShot && stream {
		return errdefs.Invalid("cannot have stream=true and one-shot=true")
	}
	cur, err := s.sample(ctx, ir)
	if err != nil {
		return err
	}
	if !stream {
		if !oneShot && cur.PreRead.IsZero() && !cur.Read.IsZero() {
			select {
			case <-time.After(statsInterval):
			case <-ctx.Done():
				return ctx.Err()
			}
			prev := cur
			if cur, err = s.sample(ctx, ir); err != nil {
				return err
			}
			cur.PreRead, cur.PreCPUStats = prev.Read, prev.CPUStats
		}
		return writeJSON(w, http.StatusOK, cur)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	var prev container.StatsResponse
	tick := time.NewTicker(statsInterval)
	defer tick.Stop()
	for {
		cur.PreRead, cur.PreCPUStats = prev.Read, prev.CPUStats
		if err := writeJSONBody(w, cur); err != nil {
			return err
		}
		flush(w)
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil
		}
		prev = cur
		if cur, err = s.sample(ctx, ir); err != nil {
			return err
		}
	}
}

// topContainer is GET /containers/{name}/top: the tree's top file, ps -ef
// columns, split into docker's titles and rows (the last column, the
// command, keeps its blanks).
func (s *Server) topContainer(w http.ResponseWriter, r *http.Request) error {
	ref := r.PathValue("name")
	if args := r.URL.Query().Get("ps_args"); args != "" && args != "-ef" {
		return errdefs.Invalid("ps_args %q: only the ps -ef columns are available", args)
	}
	data, err := s.read(r.Context(), "containers/"+ref+"/top")
	if err != nil {
		return noSuchContainer(err, ref)
	}
	return writeJSON(w, http.StatusOK, parseTop(string(data)))
}

// parseTop splits ps output: the titles are the first line's words, and
// each row has as many columns, the last taking the rest of the line.
func parseTop(text string) container.TopResponse {
	out := container.TopResponse{Titles: []string{}, Processes: [][]string{}}
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) == 0 || strings.TrimSpace(lines[0]) == "" {
		return out
	}
	out.Titles = strings.Fields(lines[0])
	n := len(out.Titles)
	for _, l := range lines[1:] {
		if strings.TrimSpace(l) == "" {
			continue
		}
		var row []string
		rest := strings.TrimLeft(l, " ")
		for len(row) < n-1 && rest != "" {
			i := strings.IndexByte(rest, ' ')
			if i < 0 {
				i = len(rest)
			}
			row = append(row, rest[:i])
			rest = strings.TrimLeft(rest[i:], " ")
		}
		row = append(row, strings.TrimRight(rest, " "))
		out.Processes = append(out.Processes, row)
	}
	return out
}
