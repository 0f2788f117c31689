//go:build linux

package nsinit

import (
	"errors"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"strconv"
	"syscall"

	"github.com/enginefs/enginefs/errdefs"
	"golang.org/x/sys/unix"
)

// The exec helper is the runtime's binary re-executed as ExecArg0, a host
// process that never enters the container's pid namespace (setns of a pid
// namespace only places the children), so that the container cannot reach
// the host's binary through /proc/<pid>/exe (CVE-2019-5736). It locks its
// main goroutine to its thread, gives that thread its own root and working
// directory (unshare CLONE_FS, needed to enter a mount namespace), moves it
// into the container's cgroup (v1) and namespaces, limits its capabilities,
// and forks the program from it: Go's fork runs on the calling thread, so
// the child inherits the thread's namespaces, cgroup and credentials, and
// is born in the container's pid namespace. The helper reports the child's
// pid and a pidfd for it, then exits; the child is reparented to Exec's
// caller, a child subreaper.
//
// Descriptors of the helper: 0-2 the process's stdio, ExecConfigFd the
// config pipe, ExecReportFd the report socket, ExecPidFd a pidfd of a
// process of the container (whose namespaces it joins), ExecCgroupFd (cgroup
// v2) the cgroup's directory, which the child is cloned into.

// execNamespaces are the namespaces an exec'd process shares with the
// container (not the user namespace, which the built-in runtime does not
// make).
var execNamespaces = []struct {
	name string
	flag int
}{
	// The mount namespace last: the others are opened through the
	// host's /proc.
	{"ipc", unix.CLONE_NEWIPC},
	{"uts", unix.CLONE_NEWUTS},
	{"net", unix.CLONE_NEWNET},
	{"pid", unix.CLONE_NEWPID},
	{"cgroup", unix.CLONE_NEWCGROUP},
	{"mnt", unix.CLONE_NEWNS},
}

// execMain is the helper's main; it never returns.
func execMain() {
	// Never unlocked: the thread changes namespaces and credentials and
	// dies with the process.
	goruntime.LockOSThread()
	pid, pidfd, err := runExecHelper()
	if serr := sendExecReport(pid, pidfd, err); serr != nil && err == nil {
		// Nobody will wait for the child: do not leave it behind.
		_ = unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
		os.Exit(1)
	}
	if err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}

