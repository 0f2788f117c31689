package dockerapi

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

// ctl writes one command to a container's ctl; a container that is not
// there is docker's "No such container".
func (s *Server) ctl(ctx context.Context, ref string, v verbs.Verb) error {
	h, err := s.tree.Open(ctx, "containers/"+ref+"/ctl", os.O_RDWR)
	if err != nil {
		return noSuchContainer(err, ref)
	}
	defer h.Close()
	_, err = fs.WriteCommand(ctx, h, verbs.Line(v))
	return err
}

// status returns the first word of containers/<ref>/status: created,
// running, paused, restarting or exited.
func (s *Server) status(ctx context.Context, ref string) (string, error) {
	data, err := s.read(ctx, "containers/"+ref+"/status")
	if err != nil {
		return "", noSuchContainer(err, ref)
	}
	word, _, _ := strings.Cut(strings.TrimSpace(string(data)), " ")
	return word, nil
}

func live(status string) bool { return status == "running" || status == "paused" }

// ctlVerb is an endpoint that writes one argument-less verb (pause, resume).
func (s *Server) ctlVerb(v verbs.Verb) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := s.ctl(r.Context(), r.PathValue("name"), v); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// startContainer is POST /containers/{name}/start; a running container is
// 304, as in docker.
func (s *Server) startContainer(w http.ResponseWriter, r *http.Request) error {
	ref := r.PathValue("name")
	st, err := s.status(r.Context(), ref)
	if err != nil {
		return err
	}
	if live(st) {
		return errNotModified
	}
	if err := s.ctl(r.Context(), ref, verbs.ContainerStart{}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// timeoutArg reads ?t= (seconds; -1 waits for ever) as the SECONDS of
// stop and restart.
func timeoutArg(r *http.Request) (string, error) {
	v := r.URL.Query().Get("t")
	if v == "" {
		return "", nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < -1 {
		return "", errdefs.Invalid("invalid timeout %q", v)
	}
	return strconv.Itoa(n), nil
}

// stopContainer is POST /containers/{name}/stop; a stopped container is 304.
func (s *Server) stopContainer(w http.ResponseWriter, r *http.Request) error {
	ref := r.PathValue("name")
	secs, err := timeoutArg(r)
	if err != nil {
		return err
	}
	st, err := s.status(r.Context(), ref)
	if err != nil {
		return err
	}
	if !live(st) && st != "restarting" {
		return errNotModified
	}
	stop := verbs.ContainerStop{Seconds: secs, Signal: r.URL.Query().Get("signal")} // signal: API 1.42, docker stop --signal
	if err := s.ctl(r.Context(), ref, stop); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// restartContainer is POST /containers/{name}/restart.
func (s *Server) restartContainer(w http.ResponseWriter, r *http.Request) error {
	secs, err := timeoutArg(r)
	if err != nil {
		return err
	}
	if err := s.ctl(r.Context(), r.PathValue("name"), verbs.ContainerRestart{Seconds: secs}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// killContainer is POST /containers/{name}/kill?signal=.
func (s *Server) killContainer(w http.ResponseWriter, r *http.Request) error {
	if err := s.ctl(r.Context(), r.PathValue("name"), verbs.ContainerKill{Signal: r.URL.Query().Get("signal")}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// renameContainer is POST /containers/{name}/rename?name=.
func (s *Server) renameContainer(w http.ResponseWriter, r *http.Request) error {
	name := strings.TrimPrefix(r.URL.Query().Get("name"), "/")
	if name == "" {
		return errdefs.Invalid("rename: no new name given (name=)")
	}
	if err := s.ctl(r.Context(), r.PathValue("name"), verbs.ContainerRename{Name: name}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// sizeArgs reads ?h=&w= as the ROWS COLS of resize.
func sizeArgs(r *http.Request) (rows, cols string, err error) {
	var out [2]string
	for i, k := range []string{"h", "w"} {
		v := r.URL.Query().Get(k)
		if n, err := strconv.ParseUint(v, 10, 16); err != nil || n == 0 {
			return "", "", errdefs.Invalid("invalid resize %s %q", map[string]string{"h": "height", "w": "width"}[k], v)
		}
		out[i] = v
	}
	return out[0], out[1], nil
}

// resizeContainer is POST /containers/{name}/resize?h=&w=.
func (s *Server) resizeContainer(w http.ResponseWriter, r *http.Request) error {
	rows, cols, err := sizeArgs(r)
	if err != nil {
		return err
	}
	if err := s.ctl(r.Context(), r.PathValue("name"), verbs.ContainerResize{Rows: rows, Cols: cols}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// removeContainer is DELETE /containers/{name}?force=&v=: v removes the
// container's anonymous volumes too.
func (s *Server) removeContainer(w http.ResponseWriter, r *http.Request) error {
	if boolValue(r, "link") {
		return errdefs.Invalid("links are not supported")
	}
	rm := verbs.ContainerRm{Force: boolValue(r, "force"), Volumes: boolValue(r, "v")}
	if err := s.ctl(r.Context(), r.PathValue("name"), rm); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// waitContainer is POST /containers/{name}/wait?condition=: it answers its
// headers at once (the CLI starts the container only then) and the exit
// code once the condition holds. not-running answers at once for a
// container that is not running; next-exit waits for the run the container
// is in or, not started yet, its next one (the tree's wait file); removed
// also waits for the container to be gone.
func (s *Server) waitContainer(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	ref := r.PathValue("name")
	cond := container.WaitCondition(r.URL.Query().Get("condition"))
	switch cond {
	case "", container.WaitConditionNotRunning, container.WaitConditionNextExit, container.WaitConditionRemoved:
	default:
		return errdefs.Invalid("invalid condition: %q", cond)
	}
	var result func() (int, error)
	st, err := s.status(ctx, ref)
	if err != nil {
		return err
	}
	if (cond == "" || cond == container.WaitConditionNotRunning) && st != "running" && st != "paused" && st != "restarting" {
		ir, err := s.inspect(ctx, ref)
		if err != nil {
			return err
		}
		code := ir.State.ExitCode
		result = func() (int, error) { return code, nil }
	} else {
		// wait ends with the current (or first) run; wait.next also
		// waits for the next run of a container that has exited.
		file := "wait"
		if st == "exited" {
			file = "wait.next"
		}
		wait, err := s.tree.Open(ctx, "containers/"+ref+"/"+file, os.O_RDONLY)
		if err != nil {
			return noSuchContainer(err, ref)
		}
		defer wait.Close()
		result = func() (int, error) {
			data, err := fs.ReadHandle(ctx, wait)
			if err != nil {
				return 0, err
			}
			return strconv.Atoi(strings.TrimSpace(string(data)))
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flush(w)
	code, err := result()
	if err == nil && cond == container.WaitConditionRemoved {
		err = s.waitGone(ctx, ref)
	}
	resp := container.WaitResponse{StatusCode: int64(code)}
	if err != nil {
		if ctx.Err() != nil {
			return err // the client left
		}
		resp.Error = &container.WaitExitError{Message: err.Error()}
	}
	return writeJSONBody(w, resp)
}

// waitGone waits until the container is removed. An auto-removed container
// is gone by the time its wait file answers; others are polled.
func (s *Server) waitGone(ctx context.Context, ref string) error {
	for {
		if _, err := s.status(ctx, ref); errors.Is(err, errdefs.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
