//go:build linux

package nsinit

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/enginefs/enginefs/errdefs"
	"golang.org/x/sys/unix"
)

// DefaultPathEnv is the PATH the program is looked up in when the
// container's environment has none: Docker's, runtime.DefaultPathEnv
// (which this package cannot import: it would link the runtime-spec).
const DefaultPathEnv = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// container is the child's view of the container it sets up.
type container struct {
	cfg  *InitConfig
	gate *gate
}

// run sets the container up and executes its program; it returns only on
// failure.
func (c *container) run() error {
	cfg := c.cfg
	// Nodes and directories get the modes the spec says.
	unix.Umask(0)
	for _, ns := range cfg.Join {
		if err := joinNamespace(ns); err != nil {
			return err
		}
	}
	if err := c.buildRoot(); err != nil {
		return err
	}
	// Docker creates a missing working directory, owned by root.
	if err := os.MkdirAll(cfg.Cwd, 0o755); err != nil {
		return errdefs.Invalid("container init: working directory %s: %w", cfg.Cwd, err)
	}
	if cfg.Console {
		if err := c.setupConsole(); err != nil {
			return err
		}
	}
	if err := c.finishRoot(); err != nil {
		return err
	}
	if cfg.NewUTS && cfg.Hostname != "" {
		if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
			return errdefs.Invalid("container init: hostname %q: %w", cfg.Hostname, err)
		}
	}
	if cfg.NewUTS && cfg.Domainname != "" {
		if err := unix.Setdomainname([]byte(cfg.Domainname)); err != nil {
			return errdefs.Invalid("container init: domainname %q: %w", cfg.Domainname, err)
		}
	}
	if cfg.NewNet {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	if cfg.OOMScoreAdj != nil {
		if err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(*cfg.OOMScoreAdj)), 0); err != nil {
			return fmt.Errorf("container init: oom_score_adj: %w", err)
		}
	}
	// Through package syscall, so that Go does not restore its own idea
	// of RLIMIT_NOFILE at execve.
	for _, l := range cfg.Rlimits {
		if err := syscall.Setrlimit(l.Resource, &syscall.Rlimit{Cur: l.Soft, Max: l.Hard}); err != nil {
			return Classify(fmt.Errorf("container init: rlimit %d soft=%d hard=%d: %w", l.Resource, l.Soft, l.Hard, err))
		}
	}
	if !cfg.NoNewPrivs {
		if err := cfg.Seccomp.install(); err != nil {
			return Classify(fmt.Errorf("container init: %w", err))
		}
	}
	// The bounding and inheritable sets while root; the ambient set after
	// the change of user (see caps.go).
	if err := cfg.Caps.limit(); err != nil {
		return Classify(fmt.Errorf("container init: %w", err))
	}
	if err := cfg.Caps.keepForAmbient(); err != nil {
		return Classify(fmt.Errorf("container init: %w", err))
	}
	if err := setUser(cfg.UID, cfg.GID, cfg.Gids); err != nil {
		return err
	}
	if err := cfg.Caps.raiseAmbient(); err != nil {
		return Classify(fmt.Errorf("container init: %w", err))
	}
	unix.Umask(cfg.Umask)
	if err := unix.Chdir(cfg.Cwd); err != nil {
		return errdefs.Invalid("container init: chdir to the working directory %s: %w", cfg.Cwd, err)
	}
	prog, err := lookPath(cfg.Args[0], cfg.Env)
	if err != nil {
		return err
	}
	if cfg.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("container init: no_new_privs: %w", err)
		}
		if err := cfg.Seccomp.install(); err != nil {
			return Classify(fmt.Errorf("container init: %w", err))
		}
	}
	err = syscall.Exec(prog, cfg.Args, cfg.Env)
	return errdefs.Invalid("exec: %q: %w", cfg.Args[0], err)
}

// joinNamespace enters the namespace at ns.Path (net, uts or ipc), before
// anything is mounted: sysfs and mqueue show the namespaces of who mounts
// them.
func joinNamespace(ns Namespace) error {
	fd, err := unix.Open(ns.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return errdefs.Invalid("container init: namespace %s: %w", ns.Path, err)
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, ns.Flag); err != nil {
		return errdefs.Invalid("container init: join namespace %s: %w", ns.Path, err)
	}
	return nil
}

// loopbackUp brings lo up in the container's fresh network namespace. An
// ioctl on a datagram socket does it in two system calls, where netlink
// would take a socket, a bind and a request/response to find the link and
// another to set it.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("container init: loopback: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("container init: loopback: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("container init: loopback flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("container init: loopback up: %w", err)
	}
	return nil
}

// setUser switches to the container's user; the supplementary groups are
// exactly the spec's (none by default), never the daemon's. It changes the
// credentials of the calling thread only, the one that execs the program
// (Go's syscall.Setuid would signal every thread of the runtime to do the
// same, for nothing).
func setUser(uid, gid uint32, groups []uint32) error {
	gids := make([]int, len(groups))
	for i, g := range groups {
		gids[i] = int(g)
	}
	if err := unix.Setgroups(gids); err != nil {
		return fmt.Errorf("container init: setgroups %v: %w", gids, err)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(gid), uintptr(gid), uintptr(gid)); e != 0 {
		return errdefs.Invalid("container init: setgid %d: %w", gid, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(uid), uintptr(uid), uintptr(uid)); e != 0 {
		return errdefs.Invalid("container init: setuid %d: %w", uid, e)
	}
	return nil
}

// lookPath finds the program the way execvp does, in the PATH of the
// container's environment (Docker's default PATH if it has none), and fails
// with Docker's messages, of class errdefs.ErrInvalid.
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		if err := executable(file); err != nil {
			return "", errdefs.Invalid("exec: %q: %w", file, err)
		}
		return file, nil
	}
	pathEnv, found := "", false
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathEnv, found = v, true
		}
	}
	if !found {
		pathEnv = DefaultPathEnv
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := dir + "/" + file
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", errdefs.Invalid("exec: %q: executable file not found in $PATH", file)
}

// executable checks that p is a file someone may execute.
func executable(p string) error {
	fi, err := os.Stat(p)
	switch {
	case err != nil:
		return err
	case fi.IsDir():
		return &fs.PathError{Op: "exec", Path: p, Err: unix.EISDIR}
	case fi.Mode()&0o111 == 0:
		return &fs.PathError{Op: "exec", Path: p, Err: unix.EACCES}
	}
	return nil
}
