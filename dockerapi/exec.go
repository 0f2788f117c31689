package dockerapi

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/backend"
	"github.com/docker/docker/api/types/container"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/detachkeys"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

// Exec ids. The tree numbers the execs of each container
// (containers/<id>/exec/<n>); docker's exec ids are global, 64 hex digits.
// The bridge's id is the first 56 digits of the container's id and the
// exec's number in 8, so it names the tree's directory without any table.

// execID is docker's id of exec n of container cid.
func execID(cid, n string) string {
	num, err := strconv.ParseUint(n, 10, 32)
	if err != nil || len(cid) < 56 {
		return cid + "-" + n
	}
	return cid[:56] + fmt.Sprintf("%08x", num)
}

// execDir returns the tree directory of a docker exec id, ending in "/".
func (s *Server) execDir(ctx context.Context, id string) (string, error) {
	notFound := errdefs.NotFound("No such exec instance: %s", id)
	if len(id) != 64 || strings.Trim(id, "0123456789abcdef") != "" {
		return "", notFound
	}
	num, err := strconv.ParseUint(id[56:], 16, 32)
	if err != nil {
		return "", notFound
	}
	dir := "containers/" + id[:56] + "/exec/" + strconv.FormatUint(num, 10) + "/"
	if _, err := s.tree.ReadDir(ctx, dir); err != nil {
		return "", notFound
	}
	return dir, nil
}

// execConfig is containers/<id>/exec/<n>/config.
type execConfig struct {
	Cmd        []string
	Env        []string
	User       string
	WorkingDir string
	Tty        bool
	OpenStdin  bool
}

// createExec is POST /containers/{name}/exec: a new exec through the
// container's exec/clone, configured with a create line.
func (s *Server) createExec(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var opts container.ExecOptions
	if err := decodeBody(r, &opts, true); err != nil {
		return err
	}
	if len(opts.Cmd) == 0 {
		return errdefs.Invalid("No exec command specified")
	}
	if opts.DetachKeys != "" {
		if _, err := detachkeys.Parse(opts.DetachKeys); err != nil {
			return errdefs.Invalid("Invalid escape keys (%s) provided", opts.DetachKeys)
		}
	}
	ref := r.PathValue("name")
	ir, err := s.inspect(ctx, ref)
	if err != nil {
		return err
	}
	switch {
	case ir.State.Paused:
		return errdefs.Busy("Container %s is paused, unpause the container before exec", ir.ID)
	case !ir.State.Running || ir.State.Restarting:
		return errdefs.Busy("Container %s is not running", ir.ID)
	}
	h, err := s.tree.Open(ctx, "containers/"+ir.ID+"/exec/clone", os.O_RDWR)
	if err != nil {
		return noSuchContainer(err, ref)
	}
	defer h.Close()
	n, err := fs.ReadHandle(ctx, h)
	if err != nil {
		return err
	}
	x := verbs.ExecCreate{User: opts.User, Workdir: opts.WorkingDir, Env: opts.Env, Tty: opts.Tty, Stdin: opts.AttachStdin, Cmd: opts.Cmd}
	if _, err := fs.WriteCommand(ctx, h, verbs.Line(x)); err != nil {
		return err
	}
	id := execID(ir.ID, strings.TrimSpace(string(n)))
	if opts.DetachKeys != "" {
		s.execKeys.Store(id, opts.DetachKeys)
	}
	return writeJSON(w, http.StatusCreated, container.ExecCreateResponse{ID: id})
}

