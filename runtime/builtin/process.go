//go:build linux

package builtin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime"
	"github.com/enginefs/enginefs/runtime/builtin/nsinit"
)

// process is a started container. One reaper goroutine waits for the init
// process, reads the OOM count, deletes the cgroup and then closes done;
// Wait only reads what it left, so any number of goroutines may wait.
type process struct {
	id       string
	proc     *os.Process
	cg       *cgroup
	console  *os.File // the terminal's master, or nil
	warnings []string

	done   chan struct{}
	status runtime.ExitStatus // set before done is closed
	err    error              // cleanup failure, set before done is closed
}

var _ runtime.Process = (*process)(nil)

func newProcess(id string, proc *os.Process, cg *cgroup) *process {
	p := &process{id: id, proc: proc, cg: cg, done: make(chan struct{})}
	go p.reap()
	return p
}

// Console returns the master of the container's terminal, nil without one;
// the caller owns it.
func (p *process) Console() *os.File { return p.console }

// Warnings says what of the spec the runtime could not apply (see
// runtime.Warner).
func (p *process) Warnings() []string { return p.warnings }

// Pid returns the host pid of the container's init process.
func (p *process) Pid() int { return p.proc.Pid }

// Signal sends sig to the init process. Like any pid 1, it only receives
// the signals it handles, besides SIGKILL and SIGSTOP. A process that has
// exited is errdefs.ErrBusy wrapping os.ErrProcessDone.
func (p *process) Signal(sig syscall.Signal) error {
	err := p.proc.Signal(sig)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, os.ErrProcessDone):
		return errdefs.Busy("container %s: process has exited: %w", p.id, os.ErrProcessDone)
	}
	return nsinit.Classify(fmt.Errorf("container %s: signal %v: %w", p.id, sig, err))
}

// Wait returns how the process ended once it has been reaped and its cgroup
// removed. The status is valid even when an error reports that the cgroup
// could not be removed (errdefs.ErrBusy). A cancelled ctx returns its error
// and leaves the process alone.
func (p *process) Wait(ctx context.Context) (runtime.ExitStatus, error) {
	select {
	case <-p.done:
		return p.status, p.err
	case <-ctx.Done():
		return runtime.ExitStatus{}, fmt.Errorf("container %s: wait: %w", p.id, ctx.Err())
	}
}

func (p *process) reap() {
	defer close(p.done)
	state, err := p.proc.Wait()
	p.status.ExitedAt = time.Now()
	if err != nil {
		// Only possible if someone else reaped the child.
		p.err = nsinit.Classify(fmt.Errorf("container %s: wait: %w", p.id, err))
		p.status.Code = 255
	} else {
		p.status.Code, p.status.Signal = exitCode(state.Sys().(syscall.WaitStatus))
	}
	p.status.OOMKilled = p.cg.oomKilled()
	if err := p.cg.delete(); err != nil && p.err == nil {
		p.err = fmt.Errorf("container %s: %w", p.id, err)
	}
}

// exitCode is the status as Docker reports it: the exit code, or 128 plus
// the number of the signal that killed the process.
func exitCode(ws syscall.WaitStatus) (int, syscall.Signal) {
	if ws.Signaled() {
		return 128 + int(ws.Signal()), ws.Signal()
	}
	return ws.ExitStatus(), 0
}
