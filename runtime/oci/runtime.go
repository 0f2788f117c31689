//go:build linux

package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Runtime runs containers with one OCI runtime binary. It keeps no state of
// its own (the binary keeps it, under its root directory), so it is safe
// for concurrent use, and a Runtime made by a restarted daemon can pause,
// resume and delete the containers an earlier one started.
type Runtime struct {
	binary  string // absolute path
	name    string // base name, for messages
	root    string
	tempDir string
	cgroups cgroupMounts
}

var _ runtime.Runtime = (*Runtime)(nil)

// New returns the runtime running binary: a path, or a name looked up in
// PATH ("runc", "crun"). A binary that cannot be found is
// errdefs.ErrNotFound. The binary is not run here; a binary that is not an
// OCI runtime fails at the first Start.
func New(binary string, opts ...Option) (*Runtime, error) {
	if binary == "" {
		return nil, errdefs.Invalid("oci runtime: no binary named")
	}
	path, err := exec.LookPath(binary)
	if err != nil {
		return nil, errdefs.NotFound("oci runtime %s: %w", binary, err)
	}
	if path, err = filepath.Abs(path); err != nil {
		return nil, errdefs.Invalid("oci runtime %s: %w", binary, err)
	}
	name := filepath.Base(path)
	o := options{root: filepath.Join(DefaultRootParent, name), tempDir: os.TempDir()}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	return &Runtime{
		binary:  path,
		name:    name,
		root:    o.root,
		tempDir: o.tempDir,
		cgroups: readCgroupMounts(),
	}, nil
}

// Binary returns the absolute path of the binary the runtime runs.
func (r *Runtime) Binary() string { return r.binary }

// Root returns the binary's state directory (its --root).
func (r *Runtime) Root() string { return r.root }

// cleanupTimeout bounds what a failure path or the reaper runs after the
// caller's context may have ended.
const cleanupTimeout = 30 * time.Second

// Start implements runtime.Runtime: `create`, then `start`. The Stdio files
// are given to `create` as its own, and the binary hands them to the
// container's process. On any failure Start kills the process if there is
// one, runs `delete --force` and reaps what the binary may have left (see
// reapStrays), unless the failure is that the id belongs to another
// container. When ctx ends during `create`, the binary is left to finish
// (for up to 10s) before that cleanup, rather than killed half way; the
// error is then ctx's. The binary also writes its error to the Stdio's
// stderr, as it does for containerd and Docker.
//
// Errors: a bundle that does not exist is errdefs.ErrNotFound, a program
// that cannot be found or run errdefs.ErrInvalid (the message holds the
// binary's, e.g. `exec: "x": executable file not found in $PATH`), an id in
// use errdefs.ErrAlreadyExists, a caller that is not a child subreaper and
// any other failure of the binary errdefs.ErrUnavailable.
func (r *Runtime) Start(ctx context.Context, c runtime.Container) (_ runtime.Process, retErr error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("container %s: start: %w", c.ID, err)
	}
	if err := validID(c.ID); err != nil {
		return nil, err
	}
	bundle, err := filepath.Abs(c.Bundle)
	if err != nil {
		return nil, errdefs.Invalid("container %s: bundle %q: %w", c.ID, c.Bundle, err)
	}
	spec, err := runtime.ReadBundle(bundle)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.ID, err)
	}
	if err := checkSubreaper(); err != nil {
		return nil, fmt.Errorf("container %s: %w", c.ID, err)
	}
	work, err := os.MkdirTemp(r.tempDir, "enginefs-oci-")
	if err != nil {
		return nil, errdefs.Unavailable("container %s: %w", c.ID, err)
	}
	defer os.RemoveAll(work)

	pidFile := filepath.Join(work, "pid")
	args := []string{"create", "--bundle", bundle, "--pid-file", pidFile}
	stdio := c.Stdio
	var cons *consoleSocket
	if spec.Process.Terminal {
		if cons, err = listenConsole(filepath.Join(work, "console")); err != nil {
			return nil, fmt.Errorf("container %s: %w", c.ID, err)
		}
		defer cons.close()
		args = append(args, "--console-socket", cons.path)
		stdio = runtime.Stdio{} // the terminal replaces them
	}
	args = append(args, c.ID)

	var (
		owned   = true // false when the id belongs to another container
		child   *child
		console *os.File
	)
	defer func() {
		if retErr == nil || !owned {
			return
		}
		if console != nil {
			console.Close()
		}
		r.abort(c.ID, child, spec.Linux)
	}()
	if err := r.run(ctx, work, &stdio, args...); err != nil {
		owned = !errors.Is(err, errdefs.ErrAlreadyExists)
		if owned && fileExists(pidFile) {
			// The binary made the process, then failed or was
			// cancelled.
			child, _ = adoptFromFile(pidFile)
		}
		return nil, fmt.Errorf("container %s: %w", c.ID, err)
	}
	if child, err = adoptFromFile(pidFile); err != nil {
		return nil, fmt.Errorf("container %s: %w", c.ID, err)
	}
	if cons != nil {
		if console, err = cons.receive(ctx); err != nil {
			return nil, fmt.Errorf("container %s: %w", c.ID, err)
		}
	}
	if err := r.run(ctx, work, nil, "start", c.ID); err != nil {
		return nil, fmt.Errorf("container %s: %w", c.ID, err)
	}
	return newProcess(r, c.ID, "", child, console, r.cgroups.oomCounter(spec.Linux)), nil
}

