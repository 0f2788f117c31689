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
// command, keeps its blanks). ps_args may ask for -ef (-e, -f) or for
// columns of those with -o (pid, ppid, user, comm, args, ...).
func (s *Server) topContainer(w http.ResponseWriter, r *http.Request) error {
	ref := r.PathValue("name")
	cols, err := psColumns(r.URL.Query().Get("ps_args"))
	if err != nil {
		return err
	}
	data, err := s.read(r.Context(), "containers/"+ref+"/top")
	if err != nil {
		return noSuchContainer(err, ref)
	}
	top := parseTop(string(data))
	if cols != nil {
		top = selectColumns(top, cols)
	}
	return writeJSON(w, http.StatusOK, top)
}

// psColumn is a column of ps -o: its title and how it is made from the
// ps -ef row (the index of a column, or the command's first word).
type psColumn struct {
	title string
	from  string // a ps -ef title
	comm  bool   // the command's name only
}

// psColumns is the ps -o format names the top file can answer.
var psColumnNames = map[string]psColumn{
	"pid": {"PID", "PID", false}, "ppid": {"PPID", "PPID", false},
	"user": {"USER", "UID", false}, "uid": {"UID", "UID", false}, "euser": {"EUSER", "UID", false},
	"comm": {"COMMAND", "CMD", true}, "ucomm": {"COMMAND", "CMD", true},
	"args": {"COMMAND", "CMD", false}, "cmd": {"CMD", "CMD", false}, "command": {"COMMAND", "CMD", false},
	"tty": {"TT", "TTY", false}, "time": {"TIME", "TIME", false}, "stime": {"STIME", "STIME", false},
	"start": {"STIME", "STIME", false}, "c": {"C", "C", false},
}

// psColumns reads ps_args: nil for the ps -ef columns, else those -o
// names. Anything else is a 400 naming what is available.
func psColumns(args string) ([]psColumn, error) {
	fields := strings.Fields(args)
	var cols []psColumn
	bad := func(w string) error {
		return errdefs.Invalid("ps_args %q: %q is not available: the top of a container answers -ef or -o with pid, ppid, user, uid, comm, args, cmd, tty, time, stime or c", args, w)
	}
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		switch {
		case f == "-e" || f == "-f" || f == "-ef" || f == "-fe" || f == "-A":
		case f == "-o" || strings.HasPrefix(f, "-o"):
			list := strings.TrimPrefix(f, "-o")
			if list == "" {
				if i+1 == len(fields) {
					return nil, bad(f)
				}
				i++
				list = fields[i]
			}
			for _, name := range strings.Split(list, ",") {
				name, title, hasTitle := strings.Cut(name, "=")
				c, ok := psColumnNames[strings.ToLower(name)]
				if !ok {
					return nil, bad(name)
				}
				if hasTitle {
					c.title = title
				}
				cols = append(cols, c)
			}
		default:
			return nil, bad(f)
		}
	}
	return cols, nil
}

// selectColumns makes the -o columns of a ps -ef listing.
func selectColumns(top container.TopResponse, cols []psColumn) container.TopResponse {
	out := container.TopResponse{Titles: []string{}, Processes: [][]string{}}
	idx := map[string]int{}
	for i, t := range top.Titles {
		idx[t] = i
	}
	for _, c := range cols {
		out.Titles = append(out.Titles, c.title)
	}
	for _, p := range top.Processes {
		row := make([]string, 0, len(cols))
		for _, c := range cols {
			v := ""
			if i, ok := idx[c.from]; ok && i < len(p) {
				v = p[i]
			}
			if c.comm {
				v, _, _ = strings.Cut(v, " ")
				v = v[strings.LastIndex(v, "/")+1:]
			}
			row = append(row, v)
		}
		out.Processes = append(out.Processes, row)
	}
	return out
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
