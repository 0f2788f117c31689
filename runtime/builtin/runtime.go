//go:build linux

package builtin

import (
	"context"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime"
	"github.com/enginefs/enginefs/runtime/builtin/nsinit"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Runtime is the built-in runtime. It holds no lock while starting
// containers: Start may be called by many goroutines at once.
type Runtime struct {
	bin *binary
	cg  *cgroupHost
}

var _ runtime.Runtime = (*Runtime)(nil)

// New returns the built-in runtime. It reads the host's cgroup setup once
// (a host without cgroups is errdefs.ErrUnavailable) and, unless it is
// DefaultBinary, copies the binary (see WithBinary).
func New(opts ...Option) (*Runtime, error) {
	o := options{binary: DefaultBinary}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	cg, err := newCgroupHost()
	if err != nil {
		return nil, fmt.Errorf("builtin runtime: %w", err)
	}
	bin, err := openBinary(o.binary)
	if err != nil {
		return nil, err
	}
	return &Runtime{bin: bin, cg: cg}, nil
}

// Delete implements runtime.Runtime for the cgroup at
// runtime.CgroupParent/<id>, where Spec puts it: it kills the processes
// still in it (SIGKILL), waits for them to go, and removes its directories.
// A paused container is thawed once its processes have been sent SIGKILL:
// a frozen task does not die before it is thawed (cgroup v1), and thawed
// after the signal it cannot run anything else.
func (r *Runtime) Delete(ctx context.Context, id string) error {
	if err := validateID(id); err != nil {
		return err
	}
	p := runtime.CgroupParent + "/" + id
	g := &cgroup{path: p}
	for _, d := range r.cg.dirs(p) {
		g.dirs = append(g.dirs, d.Source)
	}
	for i := 0; ; i++ {
		pids := g.pids()
		if len(pids) == 0 {
			break
		}
		if i == 200 || ctx.Err() != nil {
			return errdefs.Busy("container %s: processes %v do not die", id, pids)
		}
		for _, pid := range pids {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		if i == 0 {
			if frozen, err := r.frozen(p); err == nil && frozen {
				_ = r.Resume(ctx, id)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := g.rmdir(); err != nil {
		return errdefs.Busy("container %s: %w", id, err)
	}
	return nil
}

// Start runs the container c: see runtime.Runtime. The errors have the
// classes the interface names, plus errdefs.ErrUnavailable for what the
// built-in runtime or the host cannot do and errdefs.ErrAlreadyExists for a
// cgroup that is in use.
//
// Moving a process into a cgroup by writing its pid takes a global lock
// whose first writer waits for an RCU grace period (about 10ms on a quiet
// host). Start avoids it: on cgroup v2 the child is cloned straight into its
// cgroup (CLONE_INTO_CGROUP); on v1 the cgroup is made while the child
// starts, and the child moves its own thread, the one that will execve, by
// writing 0 to each hierarchy's tasks file, which takes no global lock.
func (r *Runtime) Start(ctx context.Context, c runtime.Container) (runtime.Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("container %s: start: %w", c.ID, err)
	}
	if err := validateID(c.ID); err != nil {
		return nil, err
	}
	spec, err := runtime.ReadBundle(c.Bundle)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.ID, err)
	}
	cfg, cloneflags, err := newInitConfig(c.Bundle, spec)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.ID, err)
	}
	cgPath, err := cgroupPath(c.ID, spec)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.ID, err)
	}
	cfg.Cgroups = r.cg.dirs(cgPath)

	p, err := r.start(ctx, c, spec, cfg, cloneflags, cgPath)
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("container %s: %w", c.ID, err)
	}
	return p, nil
}

