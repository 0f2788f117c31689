package engine

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker/go-connections/nat"

	"github.com/enginefs/enginefs/engine/network"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime"
)

// Status is the state a container is in.
type Status string

// The statuses, as docker names them. New is a container id handed out by
// containers/clone and not configured yet; it is never persisted.
// Restarting is the wait between an exit and the restart its policy asks for.
const (
	StatusNew        Status = "new"
	StatusCreated    Status = "created"
	StatusRunning    Status = "running"
	StatusPaused     Status = "paused"
	StatusRestarting Status = "restarting"
	StatusExited     Status = "exited"
)

// live reports whether the container has a process (running or paused).
func (s Status) live() bool { return s == StatusRunning || s == StatusPaused }

// State is a container's runtime state, persisted with its record.
type State struct {
	Status     Status    `json:"Status"`
	Pid        int       `json:"Pid,omitempty"`
	StartedAt  time.Time `json:"StartedAt"`
	FinishedAt time.Time `json:"FinishedAt"`
	ExitCode   int       `json:"ExitCode"`
	OOMKilled  bool      `json:"OOMKilled"`
	// Error is why the last start or run failed, if it did.
	Error string `json:"Error,omitempty"`
	// Health is the container's health when it has a health check
	// (health.go); it is kept when the container stops.
	Health *Health `json:"Health,omitempty"`
}

// Record is everything persisted about a container.
type Record struct {
	ID      string    `json:"Id"`
	Name    string    `json:"Name"`
	Created time.Time `json:"Created"`
	Config  Config    `json:"Config"`
	// ImageID is the image the container was created from ("sha256:...").
	ImageID string `json:"ImageId"`
	// Path and Args are the program the last start ran (docker's inspect fields).
	Path  string   `json:"Path"`
	Args  []string `json:"Args"`
	State State    `json:"State"`
	// RestartCount counts restarts by the restart policy since the last
	// start by a user.
	RestartCount int `json:"RestartCount"`
	// ManuallyStopped is set by stop and kill, cleared by start: a policy
	// does not restart what a user stopped.
	ManuallyStopped bool `json:"ManuallyStopped,omitempty"`
	// Runtime is the runtime the container last ran with.
	Runtime string `json:"Runtime,omitempty"`
	// Networks are the container's endpoints, by network name, from
	// create or connect to removal or disconnect.
	Networks map[string]*network.Endpoint `json:"Networks,omitempty"`
	// Ports are the ports published by the current run, with the host
	// ports bound (docker's NetworkSettings.Ports).
	Ports nat.PortMap `json:"Ports,omitempty"`
	// Mounts are the container's mounts, resolved at create.
	Mounts []MountPoint `json:"Mounts,omitempty"`
}

// Container is one container. Its methods are safe for concurrent use; the
// values they return are copies.
type Container struct {
	id string

	// mu comes after the networks' and volumes' locks and Engine.mu
	// (the order is in the package doc).
	mu       sync.Mutex // guards the fields below
	rec      Record
	next     *run          // the run a waiter that comes now will see end
	starting bool          // a start is in progress
	removing bool          // a removal is in progress
	removed  bool          // final: the container is gone (or the reserved id released)
	reaped   bool          // the last run ended in a clean wait: nothing is left to delete
	gone     chan struct{} // closed when removed is set
	// cancelRestart stops a pending restart by the policy (nil when none).
	cancelRestart context.CancelFunc
	// backoff is the delay before the next restart by the policy.
	backoff  time.Duration
	execs    map[string]*Exec
	nextExec int
	// healthStop stops the running health monitor (nil when none);
	// nextProbe numbers the probes' execs.
	healthStop chan struct{}
	nextProbe  int
}

func newContainer(id string, rec Record) *Container {
	rec.ID = id
	return &Container{id: id, rec: rec, next: newRun(), gone: make(chan struct{}), execs: map[string]*Exec{}}
}

// markRemoved ends the container: waiters of the next run learn it is gone.
// c.mu is held.
func (c *Container) markRemoved() {
	c.removed, c.removing = true, false
	c.next.err = errdefs.NotFound("no such container: %s (removed)", c.id)
	close(c.next.done)
	close(c.gone)
	c.stopHealth()
	if c.cancelRestart != nil {
		c.cancelRestart()
	}
}

