//go:build linux

package builtin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime"
	"github.com/enginefs/enginefs/runtime/builtin/nsinit"
	"golang.org/x/sys/unix"
)

// execProcess is a process started by Exec. It was the helper's child and
// became the caller's when the helper exited; it is known by a pidfd, so
// that signals and the wait can never reach another process that got the
// same pid. One reaper goroutine waits for it and closes done.
type execProcess struct {
	id      string // "container <id>: exec <exec id>", for messages
	pid     int
	console *os.File

	mu    sync.Mutex // guards pidfd against its closing
	pidfd *os.File   // nil once the process is reaped

	done   chan struct{}
	status runtime.ExitStatus // set before done is closed
	err    error
}

var _ runtime.Process = (*execProcess)(nil)

func newExecProcess(id string, pid int, pidfd, console *os.File) *execProcess {
	p := &execProcess{id: id, pid: pid, pidfd: pidfd, console: console, done: make(chan struct{})}
	go p.reap()
	return p
}

// Pid returns the host pid of the process.
func (p *execProcess) Pid() int { return p.pid }

// Console returns the master of the process's terminal, nil without one.
func (p *execProcess) Console() *os.File { return p.console }

// Signal sends sig to the process through its pidfd. A process that has
// exited is errdefs.ErrBusy wrapping os.ErrProcessDone.
func (p *execProcess) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
		return errdefs.Busy("%s: process has exited: %w", p.id, os.ErrProcessDone)
	default:
	}
	if p.pidfd == nil {
		return errdefs.Busy("%s: process has exited: %w", p.id, os.ErrProcessDone)
	}
	err := unix.PidfdSendSignal(int(p.pidfd.Fd()), sig, nil, 0)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.ESRCH):
		return errdefs.Busy("%s: process has exited: %w", p.id, os.ErrProcessDone)
	}
	return nsinit.Classify(fmt.Errorf("%s: signal %v: %w", p.id, sig, err))
}

// Wait returns how the process ended once it has been reaped. A cancelled
// ctx returns its error and leaves the process alone.
func (p *execProcess) Wait(ctx context.Context) (runtime.ExitStatus, error) {
	select {
	case <-p.done:
		return p.status, p.err
	case <-ctx.Done():
		return runtime.ExitStatus{}, fmt.Errorf("%s: wait: %w", p.id, ctx.Err())
	}
}

// reap waits for the process to exit without reaping it (waitid on the
// pidfd with WNOWAIT: only this process, whatever its pid), then reaps it
// by pid, which cannot have been reused while it was a zombie.
func (p *execProcess) reap() {
	defer close(p.done)
	fd := int(p.pidfd.Fd())
	var info unix.Siginfo
	err := retryEINTR(func() error { return unix.Waitid(unix.P_PIDFD, fd, &info, unix.WEXITED|unix.WNOWAIT, nil) })
	var ws unix.WaitStatus
	if err == nil {
		err = retryEINTR(func() error {
			_, err := unix.Wait4(p.pid, &ws, 0, nil)
			return err
		})
	}
	p.status.ExitedAt = time.Now()
	if err != nil {
		// Not a child of this process (not a subreaper), or reaped by
		// someone else.
		p.err = nsinit.Classify(fmt.Errorf("%s: wait: %w", p.id, err))
		p.status.Code = 255
	} else {
		p.status.Code, p.status.Signal = exitCode(syscall.WaitStatus(ws))
	}
	p.mu.Lock()
	p.pidfd.Close()
	p.pidfd = nil
	p.mu.Unlock()
}

// retryEINTR calls f until it is not interrupted by a signal.
func retryEINTR(f func() error) error {
	for {
		if err := f(); !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