// Exec implements runtime.Runtime: `exec --detach` with e.Process as the
// process file. The Stdio files are given to the binary as its own, and it
// hands them to the process. The errors have the classes of Start's, plus
// errdefs.ErrNotFound for a container that does not exist and
// errdefs.ErrBusy for one that does not run (stopped, or paused for runc).
func (r *Runtime) Exec(ctx context.Context, id string, e runtime.ExecProcess) (_ runtime.Process, retErr error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("container %s: exec %s: %w", id, e.ID, err)
	}
	if err := validID(id); err != nil {
		return nil, err
	}
	if e.Process == nil || len(e.Process.Args) == 0 || e.Process.Args[0] == "" {
		return nil, errdefs.Invalid("container %s: exec %s: no command to run", id, e.ID)
	}
	if err := checkSubreaper(); err != nil {
		return nil, fmt.Errorf("container %s: exec %s: %w", id, e.ID, err)
	}
	work, err := os.MkdirTemp(r.tempDir, "enginefs-oci-")
	if err != nil {
		return nil, errdefs.Unavailable("container %s: exec %s: %w", id, e.ID, err)
	}
	defer os.RemoveAll(work)
	proc, err := json.Marshal(e.Process)
	if err != nil {
		return nil, errdefs.Invalid("container %s: exec %s: encode process: %w", id, e.ID, err)
	}
	procFile := filepath.Join(work, "process.json")
	if err := os.WriteFile(procFile, proc, 0o600); err != nil {
		return nil, errdefs.Unavailable("container %s: exec %s: %w", id, e.ID, err)
	}

	pidFile := filepath.Join(work, "pid")
	args := []string{"exec", "--detach", "--pid-file", pidFile, "--process", procFile}
	stdio := e.Stdio
	var cons *consoleSocket
	if e.Process.Terminal {
		if cons, err = listenConsole(filepath.Join(work, "console")); err != nil {
			return nil, fmt.Errorf("container %s: exec %s: %w", id, e.ID, err)
		}
		defer cons.close()
		args = append(args, "--console-socket", cons.path)
		stdio = runtime.Stdio{}
	}
	args = append(args, id)

	var child *child
	defer func() {
		if retErr != nil && child != nil {
			child.kill()
		}
	}()
	runErr := r.run(ctx, work, &stdio, args...)
	if runErr == nil || fileExists(pidFile) {
		// A process that started is ours to kill and reap, even when
		// the binary failed afterwards.
		var err error
		if child, err = adoptFromFile(pidFile); err != nil && runErr == nil {
			runErr = err
		}
	}
	if runErr != nil {
		return nil, fmt.Errorf("container %s: exec %s: %w", id, e.ID, runErr)
	}
	var console *os.File
	if cons != nil {
		if console, err = cons.receive(ctx); err != nil {
			return nil, fmt.Errorf("container %s: exec %s: %w", id, e.ID, err)
		}
	}
	return newProcess(r, id, e.ID, child, console, nil), nil
}

