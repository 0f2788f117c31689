//go:build linux

package nsinit

import (
	"errors"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"unsafe"

	"github.com/enginefs/enginefs/errdefs"
	"golang.org/x/sys/unix"
)

// IsInit reports whether this process is a container's first process or
// the helper of an exec, as the built-in runtime starts them (by their
// argv[0]); main must then call Init before doing anything else.
func IsInit() bool {
	return len(os.Args) > 0 && (os.Args[0] == InitArg0 || os.Args[0] == ExecArg0)
}

// Init sets the container up and executes its program, or (as the exec
// helper) starts a process in a container; it never returns. On failure it
// reports the error to the parent and exits with status 1; if the parent
// gave up on the container it exits with status 2.
func Init() {
	// Run from a sealed copy through /proc/self/fd, the process would be
	// named after the descriptor's number in ps.
	if name, err := unix.BytePtrFromString(os.Args[0]); err == nil {
		_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(name)), 0, 0, 0)
	}
	if os.Args[0] == ExecArg0 {
		execMain()
	}
	// One thread does all of it: credentials and the cgroup namespace are
	// per thread until execve.
	goruntime.LockOSThread()
	initPipe := os.NewFile(InitFd, "init")
	errPipe := os.NewFile(ErrorFd, "init-error")
	err := runInit(initPipe)
	if errors.Is(err, errAborted) {
		os.Exit(2)
	}
	_, _ = errPipe.Write(encodeError(err))
	os.Exit(1)
}

// Main is the whole program of a binary that is only the built-in
// runtime's child (cmd/enginefs-init): Init if the runtime started it,
// else a short message and exit status 2. It never returns.
//
// The runtime starts it with argv[0] InitArg0 or ExecArg0 and a pipe at
// descriptor 3; anything else (a user running it, or a container program
// that reaches it through /proc/self/exe) is refused before it touches a
// descriptor.
func Main() {
	var st unix.Stat_t
	if !IsInit() || unix.Fstat(3, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		fmt.Fprintln(os.Stderr, "enginefs-init: the built-in runtime's container init and exec helper, run by the runtime only")
		os.Exit(2)
	}
	Init()
}

// errAborted is how the child learns that the parent gave up.
var errAborted = errors.New("aborted by the parent")

// runInit returns only on failure.
func runInit(initPipe *os.File) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("container init: panic: %v", r)
		}
	}()
	// Nothing of the runtime may leak into the program.
	if err := hideDescriptors(); err != nil {
		return fmt.Errorf("container init: %w", err)
	}
	// Until execve, /proc/1/exe is the host's binary: keep the container's
	// other processes (an exec racing the start) from opening it
	// (CVE-2019-5736). execve makes the program dumpable again.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("container init: not dumpable: %w", err)
	}
	cfg, err := readConfig(initPipe)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return errAborted
		}
		return errdefs.Invalid("container init: read config: %w", err)
	}
	g := &gate{r: initPipe, cgroupNS: cfg.CgroupNS}
	if cfg.JoinCgroup {
		for _, d := range cfg.Cgroups {
			g.join = append(g.join, d.Source)
		}
	}
	c := &container{cfg: cfg, gate: g}
	return c.run()
}

// gate is the parent's go-ahead: the child waits for it before it needs
// to be in the container's cgroup.
type gate struct {
	r        io.Reader
	join     []string // cgroup v1 directories to move this thread into
	cgroupNS bool
	passed   bool
}

// wait blocks until the container's cgroup exists, and puts the calling
// thread in it. On cgroup v1 only this thread moves (writing 0 to tasks
// needs no global lock); it is the one that execs the program, which
// leaves it the only thread of the process.
func (g *gate) wait() error {
	if g.passed {
		return nil
	}
	var b [1]byte
	if n, err := g.r.Read(b[:]); n != 1 || b[0] != GoAhead {
		if err == nil || errors.Is(err, io.EOF) {
			return errAborted
		}
		return fmt.Errorf("container init: wait for the go-ahead: %w", err)
	}
	g.passed = true
	for _, d := range g.join {
		if err := os.WriteFile(d+"/tasks", []byte("0"), 0); err != nil {
			return fmt.Errorf("container init: join cgroup: %w", err)
		}
	}
	if g.cgroupNS {
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("container init: cgroup namespace: %w", err)
		}
	}
	return nil
}