// runExecHelper joins the container and starts the program; it returns its
// pid and a pidfd for it.
func runExecHelper() (pid, pidfd int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("exec: panic: %v", r)
		}
	}()
	if err := hideDescriptors(); err != nil {
		return 0, 0, fmt.Errorf("exec: %w", err)
	}
	var cfg ExecConfig
	if err := readFrame(os.NewFile(ExecConfigFd, "config"), &cfg); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, 0, errAborted
		}
		return 0, 0, errdefs.Invalid("exec: read config: %w", err)
	}
	if len(cfg.Args) == 0 {
		return 0, 0, errdefs.Invalid("exec: no program")
	}
	// The child shares this process's memory until it execs: keep the
	// container from opening it through /proc (CVE-2019-5736).
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return 0, 0, fmt.Errorf("exec: not dumpable: %w", err)
	}
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return 0, 0, fmt.Errorf("exec: unshare fs: %w", err)
	}
	for _, t := range cfg.Tasks {
		if err := os.WriteFile(t, []byte("0"), 0); err != nil {
			return 0, 0, Classify(fmt.Errorf("exec: join cgroup: %w", err))
		}
	}
	if err := joinContainer(cfg.Pid); err != nil {
		return 0, 0, err
	}
	unix.Umask(cfg.Umask)
	// Resolved in the container's root, from this thread.
	prog, err := lookPath(cfg.Args[0], cfg.Env)
	if err != nil {
		return 0, 0, err
	}
	if fi, err := os.Stat(cfg.Cwd); err != nil || !fi.IsDir() {
		if err == nil {
			err = unix.ENOTDIR
		}
		return 0, 0, errdefs.Invalid("exec: chdir to the working directory %q: %w", cfg.Cwd, err)
	}
	if !cfg.NoNewPrivs {
		if err := cfg.Seccomp.install(); err != nil {
			return 0, 0, Classify(fmt.Errorf("exec: %w", err))
		}
	}
	if err := cfg.Caps.limit(); err != nil {
		return 0, 0, Classify(fmt.Errorf("exec: %w", err))
	}
	// Process-wide, inherited by the child; through package syscall so
	// that Go does not restore its own RLIMIT_NOFILE in the child.
	for _, l := range cfg.Rlimits {
		if err := syscall.Setrlimit(l.Resource, &syscall.Rlimit{Cur: l.Soft, Max: l.Hard}); err != nil {
			return 0, 0, Classify(fmt.Errorf("exec: rlimit %d soft=%d hard=%d: %w", l.Resource, l.Soft, l.Hard, err))
		}
	}
	if cfg.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return 0, 0, fmt.Errorf("exec: no_new_privs: %w", err)
		}
		if err := cfg.Seccomp.install(); err != nil {
			return 0, 0, Classify(fmt.Errorf("exec: %w", err))
		}
	}
	groups := make([]uint32, len(cfg.Gids))
	copy(groups, cfg.Gids)
	pidfd = -1
	sys := &syscall.SysProcAttr{
		Setsid:      true,
		Setctty:     cfg.Terminal,
		Credential:  &syscall.Credential{Uid: cfg.UID, Gid: cfg.GID, Groups: groups},
		AmbientCaps: cfg.Caps.ambientList(),
		PidFD:       &pidfd,
	}
	if cfg.CgroupFD {
		sys.UseCgroupFD, sys.CgroupFD = true, ExecCgroupFd
	}
	proc, err := os.StartProcess(prog, cfg.Args, &os.ProcAttr{
		Dir:   cfg.Cwd,
		Env:   cfg.Env,
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
		Sys:   sys,
	})
	if err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) && (errno == unix.ENOENT || errno == unix.EACCES || errno == unix.ENOEXEC) {
			return 0, 0, errdefs.Invalid("exec: %q: %w", cfg.Args[0], err)
		}
		return 0, 0, Classify(fmt.Errorf("exec: %q: %w", cfg.Args[0], err))
	}
	pid = proc.Pid
	_ = proc.Release()
	if pidfd < 0 {
		// A kernel without CLONE_PIDFD; the child cannot have been
		// reaped (nobody waits here), so its pid is still its own.
		if pidfd, err = unix.PidfdOpen(pid, 0); err != nil {
			_ = unix.Kill(pid, unix.SIGKILL)
			return 0, 0, Classify(fmt.Errorf("exec: pidfd: %w", err))
		}
	}
	return pid, pidfd, nil
}

// joinContainer moves the calling thread into the namespaces of the
// process behind ExecPidFd, at once through the pidfd (Linux 5.8), or one
// by one through /proc/<pid>/ns, the mount namespace last.
func joinContainer(pid int) error {
	var flags int
	for _, ns := range execNamespaces {
		flags |= ns.flag
	}
	err := unix.Setns(ExecPidFd, flags)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EINVAL) {
		return Classify(fmt.Errorf("exec: join the container's namespaces: %w", err))
	}
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for _, ns := range execNamespaces {
		fd, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/ns/"+ns.name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return Classify(fmt.Errorf("exec: %s namespace: %w", ns.name, err))
		}
		fds = append(fds, fd)
	}
	// The pid was that process's when the files were opened if it still
	// lives now.
	if err := unix.PidfdSendSignal(ExecPidFd, 0, nil, 0); err != nil {
		return errdefs.NotFound("exec: the container's process %d has exited", pid)
	}
	for i, ns := range execNamespaces {
		if err := unix.Setns(fds[i], ns.flag); err != nil {
			return Classify(fmt.Errorf("exec: join %s namespace: %w", ns.name, err))
		}
	}
	return nil
}