// Pause implements runtime.Runtime with `pause`. Pausing a paused container
// is not an error; pausing one that does not run is errdefs.ErrBusy, one
// that does not exist errdefs.ErrNotFound.
func (r *Runtime) Pause(ctx context.Context, id string) error {
	return r.freeze(ctx, id, "pause", "paused")
}

// Resume implements runtime.Runtime with `resume`. Resuming a container
// that runs is not an error either; resuming one that is stopped is
// errdefs.ErrBusy, one that does not exist errdefs.ErrNotFound.
func (r *Runtime) Resume(ctx context.Context, id string) error {
	return r.freeze(ctx, id, "resume", "running")
}

// freeze runs pause or resume, and accepts the binary's refusal when the
// container is already in the wanted state.
func (r *Runtime) freeze(ctx context.Context, id, verb, want string) error {
	if err := validID(id); err != nil {
		return err
	}
	err := r.run(ctx, "", nil, verb, id)
	if err == nil {
		return nil
	}
	if errors.Is(err, errdefs.ErrBusy) {
		if st, serr := r.state(ctx, id); serr == nil && st.Status == want {
			return nil
		}
	}
	return fmt.Errorf("container %s: %w", id, err)
}

// Delete implements runtime.Runtime with `delete --force`, which kills what
// still runs in the container and removes its cgroup and state. What the
// binary no longer knows of (a container that does not exist, or whose
// state was lost) is not an error; a cgroup left at
// runtime.CgroupParent/<id> without state, as when the binary was killed
// half way, is emptied and removed too.
func (r *Runtime) Delete(ctx context.Context, id string) error {
	if err := validID(id); err != nil {
		return err
	}
	err := r.run(ctx, "", nil, "delete", "--force", id)
	if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return fmt.Errorf("container %s: %w", id, err)
	}
	if err := r.cgroups.removeOrphan(ctx, runtime.CgroupParent+"/"+id); err != nil {
		return fmt.Errorf("container %s: %w", id, err)
	}
	return nil
}

// abort undoes a Start that failed: it kills the process if it was
// adopted, or the one the binary's state names, runs `delete --force`, and
// reaps what is left of the container's processes (a binary killed half
// way does not say their pids). It runs after the caller's context may
// have ended.
func (r *Runtime) abort(id string, c *child, l *specs.Linux) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if c == nil {
		if st, err := r.state(ctx, id); err == nil && st.Pid > 0 {
			c, _ = adopt(st.Pid)
		}
	}
	if c != nil {
		c.kill()
	}
	_ = r.Delete(ctx, id)
	if l != nil && path.IsAbs(l.CgroupsPath) {
		// Nothing else of the caller's is in this container's cgroup:
		// its id is not in use (or Start would not be undoing it).
		reapStrays(inCgroup(l.CgroupsPath))
	}
}

// state is what `<binary> state` prints that the runtime uses.
type state struct {
	Status string `json:"status"` // created, running, paused, stopped
	Pid    int    `json:"pid"`
}

// state runs `<binary> state id`.
func (r *Runtime) state(ctx context.Context, id string) (state, error) {
	var st state
	out, err := r.output(ctx, "state", id)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return st, errdefs.Unavailable("%s state %s: %w", r.name, id, err)
	}
	return st, nil
}

// validID refuses what cannot name a container for the binary.
func validID(id string) error {
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\x00") || strings.HasPrefix(id, "-") {
		return errdefs.Invalid("container id %q is not a plain name", id)
	}
	return nil
}

// adoptFromFile adopts the process whose pid the binary wrote to file.
func adoptFromFile(file string) (*child, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, errdefs.Unavailable("read pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return nil, errdefs.Unavailable("pid file holds %q, not a pid", data)
	}
	return adopt(pid)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
