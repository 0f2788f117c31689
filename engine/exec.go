package engine

import (
	"context"
	"errors"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime"
	"github.com/enginefs/enginefs/runtime/keeper"
)

// ExecConfig is a process to run in a running container (docker exec).
// Empty fields take the container's values.
type ExecConfig struct {
	Cmd        []string `json:"Cmd"`
	Env        []string `json:"Env,omitempty"`
	User       string   `json:"User,omitempty"`
	WorkingDir string   `json:"WorkingDir,omitempty"`
	Tty        bool     `json:"Tty"`
	OpenStdin  bool     `json:"OpenStdin"`
}

// ExecState is where an exec is: "created" (configured, not started),
// "running" or "exited", with its pid and exit code.
type ExecState struct {
	Status   string `json:"Status"`
	Pid      int    `json:"Pid,omitempty"`
	ExitCode int    `json:"ExitCode"`
}

// Exec is a process of a container besides its init: containers/<id>/exec/<n>.
// Execs live in memory with their container; a daemon restart keeps those
// still running (the keeper has them) and forgets the others, as docker does.
type Exec struct {
	ID string // "1", "2", ... within the container

	mu     sync.Mutex
	config *ExecConfig // nil until configured
	state  ExecState
	done   chan struct{} // closed when the process has exited
	status runtime.ExitStatus
}

// Config returns the exec's config, or nil before it is configured.
func (x *Exec) Config() *ExecConfig {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.config
}

// State returns the exec's state.
func (x *Exec) State() ExecState {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.state
}

// Wait returns a function that blocks until the exec's process has exited
// and returns how; for an exec that has not started it waits for its start
// and end.
func (x *Exec) Wait() func(ctx context.Context) (ExitStatus, error) {
	return func(ctx context.Context) (runtime.ExitStatus, error) {
		select {
		case <-x.done:
			x.mu.Lock()
			defer x.mu.Unlock()
			return x.status, nil
		case <-ctx.Done():
			return runtime.ExitStatus{}, ctx.Err()
		}
	}
}

// execDir holds an exec's output (log, log.idx).
func (e *Engine) execDir(id, execID string) string {
	return filepath.Join(e.containerDir(id), "exec", execID)
}

// NewExec hands out a new exec of a container (exec/clone). It is
// configured with ConfigureExec and run with StartExec.
func (e *Engine) NewExec(ref string) (*Exec, error) {
	c, err := e.Get(ref)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.gate(); err != nil {
		return nil, err
	}
	if c.rec.State.Status == StatusNew {
		return nil, errdefs.Busy("container %s is not created yet", c.id)
	}
	c.nextExec++
	x := &Exec{ID: strconv.Itoa(c.nextExec), state: ExecState{Status: "new"}, done: make(chan struct{})}
	// The output directory exists from the start, so a client can open
	// stdout before start and read the exec's output from its first byte.
	if err := createLog(e.execDir(c.id, x.ID)); err != nil {
		return nil, err
	}
	c.execs[x.ID] = x
	return x, nil
}

// Execs lists a container's execs in the order they were made.
func (e *Engine) Execs(ref string) ([]*Exec, error) {
	c, err := e.Get(ref)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	out := make([]*Exec, 0, len(c.execs))
	for _, x := range c.execs {
		out = append(out, x)
	}
	c.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		a, _ := strconv.Atoi(out[i].ID)
		b, _ := strconv.Atoi(out[j].ID)
		return a < b
	})
	return out, nil
}

// GetExec finds an exec of a container.
func (e *Engine) GetExec(ref, execID string) (*Container, *Exec, error) {
	c, err := e.Get(ref)
	if err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	x, ok := c.execs[execID]
	c.mu.Unlock()
	if !ok {
		return nil, nil, errdefs.NotFound("no such exec %s in container %s", execID, c.id)
	}
	return c, x, nil
}