// startExec is POST /exec/{id}/start: detached, it starts the exec and
// answers 200; attached, it opens the exec's output (which the tree keeps
// from its first byte), hijacks the connection, starts the exec and copies
// the streams until the exec ends and its exit code is recorded.
//
// As dockerd, the start's Tty chooses the framing (raw or multiplexed) and
// the create's Tty whether the process has a terminal; a process that
// cannot start ends the stream with the runtime's message, framed as
// stdout, and the exec with code 126 (the tree records it).
func (s *Server) startExec(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	dir, err := s.execDir(ctx, id)
	if err != nil {
		return err
	}
	var opts container.ExecStartOptions
	if err := decodeBody(r, &opts, false); err != nil {
		return err
	}
	var cfg execConfig
	if err := s.readJSON(ctx, dir+"config", &cfg); err != nil {
		return err
	}
	if opts.Detach {
		if _, err := s.command(ctx, dir+"ctl", verbs.Line(verbs.ExecStart{})); err != nil {
			return err
		}
		w.WriteHeader(http.StatusOK)
		return nil
	}
	var outs outputs
	if err := outs.open(ctx, s.tree, dir, true, true, cfg.Tty); err != nil {
		return err
	}
	defer outs.close()
	wait, err := s.tree.Open(ctx, dir+"wait", os.O_RDONLY)
	if err != nil {
		return err
	}
	defer wait.Close()
	// As dockerd: the answer first, then the start, whose failure can only
	// be told in the stream. Clients that read the stream from the socket
	// under their HTTP reader (docker-py) lose output sent with the
	// answer's headers.
	c, err := hijack(w, r, !opts.Tty)
	if err != nil {
		return err
	}
	if _, err := s.command(ctx, dir+"ctl", verbs.Line(verbs.ExecStart{})); err != nil {
		_ = c.write(streamStdout, []byte(err.Error()+"\r\n"))
		c.finish(nil)
		return nil
	}
	if cs := opts.ConsoleSize; cfg.Tty && cs != nil && cs[0] > 0 && cs[1] > 0 {
		_, _ = s.command(ctx, dir+"ctl", verbs.Line(verbs.ExecResize{Rows: strconv.FormatUint(uint64(cs[0]), 10), Cols: strconv.FormatUint(uint64(cs[1]), 10)}))
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var inputDone chan struct{}
	if cfg.OpenStdin {
		inputDone = make(chan struct{})
		var keys []byte
		if cfg.Tty {
			spec, _ := s.execKeys.LoadAndDelete(id)
			str, _ := spec.(string)
			keys, _ = detachkeys.Parse(str) // checked at create
		}
		sc := stdinCopy{client: s.tree, dir: dir, keys: keys}
		go func() {
			defer close(inputDone)
			if err := sc.run(sctx, c.in); err == errDetached {
				cancel()
			}
		}()
	}
	outs.pump(sctx, c)
	if sctx.Err() == nil {
		_, _ = fs.ReadHandle(sctx, wait) // the exit code is recorded before the client asks
	}
	c.finish(inputDone)
	return nil
}

// resizeExec is POST /exec/{id}/resize?h=&w=.
func (s *Server) resizeExec(w http.ResponseWriter, r *http.Request) error {
	dir, err := s.execDir(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	rows, cols, err := sizeArgs(r)
	if err != nil {
		return err
	}
	if _, err := s.command(r.Context(), dir+"ctl", verbs.Line(verbs.ExecResize{Rows: rows, Cols: cols})); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// inspectExec is GET /exec/{id}/json, from the exec's status and config.
func (s *Server) inspectExec(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	dir, err := s.execDir(ctx, id)
	if err != nil {
		return err
	}
	var cfg execConfig
	if err := s.readJSON(ctx, dir+"config", &cfg); err != nil {
		return err
	}
	status, err := s.read(ctx, dir+"status")
	if err != nil {
		return err
	}
	out := backend.ExecInspect{
		ID:          id,
		ContainerID: strings.Split(dir, "/")[1],
		OpenStdin:   cfg.OpenStdin,
		OpenStdout:  true,
		OpenStderr:  true,
		DetachKeys:  []byte{},
		ProcessConfig: &backend.ExecProcessConfig{
			Tty: cfg.Tty, User: cfg.User, Arguments: []string{},
		},
	}
	if len(cfg.Cmd) > 0 {
		out.ProcessConfig.Entrypoint, out.ProcessConfig.Arguments = cfg.Cmd[0], cfg.Cmd[1:]
	}
	for _, f := range strings.Fields(string(status)) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "running":
			out.Running = true
		case "pid":
			out.Pid, _ = strconv.Atoi(v)
		case "code":
			code, _ := strconv.Atoi(v)
			out.ExitCode = &code
		}
	}
	if ir, err := s.inspect(ctx, out.ContainerID); err == nil {
		out.ContainerID = ir.ID
	}
	return writeJSON(w, http.StatusOK, out)
}