// start creates the cgroup and the child and sees the child through to
// execve; on failure it kills the child and removes the cgroup.
func (r *Runtime) start(ctx context.Context, c runtime.Container, spec *specs.Spec, cfg *nsinit.InitConfig, cloneflags uintptr, cgPath string) (_ *process, retErr error) {
	var (
		cg   *cgroup
		proc *os.Process
	)
	defer func() {
		if retErr == nil {
			return
		}
		if proc != nil {
			_ = proc.Kill()
			_, _ = proc.Wait()
		}
		if cg != nil {
			_ = cg.delete()
		}
	}()

	stdio := c.Stdio
	if cfg.Console {
		stdio = runtime.Stdio{} // the child makes the terminal its stdio
	}
	files, closeStdio, err := openStdio(stdio)
	if err != nil {
		return nil, err
	}
	defer closeStdio()
	// Setsid: the program is a session leader, which may take the
	// terminal as its controlling terminal.
	sys := &syscall.SysProcAttr{Cloneflags: cloneflags, Setsid: true}
	var warnings []string
	if r.cg.v2 != "" {
		if cg, warnings, err = r.cg.create(cgPath, spec.Linux.Resources); err != nil {
			return nil, err
		}
		dir, err := unix.Open(cg.dirs[0], unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, nsinit.Classify(fmt.Errorf("cgroup: %w", err))
		}
		defer unix.Close(dir)
		sys.UseCgroupFD, sys.CgroupFD = true, dir
		if cfg.CgroupNS {
			// Born in its cgroup, the child can have its cgroup
			// namespace at once.
			sys.Cloneflags |= unix.CLONE_NEWCGROUP
			cfg.CgroupNS = false
		}
	} else {
		cfg.JoinCgroup = true
	}
	msg, err := nsinit.EncodeConfig(cfg)
	if err != nil {
		return nil, errdefs.Invalid("encode spec: %w", err)
	}
	if cg != nil {
		msg = append(msg, nsinit.GoAhead) // nothing to wait for
	}

	initR, initW, err := os.Pipe()
	if err != nil {
		return nil, nsinit.Classify(err)
	}
	defer initW.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		initR.Close()
		return nil, nsinit.Classify(err)
	}
	defer errR.Close()
	childFiles := []*os.File{files[0], files[1], files[2], initR, errW}
	var consoleSock *os.File
	if cfg.Console {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			initR.Close()
			errW.Close()
			return nil, nsinit.Classify(fmt.Errorf("console socket: %w", err))
		}
		consoleSock = os.NewFile(uintptr(fds[0]), "console")
		defer consoleSock.Close()
		childSock := os.NewFile(uintptr(fds[1]), "console")
		defer childSock.Close()
		childFiles = append(childFiles, childSock)
	}
	exe, execFiles := r.bin.command(childFiles)
	proc, err = os.StartProcess(exe, []string{nsinit.InitArg0}, &os.ProcAttr{
		Dir:   "/",
		Env:   []string{},
		Files: execFiles,
		Sys:   sys,
	})
	initR.Close()
	errW.Close()
	if len(childFiles) > nsinit.ConsoleFd {
		childFiles[nsinit.ConsoleFd].Close()
	}
	if err != nil {
		return nil, nsinit.Classify(fmt.Errorf("start init: %w", err))
	}
	stop := context.AfterFunc(ctx, func() { _ = proc.Kill() })
	defer stop()

	_, err = initW.Write(msg)
	sent := err == nil
	if sent && cg == nil {
		// The child starts and builds its root meanwhile.
		if cg, warnings, err = r.cg.create(cgPath, spec.Linux.Resources); err != nil {
			return nil, err
		}
		// A child that already failed cannot read this; its error follows.
		_, _ = initW.Write([]byte{nsinit.GoAhead})
	}
	initW.Close()

	// The console comes before the end of the error pipe; nothing, if
	// the child fails first.
	var console *os.File
	if consoleSock != nil {
		console, err = nsinit.RecvFd(consoleSock, "/dev/ptmx")
		if err != nil {
			return nil, nsinit.Classify(err)
		}
		if console != nil {
			defer func() {
				if retErr != nil {
					console.Close()
				}
			}()
		}
	}
	report, err := io.ReadAll(errR)
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case err != nil:
		return nil, nsinit.Classify(fmt.Errorf("read init error pipe: %w", err))
	case len(report) > 0:
		return nil, nsinit.DecodeError(report)
	case !sent:
		return nil, errdefs.Unavailable("init exited before reading its config")
	case consoleSock != nil && console == nil:
		return nil, errdefs.Unavailable("init did not send its console")
	}
	p := newProcess(c.ID, proc, cg)
	p.console, p.warnings = console, warnings
	return p, nil
}

// openStdio returns the three files of the process, /dev/null for the
// missing ones, and a function closing what it opened.
func openStdio(s runtime.Stdio) ([3]*os.File, func(), error) {
	files := [3]*os.File{s.Stdin, s.Stdout, s.Stderr}
	var null *os.File
	for i, f := range files {
		if f != nil {
			continue
		}
		if null == nil {
			var err error
			if null, err = os.OpenFile(os.DevNull, os.O_RDWR, 0); err != nil {
				return files, func() {}, nsinit.Classify(err)
			}
		}
		files[i] = null
	}
	return files, func() {
		if null != nil {
			null.Close()
		}
	}, nil
}
