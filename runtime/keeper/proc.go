package keeper

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/logs"
	"github.com/enginefs/enginefs/runtime"
	"golang.org/x/sys/unix"
)

// drainGrace is how long the output of a process that has exited is still
// copied while something else holds its pipes (a background process an
// exec left); then the keeper closes them and writes End.
const drainGrace = 2 * time.Second

// bufSize is the size of the copy buffers. Only a copy in progress holds
// one: an idle stream holds no memory but its goroutine.
const bufSize = 32 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// proc is a process the keeper runs: its stdio, its log, and once it has
// exited its status, kept until the client forgets it.
type proc struct {
	key     key
	pid     int
	rp      runtime.Process
	started time.Time // when the runtime's start returned; no exit is earlier
	log     *logs.Writer
	sinks   []sink         // the logging driver's copies of the output
	outs    []output       // what the copiers read
	tty     *os.File       // the terminal's master; nil without a terminal
	copiers sync.WaitGroup // one per output

	exiting atomic.Bool // the process has exited; its files close

	stdinMu sync.Mutex
	stdin   *os.File // the stdin pipe's write end; nil without OpenStdin or once closed

	// Guarded by server.mu.
	exited    bool
	status    runtime.ExitStatus
	forgotten bool // drop the status when the process exits
	waiters   []*waiter
}

// output is a file the process writes to and the stream it is logged as.
type output struct {
	f      *os.File
	stream logs.Stream
}

// waiter is a Wait call; fn runs once, in a goroutine of its own, when the
// process has exited.
type waiter struct {
	fn func(runtime.ExitStatus, error)
}

func (p *proc) String() string {
	if p.key.exec == "" {
		return "container " + p.key.id
	}
	return fmt.Sprintf("container %s exec %s", p.key.id, p.key.exec)
}

// pipes are the stdio of a process without a terminal.
type pipes struct {
	child          runtime.Stdio // the ends the process gets
	stdout, stderr *os.File      // ours, to read
	stdin          *os.File      // ours, to write; nil without OpenStdin
}

// newPipes makes the pipes; stdin is /dev/null (a nil file) unless
// openStdin.
func newPipes(openStdin bool) (_ *pipes, err error) {
	p := &pipes{}
	defer func() {
		if err != nil {
			p.closeChild()
			p.closeOurs()
		}
	}()
	if p.stdout, p.child.Stdout, err = os.Pipe(); err != nil {
		return p, err
	}
	if p.stderr, p.child.Stderr, err = os.Pipe(); err != nil {
		return p, err
	}
	if openStdin {
		if p.child.Stdin, p.stdin, err = os.Pipe(); err != nil {
			return p, err
		}
	}
	return p, nil
}

func (p *pipes) closeChild() { closeAll(p.child.Stdin, p.child.Stdout, p.child.Stderr) }
func (p *pipes) closeOurs()  { closeAll(p.stdin, p.stdout, p.stderr) }

