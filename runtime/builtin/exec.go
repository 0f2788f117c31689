//go:build linux

package builtin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"unsafe"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime"
	"github.com/enginefs/enginefs/runtime/builtin/nsinit"
	"golang.org/x/sys/unix"
)

// Exec starts e.Process in the running container id: see runtime.Runtime
// and execinit.go for how. It returns once the program runs, or with an
// error: a container whose process e.Pid is gone or not in the container's
// cgroup is errdefs.ErrNotFound, a paused container errdefs.ErrBusy (Docker
// refuses too: the process would freeze in the cgroup before it could
// exec), a program that cannot be found errdefs.ErrInvalid with Docker's
// message, a caller that is not a child subreaper errdefs.ErrUnavailable
// (it could not wait for the process).
//
// The cgroup is runtime.CgroupParent/<id>, or the one the spec in e.Bundle
// names. The process is not the container's init: Wait does not remove the
// cgroup, and it dies with the container's pid 1.
func (r *Runtime) Exec(ctx context.Context, id string, e runtime.ExecProcess) (runtime.Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("container %s: exec: %w", id, err)
	}
	if err := validateID(id); err != nil {
		return nil, err
	}
	cfg, err := newExecConfig(e)
	if err != nil {
		return nil, fmt.Errorf("container %s: exec %s: %w", id, e.ID, err)
	}
	cgPath := runtime.CgroupParent + "/" + id
	if e.Bundle != "" {
		spec, err := runtime.ReadBundle(e.Bundle)
		if err != nil {
			return nil, fmt.Errorf("container %s: exec %s: %w", id, e.ID, err)
		}
		if cgPath, err = cgroupPath(id, spec); err != nil {
			return nil, fmt.Errorf("container %s: exec %s: %w", id, e.ID, err)
		}
		// The container's filter, as runc exec applies it.
		if spec.Linux != nil {
			if cfg.Seccomp, err = compileSeccomp(spec.Linux.Seccomp); err != nil {
				return nil, fmt.Errorf("container %s: exec %s: %w", id, e.ID, err)
			}
		}
	}
	if !isSubreaper() {
		return nil, errdefs.Unavailable("container %s: exec %s: the caller must be a child subreaper (prctl PR_SET_CHILD_SUBREAPER) to wait for exec'd processes", id, e.ID)
	}
	p, err := r.exec(ctx, e, cfg, cgPath, "container "+id+": exec "+e.ID)
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("container %s: exec %s: %w", id, e.ID, err)
	}
	return p, nil
}

// newExecConfig checks the process spec of e and turns it into the
// helper's config.
func newExecConfig(e runtime.ExecProcess) (*nsinit.ExecConfig, error) {
	p := e.Process
	switch {
	case p == nil || len(p.Args) == 0 || p.Args[0] == "":
		return nil, errdefs.Invalid("no program to run")
	case e.Pid <= 0:
		return nil, errdefs.Invalid("no process of the container to join (pid %d)", e.Pid)
	}
	if err := supportedProcess(p); err != nil {
		return nil, err
	}
	cfg := &nsinit.ExecConfig{
		Args: p.Args, Env: p.Env, Cwd: "/",
		UID: p.User.UID, GID: p.User.GID, Gids: p.User.AdditionalGids, Umask: 0o022,
		NoNewPrivs: p.NoNewPrivileges, Pid: e.Pid, Terminal: p.Terminal,
	}
	if p.Cwd != "" {
		if !path.IsAbs(p.Cwd) {
			return nil, errdefs.Invalid("working directory %q is not absolute", p.Cwd)
		}
		cfg.Cwd = path.Clean(p.Cwd)
	}
	if p.User.Umask != nil {
		cfg.Umask = int(*p.User.Umask)
	}
	var err error
	if cfg.Rlimits, err = newRlimits(p.Rlimits); err != nil {
		return nil, err
	}
	if cfg.Caps, err = newCapSets(p.Capabilities); err != nil {
		return nil, err
	}
	return cfg, nil
}

// isSubreaper reports whether orphans of this process's children come back
// to it.
func isSubreaper() bool {
	if os.Getpid() == 1 {
		return true
	}
	var v int32
	err := unix.Prctl(unix.PR_GET_CHILD_SUBREAPER, uintptr(unsafe.Pointer(&v)), 0, 0, 0)
	return err == nil && v != 0
}

