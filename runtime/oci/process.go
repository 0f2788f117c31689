//go:build linux

package oci

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime"
	"golang.org/x/sys/unix"
)

// checkSubreaper fails unless the calling process is a child subreaper:
// otherwise the processes the binary leaves would go to another reaper,
// which would take their exit status, and free their pids for reuse.
func checkSubreaper() error {
	var on int32
	if err := unix.Prctl(unix.PR_GET_CHILD_SUBREAPER, uintptr(unsafe.Pointer(&on)), 0, 0, 0); err != nil {
		return errdefs.Unavailable("prctl PR_GET_CHILD_SUBREAPER: %w", err)
	}
	if on == 0 {
		return errdefs.Unavailable("the caller is not a child subreaper (prctl PR_SET_CHILD_SUBREAPER): it could not reap the container's processes")
	}
	return nil
}

// child is a process the binary left to the caller, and a pidfd on it.
type child struct {
	pid int
	fd  int
}

// adopt opens a pidfd on pid, which must be a child of the caller: the
// binary, which was its parent, has exited and the caller, a subreaper,
// inherited it. As its parent, the caller alone can reap it, so the pid
// cannot have been reused since the binary wrote it, and the pidfd names
// the right process for good.
func adopt(pid int) (*child, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, errdefs.Unavailable("process %d: pidfd_open: %w", pid, err)
	}
	ppid, err := parentOf(pid)
	if err != nil {
		unix.Close(fd)
		return nil, errdefs.Unavailable("process %d: %w", pid, err)
	}
	if ppid != os.Getpid() {
		unix.Close(fd)
		return nil, errdefs.Unavailable("process %d has parent %d, not this process %d: the caller must be a child subreaper", pid, ppid, os.Getpid())
	}
	return &child{pid: pid, fd: fd}, nil
}

// parentOf reads the parent pid from /proc/<pid>/stat (a zombie has one
// too): the 2nd field after the command name, which ends at the last ')'.
func parentOf(pid int) (int, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 2 {
		return 0, fmt.Errorf("/proc/%d/stat: too short", pid)
	}
	return strconv.Atoi(fields[1])
}

// waitExited blocks until the process has exited, without reaping it.
func (c *child) waitExited() error {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PIDFD, c.fd, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return err
		}
	}
}

// reap collects the exit status of the process, which has exited. wait4 by
// pid is safe: the zombie keeps its pid until this very call.
func (c *child) reap() (unix.WaitStatus, error) {
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(c.pid, &ws, 0, nil)
		if err != unix.EINTR {
			return ws, err
		}
	}
}

// kill kills the process and reaps it in the background, for the failure
// paths of Start and Exec.
func (c *child) kill() {
	_ = unix.PidfdSendSignal(c.fd, unix.SIGKILL, nil, 0)
	go func() {
		if c.waitExited() == nil {
			_, _ = c.reap()
		}
		unix.Close(c.fd)
	}()
}

// process is a container's init (execID "") or an exec'd process. One
// reaper goroutine waits for it, records its status, reaps it and, for an
// init, deletes the container; Wait only reads what it left, so any number
// of goroutines may wait.
type process struct {
	r       *Runtime
	id      string // the container's
	execID  string
	pid     int
	console *os.File
	oom     func() bool // nil: not an init, or no memory cgroup to read

	mu sync.RWMutex
	fd int // the pidfd; -1 once the process is reaped

	exited chan struct{} // closed when the process is known to have exited
	done   chan struct{} // closed when status and err are final
	status runtime.ExitStatus
	err    error
}

var _ runtime.Process = (*process)(nil)

func newProcess(r *Runtime, id, execID string, c *child, console *os.File, oom func() bool) *process {
	p := &process{
		r: r, id: id, execID: execID, pid: c.pid, console: console, oom: oom,
		fd: c.fd, exited: make(chan struct{}), done: make(chan struct{}),
	}
	go p.reap()
	return p
}

func (p *process) name() string {
	if p.execID == "" {
		return "container " + p.id
	}
	return "container " + p.id + ": exec " + p.execID
}

// Pid returns the process's pid in the caller's pid namespace.
func (p *process) Pid() int { return p.pid }

// Console returns the master of the process's terminal, nil without one.
func (p *process) Console() *os.File { return p.console }

// Signal sends sig through the pidfd. A pid 1 receives only the signals it
// handles, besides SIGKILL and SIGSTOP. A process that has exited is
// errdefs.ErrBusy wrapping os.ErrProcessDone.
func (p *process) Signal(sig syscall.Signal) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	select {
	case <-p.exited:
		return errdefs.Busy("%s: process has exited: %w", p.name(), os.ErrProcessDone)
	default:
	}
	if p.fd < 0 {
		return errdefs.Busy("%s: process has exited: %w", p.name(), os.ErrProcessDone)
	}
	err := unix.PidfdSendSignal(p.fd, sig, nil, 0)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.ESRCH):
		return errdefs.Busy("%s: process has exited: %w", p.name(), os.ErrProcessDone)
	case errors.Is(err, unix.EINVAL):
		return errdefs.Invalid("%s: signal %d: %w", p.name(), int(sig), err)
	}
	return errdefs.Unavailable("%s: signal %v: %w", p.name(), sig, err)
}

// Wait returns how the process ended once it has been reaped and, for an
// init, the container deleted. The status is valid even when an error says
// that the container could not be deleted. A cancelled ctx returns its
// error and leaves the process alone.
func (p *process) Wait(ctx context.Context) (runtime.ExitStatus, error) {
	select {
	case <-p.done:
		return p.status, p.err
	case <-ctx.Done():
		return runtime.ExitStatus{}, fmt.Errorf("%s: wait: %w", p.name(), ctx.Err())
	}
}

// reap is the reaper goroutine. The OOM count is read while the process is
// a zombie: the cgroup goes with `delete`.
func (p *process) reap() {
	defer close(p.done)
	c := &child{pid: p.pid, fd: p.fd}
	err := c.waitExited()
	p.status.ExitedAt = time.Now()
	close(p.exited)
	if err != nil {
		// Only if someone else reaped it: the caller is not the
		// subreaper it claimed to be, or waits for any child.
		p.err = errdefs.Unavailable("%s: wait: %w", p.name(), err)
		p.status.Code = 255
	} else {
		if p.oom != nil {
			p.status.OOMKilled = p.oom()
		}
		ws, err := c.reap()
		if err != nil {
			p.err = errdefs.Unavailable("%s: wait4: %w", p.name(), err)
			p.status.Code = 255
		} else {
			p.status.Code, p.status.Signal = exitCode(ws)
		}
	}
	p.mu.Lock()
	unix.Close(p.fd)
	p.fd = -1
	p.mu.Unlock()
	if p.execID != "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if err := p.r.Delete(ctx, p.id); err != nil && p.err == nil {
		p.err = err
	}
}

// exitCode is the status as Docker reports it: the exit code, or 128 plus
// the number of the signal that killed the process.
func exitCode(ws unix.WaitStatus) (int, syscall.Signal) {
	if ws.Signaled() {
		return 128 + int(ws.Signal()), ws.Signal()
	}
	return ws.ExitStatus(), 0
}