// gate returns the error for an operation on a container that is not there
// or is going away. c.mu is held.
func (c *Container) gate() error {
	switch {
	case c.removed:
		return errdefs.NotFound("no such container: %s", c.id)
	case c.removing:
		return errdefs.Busy("container %s is being removed", c.id)
	}
	return nil
}

// run is one run of a container, from start to exit, as waiters see it.
type run struct {
	done   chan struct{}
	status runtime.ExitStatus
	err    error // the container was removed before the run ended
}

func newRun() *run { return &run{done: make(chan struct{})} }

// ID returns the container's id (64 hex digits).
func (c *Container) ID() string { return c.id }

// Record returns a copy of the container's record.
func (c *Container) Record() Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.rec
	r.Args = append([]string(nil), r.Args...)
	r.State.Health = CloneHealth(r.State.Health)
	return r
}

// Wait returns a function that blocks until the run the container is in now
// ends (when it is running, restarting or not started yet) and returns its
// exit status; for a container that has exited it returns the last exit
// status at once. The split lets a client open `wait` before `start` without
// missing the run.
func (c *Container) Wait() func(ctx context.Context) (ExitStatus, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rec.State.Status == StatusExited {
		st := runtime.ExitStatus{Code: c.rec.State.ExitCode, OOMKilled: c.rec.State.OOMKilled, ExitedAt: c.rec.State.FinishedAt}
		return func(context.Context) (runtime.ExitStatus, error) { return st, nil }
	}
	r := c.next
	return func(ctx context.Context) (runtime.ExitStatus, error) {
		select {
		case <-r.done:
			return r.status, r.err
		case <-ctx.Done():
			return runtime.ExitStatus{}, ctx.Err()
		}
	}
}

// WaitNext is Wait for the next end of a run: the current run's of a
// container that runs, else the run its next start begins (docker's
// next-exit), even for a container that has exited.
func (c *Container) WaitNext() func(ctx context.Context) (ExitStatus, error) {
	c.mu.Lock()
	r := c.next
	c.mu.Unlock()
	return func(ctx context.Context) (runtime.ExitStatus, error) {
		select {
		case <-r.done:
			return r.status, r.err
		case <-ctx.Done():
			return runtime.ExitStatus{}, ctx.Err()
		}
	}
}

// parseSignal reads a signal as docker's kill -s does: a name with or without
// SIG, or a number.
func parseSignal(s string) (syscall.Signal, error) {
	if s == "" {
		return syscall.SIGKILL, nil
	}
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err == nil && fmt.Sprint(n) == s {
		if n <= 0 || n > 64 {
			return 0, errdefs.Invalid("invalid signal %q", s)
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig, ok := signalNames[name]; ok {
		return sig, nil
	}
	return 0, errdefs.Invalid("invalid signal %q", s)
}

var signalNames = map[string]syscall.Signal{
	"SIGABRT": syscall.SIGABRT, "SIGALRM": syscall.SIGALRM, "SIGBUS": syscall.SIGBUS,
	"SIGCHLD": syscall.SIGCHLD, "SIGCONT": syscall.SIGCONT, "SIGFPE": syscall.SIGFPE,
	"SIGHUP": syscall.SIGHUP, "SIGILL": syscall.SIGILL, "SIGINT": syscall.SIGINT,
	"SIGIO": syscall.SIGIO, "SIGKILL": syscall.SIGKILL, "SIGPIPE": syscall.SIGPIPE,
	"SIGPROF": syscall.SIGPROF, "SIGPWR": syscall.SIGPWR, "SIGQUIT": syscall.SIGQUIT,
	"SIGSEGV": syscall.SIGSEGV, "SIGSTOP": syscall.SIGSTOP, "SIGSYS": syscall.SIGSYS,
	"SIGTERM": syscall.SIGTERM, "SIGTRAP": syscall.SIGTRAP, "SIGTSTP": syscall.SIGTSTP,
	"SIGTTIN": syscall.SIGTTIN, "SIGTTOU": syscall.SIGTTOU, "SIGURG": syscall.SIGURG,
	"SIGUSR1": syscall.SIGUSR1, "SIGUSR2": syscall.SIGUSR2, "SIGVTALRM": syscall.SIGVTALRM,
	"SIGWINCH": syscall.SIGWINCH, "SIGXCPU": syscall.SIGXCPU, "SIGXFSZ": syscall.SIGXFSZ,
}