func closeAll(files ...*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

// pollable returns a copy of f in non-blocking mode, which the runtime's
// poller serves (a goroutine reading it parks instead of holding a
// thread), and closes f.
func pollable(f *os.File) (*os.File, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var fd int
	var dupErr error
	if err := rc.Control(func(old uintptr) { fd, dupErr = unix.FcntlInt(old, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, err
	}
	if dupErr != nil {
		return nil, dupErr
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	name := f.Name()
	f.Close()
	return os.NewFile(uintptr(fd), name), nil
}

// copyOut copies one output into the log until EOF (a terminal: EIO once
// no process holds its other side), the drain deadline, or an error. It
// borrows a buffer only while data is ready.
func (s *server) copyOut(p *proc, o output) {
	defer p.copiers.Done()
	rc, err := o.f.SyscallConn()
	if err != nil {
		s.logf("%v: %v: %v", p, o.stream, err)
		return
	}
	failed := false
	for {
		var (
			buf  *[]byte
			n    int
			rerr error
		)
		err := rc.Read(func(fd uintptr) bool {
			buf = bufPool.Get().(*[]byte)
			n, rerr = unix.Read(int(fd), *buf)
			if rerr == unix.EAGAIN {
				bufPool.Put(buf)
				buf = nil
				return false
			}
			return true
		})
		if n > 0 {
			werr := p.log.Write(o.stream, (*buf)[:n])
			for _, sk := range p.sinks {
				if serr := sk.Write(o.stream, (*buf)[:n], time.Now()); werr == nil {
					werr = serr
				}
			}
			if werr != nil && !failed {
				// Go on reading, or the process blocks.
				s.logf("%v: %v", p, werr)
				failed = true
			}
		}
		if buf != nil {
			bufPool.Put(buf)
		}
		switch {
		case err != nil:
			if !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, fs.ErrClosed) {
				s.logf("%v: %v: %v", p, o.stream, err)
			}
			return
		case rerr == unix.EINTR:
		case n <= 0:
			if rerr != nil && rerr != unix.EIO {
				s.logf("%v: %v: %v", p, o.stream, rerr)
			}
			return
		}
	}
}

// reap waits for the process to exit and its output to be drained, writes
// End, and hands the status to the waiters.
func (s *server) reap(p *proc) {
	st, err := p.rp.Wait(context.Background())
	if err != nil {
		s.logf("%v: %v", p, err)
	}
	// A process that exits before its start returns has an ExitedAt
	// before StartedAt: the two would read as finished before started.
	if st.ExitedAt.Before(p.started) {
		st.ExitedAt = p.started
	}
	p.exiting.Store(true)
	deadline := time.Now().Add(drainGrace)
	for _, o := range p.outs {
		_ = o.f.SetReadDeadline(deadline)
	}
	p.copiers.Wait()
	for _, o := range p.outs {
		o.f.Close()
	}
	if err := p.log.End(); err != nil {
		s.logf("%v: %v", p, err)
	}
	if err := p.log.Close(); err != nil {
		s.logf("%v: %v", p, err)
	}
	for _, sk := range p.sinks {
		if err := sk.Close(); err != nil {
			s.logf("%v: %v", p, err)
		}
	}
	p.stdinMu.Lock()
	closeAll(p.stdin)
	p.stdin = nil
	p.stdinMu.Unlock()

	s.mu.Lock()
	p.exited, p.status = true, st
	waiters := p.waiters
	p.waiters = nil
	if p.forgotten && s.procs[p.key] == p {
		delete(s.procs, p.key)
	}
	s.checkIdle()
	s.mu.Unlock()
	for _, w := range waiters {
		go w.fn(st, nil)
	}
}

// input is where WriteStdin writes: the terminal or the stdin pipe.
func (p *proc) input() *os.File {
	if p.tty != nil {
		return p.tty
	}
	p.stdinMu.Lock()
	defer p.stdinMu.Unlock()
	return p.stdin
}

// writeStdin writes data to the process's input; a done ctx interrupts a
// write the process does not read.
func (p *proc) writeStdin(ctx context.Context, data []byte) error {
	f := p.input()
	switch {
	case p.exiting.Load():
		return errdefs.Busy("%v has exited", p)
	case f == nil:
		return errdefs.Invalid("%v: no stdin to write to (closed, or not asked for)", p)
	}
	stop := context.AfterFunc(ctx, func() { _ = f.SetWriteDeadline(time.Now()) })
	_, err := f.Write(data)
	if !stop() {
		_ = f.SetWriteDeadline(time.Time{})
	}
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("%v: write stdin: %w", p, ctx.Err())
	case p.exiting.Load(), errors.Is(err, fs.ErrClosed), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.EIO):
		return errdefs.Busy("%v: stdin is closed: the process has exited or closed it", p)
	}
	return fmt.Errorf("%v: write stdin: %w", p, err)
}

// closeStdin closes the stdin pipe, or sends the terminal's EOF character.
func (p *proc) closeStdin() error {
	if p.tty == nil {
		// Without OpenStdin the stdin is /dev/null: nothing to close.
		p.stdinMu.Lock()
		f := p.stdin
		p.stdin = nil
		p.stdinMu.Unlock()
		closeAll(f)
		return nil
	}
	var eof byte = 4 // ^D
	if err := p.control(func(fd int) error {
		t, err := unix.IoctlGetTermios(fd, unix.TCGETS) // the slave's, through the master
		if err == nil && t.Cc[unix.VEOF] != 0 {
			eof = t.Cc[unix.VEOF]
		}
		return nil
	}); err != nil {
		return err
	}
	return p.writeStdin(context.Background(), []byte{eof})
}

// resize sets the terminal's window size; the kernel signals SIGWINCH to
// the terminal's foreground process group.
func (p *proc) resize(rows, cols uint16) error {
	if p.tty == nil {
		return errdefs.Invalid("%v has no terminal", p)
	}
	return p.control(func(fd int) error {
		return unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
	})
}

// control runs fn on the terminal's descriptor.
func (p *proc) control(fn func(fd int) error) error {
	rc, err := p.tty.SyscallConn()
	if err != nil {
		return fmt.Errorf("%v: %w", p, err)
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		if p.exiting.Load() {
			return errdefs.Busy("%v has exited", p)
		}
		return fmt.Errorf("%v: %w", p, err)
	}
	if ferr != nil {
		return fmt.Errorf("%v: terminal: %w", p, ferr)
	}
	return nil
}