// ConfigureExec sets what an exec runs; it can be set until the exec starts.
func (e *Engine) ConfigureExec(ref, execID string, cfg ExecConfig) error {
	c, x, err := e.GetExec(ref, execID)
	if err != nil {
		return err
	}
	if len(cfg.Cmd) == 0 || cfg.Cmd[0] == "" {
		return errdefs.Invalid("exec: no command given")
	}
	if cfg.WorkingDir != "" && cfg.WorkingDir[0] != '/' {
		return errdefs.Invalid("exec: working directory %q is not absolute", cfg.WorkingDir)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.state.Status != "new" && x.state.Status != "created" {
		return errdefs.Busy("exec %s has started", x.ID)
	}
	x.config = &cfg
	x.state.Status = "created"
	e.emit(c.Record(), "exec_create: "+strings.Join(cfg.Cmd, " "), "execID", x.ID)
	return nil
}

// StartExec runs a configured exec in its running container.
func (e *Engine) StartExec(ctx context.Context, ref, execID string) error {
	c, x, err := e.GetExec(ref, execID)
	if err != nil {
		return err
	}
	x.mu.Lock()
	cfg, status := x.config, x.state.Status
	if status == "created" {
		x.state.Status = "starting"
	}
	x.mu.Unlock()
	switch {
	case status == "new":
		return errdefs.Busy("exec %s is not configured: write its command first", execID)
	case status != "created":
		return errdefs.Busy("exec %s has already been started", execID)
	}
	proc, err := e.launchExec(ctx, c, x.ID, cfg)
	x.mu.Lock()
	defer x.mu.Unlock()
	var se *execStartError
	switch {
	case errors.As(err, &se):
		// As dockerd: an exec whose process the runtime could not start
		// has ended with code 127 (not found) or 126 (not executable).
		code := execStartCode(se.err)
		x.state = ExecState{Status: "exited", ExitCode: code}
		x.status = runtime.ExitStatus{Code: code, ExitedAt: time.Now()}
		close(x.done)
		e.emit(c.Record(), "exec_die", "execID", x.ID, "exitCode", itoa(code))
		return se.err
	case err != nil:
		x.state.Status = "created"
		return err
	}
	x.state = ExecState{Status: "running", Pid: proc.Pid}
	e.emit(c.Record(), "exec_start: "+strings.Join(cfg.Cmd, " "), "execID", x.ID)
	e.monitors.Add(1)
	go e.monitorExec(c, x)
	return nil
}

// launchExec builds the exec's process from the container's bundle (its
// env, user, capabilities and limits) and the exec's config, and hands it to
// the keeper.
func (e *Engine) launchExec(ctx context.Context, c *Container, execID string, cfg *ExecConfig) (keeper.Proc, error) {
	c.mu.Lock()
	err := c.gate()
	live := c.rec.State.Status.live()
	paused := c.rec.State.Status == StatusPaused
	c.mu.Unlock()
	switch {
	case err != nil:
		return keeper.Proc{}, err
	case !live:
		return keeper.Proc{}, errdefs.Busy("container %s is not running", c.id)
	case paused:
		return keeper.Proc{}, errdefs.Busy("container %s is paused: resume it first", c.id)
	}
	spec, err := runtime.ReadBundle(e.containerDir(c.id))
	if err != nil {
		return keeper.Proc{}, err
	}
	p := *spec.Process
	p.Args = cfg.Cmd
	p.Env = mergeEnv(p.Env, cfg.Env)
	p.Terminal = cfg.Tty
	p.ConsoleSize = nil
	if cfg.WorkingDir != "" {
		p.Cwd = cfg.WorkingDir
	}
	if cfg.User != "" {
		u, err := e.processUser(c.Record(), e.rootfs(c.id), cfg.User)
		if err != nil {
			return keeper.Proc{}, err
		}
		p.User = u
		if u.UID != 0 && p.Capabilities != nil {
			// As docker: a non-root user keeps the bounding set only.
			p.Capabilities = &specs.LinuxCapabilities{Bounding: p.Capabilities.Bounding}
		}
	}
	dir := e.execDir(c.id, execID)
	proc, err := e.keeper.Exec(ctx, keeper.ExecRequest{
		ContainerID: c.id,
		ExecID:      execID,
		Process:     p,
		OpenStdin:   cfg.OpenStdin,
		LogDir:      dir,
	})
	if errors.Is(err, errdefs.ErrInvalid) { // the runtime could not start the command
		return proc, &execStartError{err}
	}
	return proc, err
}

// The exit codes of an exec whose process the runtime could not start,
// dockerd's (translateContainerdStartErr): ExecNotFound when the program
// is not there, ExecCannotStart for any other refusal (not executable, a
// directory, permission denied).
const (
	ExecCannotStart = 126
	ExecNotFound    = 127
)

// execStartCode reads which of the two codes the runtime's message means,
// as dockerd reads it.
func execStartCode(err error) int {
	m := strings.ToLower(err.Error())
	if strings.Contains(m, "executable file not found") || strings.Contains(m, "no such file or directory") {
		return ExecNotFound
	}
	return ExecCannotStart
}

// execStartError is the runtime's refusal to start an exec's process.
type execStartError struct{ err error }

func (e *execStartError) Error() string { return e.err.Error() }
func (e *execStartError) Unwrap() error { return e.err }

// monitorExec records the end of an exec's process.
func (e *Engine) monitorExec(c *Container, x *Exec) {
	defer e.monitors.Done()
	st, err := e.wait(c.id, x.ID)
	if e.ctx.Err() != nil {
		return
	}
	if err != nil {
		e.logf("container %s exec %s: %v", c.id, x.ID, err)
		st = runtime.ExitStatus{Code: 255, ExitedAt: time.Now()}
	}
	x.mu.Lock()
	x.state = ExecState{Status: "exited", ExitCode: st.Code}
	x.status = st
	x.mu.Unlock()
	close(x.done)
	e.emit(c.Record(), "exec_die", "execID", x.ID, "exitCode", itoa(st.Code))
	if err := e.keeper.Forget(e.ctx, c.id, x.ID); err != nil && !isGone(err) {
		e.logf("container %s exec %s: %v", c.id, x.ID, err)
	}
}

// adoptExec takes back an exec that the keeper runs for a container of a
// previous daemon: its config is lost, its process and output are not.
func (e *Engine) adoptExec(st keeper.State) {
	c, ok := e.containers[st.ContainerID]
	if !ok || strings.HasPrefix(st.ExecID, "health-") {
		// A probe of the previous daemon: its result has no reader, and
		// the next probes take numbers after its.
		if ok && st.Running {
			_ = e.keeper.Signal(e.ctx, st.ContainerID, st.ExecID, syscall.SIGKILL)
		}
		if n, err := strconv.Atoi(strings.TrimPrefix(st.ExecID, "health-")); ok && err == nil && n > c.nextProbe {
			c.nextProbe = n
		}
		_ = e.keeper.Forget(e.ctx, st.ContainerID, st.ExecID)
		return
	}
	x := &Exec{ID: st.ExecID, state: ExecState{Status: "running", Pid: st.Pid}, done: make(chan struct{})}
	c.execs[x.ID] = x
	if n, err := strconv.Atoi(x.ID); err == nil && n > c.nextExec {
		c.nextExec = n
	}
	e.monitors.Add(1)
	go e.monitorExec(c, x)
}

// forgetExecs drops the keeper's statuses of a removed container's execs.
func (e *Engine) forgetExecs(ctx context.Context, c *Container) {
	c.mu.Lock()
	ids := make([]string, 0, len(c.execs))
	for id := range c.execs {
		ids = append(ids, id)
	}
	c.mu.Unlock()
	for _, id := range ids {
		if err := e.keeper.Forget(ctx, c.id, id); err != nil && !isGone(err) {
			e.logf("container %s exec %s: %v", c.id, id, err)
		}
	}
}

// KillExec sends a signal to an exec's process.
func (e *Engine) KillExec(ctx context.Context, ref, execID, sig string) error {
	s, err := parseSignal(sig)
	if err != nil {
		return err
	}
	c, x, err := e.GetExec(ref, execID)
	if err != nil {
		return err
	}
	if x.State().Status != "running" {
		return errdefs.Busy("exec %s is not running", execID)
	}
	return e.keeper.Signal(ctx, c.id, execID, s)
}