// exec checks the container, runs the helper and adopts its child.
func (r *Runtime) exec(ctx context.Context, e runtime.ExecProcess, cfg *nsinit.ExecConfig, cgPath, name string) (_ *execProcess, retErr error) {
	pidfd, err := unix.PidfdOpen(e.Pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil, errdefs.NotFound("process %d is not running", e.Pid)
		}
		return nil, nsinit.Classify(fmt.Errorf("pidfd of %d: %w", e.Pid, err))
	}
	pidFile := os.NewFile(uintptr(pidfd), "pidfd")
	defer pidFile.Close()
	// The pidfd pins the process: if e.Pid is in the cgroup now, the
	// pidfd is a process of the container.
	g := &cgroup{path: cgPath}
	for _, d := range r.cg.dirs(cgPath) {
		g.dirs = append(g.dirs, d.Source)
	}
	if !slices.Contains(g.pids(), e.Pid) {
		return nil, errdefs.NotFound("process %d is not in the container's cgroup %s", e.Pid, cgPath)
	}
	if frozen, err := r.frozen(cgPath); err == nil && frozen {
		return nil, errdefs.Busy("the container is paused")
	}

	files := [3]*os.File{e.Stdio.Stdin, e.Stdio.Stdout, e.Stdio.Stderr}
	var console *os.File
	if cfg.Terminal {
		var slave *os.File
		console, slave, err = containerPty(e.Pid, pidfd, int(cfg.UID))
		if err != nil {
			return nil, err
		}
		if b := e.Process.ConsoleSize; b != nil {
			if err := nsinit.SetSize(console, &[2]uint16{uint16(b.Height), uint16(b.Width)}); err != nil {
				slave.Close()
				console.Close()
				return nil, nsinit.Classify(err)
			}
		}
		defer slave.Close()
		defer func() {
			if retErr != nil {
				console.Close()
			}
		}()
		files = [3]*os.File{slave, slave, slave}
	} else {
		var closeStdio func()
		if files, closeStdio, err = openStdio(e.Stdio); err != nil {
			return nil, err
		}
		defer closeStdio()
	}
	extra := []*os.File{nil, nil, pidFile} // config, report: below
	if r.cg.v2 != "" && cfg.Seccomp != nil {
		// Go clones into a cgroup with clone3, which docker's filter
		// answers ENOSYS: the helper moves itself instead.
		cfg.Tasks = []string{g.dirs[0] + "/cgroup.procs"}
	} else if r.cg.v2 != "" {
		dir, err := os.Open(g.dirs[0])
		if err != nil {
			return nil, nsinit.Classify(fmt.Errorf("cgroup: %w", err))
		}
		defer dir.Close()
		extra = append(extra, dir)
		cfg.CgroupFD = true
	} else {
		for _, d := range g.dirs {
			cfg.Tasks = append(cfg.Tasks, d+"/tasks")
		}
	}
	msg, err := nsinit.EncodeConfig(cfg)
	if err != nil {
		return nil, errdefs.Invalid("encode process: %w", err)
	}

	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, nsinit.Classify(err)
	}
	defer cfgW.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		cfgR.Close()
		return nil, nsinit.Classify(fmt.Errorf("report socket: %w", err))
	}
	report := os.NewFile(uintptr(fds[0]), "exec-report")
	defer report.Close()
	reportW := os.NewFile(uintptr(fds[1]), "exec-report")
	extra[0], extra[1] = cfgR, reportW
	exe, execFiles := r.bin.command(append(files[:], extra...))
	helper, err := os.StartProcess(exe, []string{nsinit.ExecArg0}, &os.ProcAttr{
		Dir:   "/",
		Env:   []string{},
		Files: execFiles,
	})
	cfgR.Close()
	reportW.Close()
	if err != nil {
		return nil, nsinit.Classify(fmt.Errorf("start exec helper: %w", err))
	}
	stop := context.AfterFunc(ctx, func() { _ = helper.Kill() })
	defer stop()
	_, _ = cfgW.Write(msg) // a helper that died early says nothing: below
	cfgW.Close()

	rep, childPidfd, rerr := nsinit.ReadExecReport(report)
	// Once the helper has exited, its child is this process's.
	_, werr := helper.Wait()
	switch {
	case rerr != nil:
		return nil, rerr
	case len(rep.Error) > 0:
		return nil, nsinit.DecodeError(rep.Error)
	case childPidfd == nil:
		if werr != nil {
			return nil, nsinit.Classify(fmt.Errorf("exec helper: %w", werr))
		}
		return nil, errdefs.Unavailable("exec helper exited without a report")
	}
	p := newExecProcess(name, rep.Pid, childPidfd, console)
	if ctx.Err() != nil {
		_ = p.Signal(unix.SIGKILL)
		_, _ = p.Wait(context.Background())
		return nil, ctx.Err()
	}
	return p, nil
}

// containerPty allocates a pseudo-terminal in the devpts of the container
// whose process pid (pinned by pidfd) is given, through /proc/<pid>/root.
func containerPty(pid, pidfd, uid int) (master, slave *os.File, err error) {
	root, err := unix.Open(fmt.Sprintf("/proc/%d/root", pid), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, nsinit.Classify(fmt.Errorf("container root: %w", err))
	}
	defer unix.Close(root)
	// The root opened was that of the pinned process if it still lives.
	if err := unix.PidfdSendSignal(pidfd, 0, nil, 0); err != nil {
		return nil, nil, errdefs.NotFound("process %d has exited", pid)
	}
	master, slave, err = nsinit.OpenPty(root, uid)
	if err != nil {
		return nil, nil, nsinit.Classify(fmt.Errorf("terminal: %w", err))
	}
	return master, slave, nil
}
