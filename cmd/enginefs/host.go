package main

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/enginefs/enginefs/errdefs"
)

// runDirMode is the mode of the run directory: it holds the 9P and Docker
// API sockets, through which a client acts as root, so root alone may
// enter it (dockerd's /run/docker is 0700 too).
const runDirMode = 0o700

// checkNinepTCP refuses 9P on TCP unless insecure is set: 9P has no
// authentication (no Tauth, no TLS yet), so anyone who can connect, any
// local user or a --network host container on loopback, acts as root.
func checkNinepTCP(addrs []string, insecure bool) error {
	if insecure {
		return nil
	}
	for _, a := range addrs {
		if strings.HasPrefix(a, "tcp:") {
			return errdefs.Invalid("--9p %s: 9P over TCP has no authentication: any local user or host-network container "+
				"that connects gets root; pass --insecure-tcp to serve it anyway, or use a unix socket", a)
		}
	}
	return nil
}

// privateDir makes dir if missing and gives it runDirMode, owned by this
// process's user. An existing directory with a wider mode is narrowed (and
// logged); one owned by another user is refused, as that user could
// replace the sockets in it.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, runDirMode); err != nil {
		return err
	}
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Geteuid() {
		return errdefs.Invalid("run directory %s belongs to uid %d, not %d: another user could replace its sockets", dir, sys.Uid, os.Geteuid())
	}
	if perm := st.Mode().Perm(); perm != runDirMode {
		if err := os.Chmod(dir, runDirMode); err != nil {
			return fmt.Errorf("run directory %s: %w", dir, err)
		}
		log.Printf("run directory %s had mode %#o: made it %#o, as its sockets give root", dir, perm, runDirMode)
	}
	return nil
}

// livePid returns the pid in pidFile if that process runs and is an
// enginefs (a pid reused by another program after a crash does not count),
// else 0.
func livePid(pidFile string) int {
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return 0
	}
	var pid int
	if _, err := fmt.Sscan(string(data), &pid); err != nil || pid <= 0 || pid == os.Getpid() || syscall.Kill(pid, 0) != nil {
		return 0
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return pid // cannot tell: assume it is
	}
	argv0, _, _ := strings.Cut(string(cmdline), "\x00")
	if filepath.Base(argv0) != "enginefs" {
		return 0
	}
	return pid
}

// logNofile logs the open-file limit when its soft value is below its
// hard one. The Go runtime raises the soft RLIMIT_NOFILE to the hard limit
// at start (as dockerd and containerd do), and gives the processes it
// starts the original soft limit back; it fails silently, which this says.
func logNofile() {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		log.Printf("RLIMIT_NOFILE: %v", err)
		return
	}
	if lim.Cur < lim.Max {
		log.Printf("open files: soft limit %d, below the hard limit %d: many clients may run the daemon out of descriptors", lim.Cur, lim.Max)
	}
}
