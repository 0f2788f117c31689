//go:build linux

package runtimetest

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/enginefs/enginefs/internal/testenv"
	"github.com/enginefs/enginefs/runtime"
)

// Busybox is the static busybox the test rootfs is made of (Debian's
// busybox-static).
const Busybox = "/bin/busybox"

// applets are linked to busybox in the test rootfs.
var applets = []string{
	"sh", "cat", "dd", "echo", "env", "false", "grep", "head", "hostname", "id",
	"ls", "mknod", "ps", "pwd", "seq", "sleep", "test", "touch", "tr", "true", "tty", "wc",
}

// NeedContainers skips tb, naming what is missing, on a host where
// containers cannot run: not root, no cgroup filesystem, no static busybox.
func NeedContainers(tb testing.TB) {
	tb.Helper()
	testenv.NeedContainers(tb)
}

var subreaper struct {
	once sync.Once
	err  error
}

// SetSubreaper makes the test process a child subreaper (prctl
// PR_SET_CHILD_SUBREAPER), as runtime.Runtime requires of its caller, for
// the rest of its life: the setting is per process, and a process orphaned
// later must still come back to it.
func SetSubreaper(tb testing.TB) {
	tb.Helper()
	subreaper.once.Do(func() {
		subreaper.err = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	})
	if subreaper.err != nil {
		tb.Fatalf("prctl PR_SET_CHILD_SUBREAPER: %v", subreaper.err)
	}
}

var lastID atomic.Int64

// NewID returns a container id unique on the host.
func NewID() string {
	return fmt.Sprintf("rtt-%d-%d", os.Getpid(), lastID.Add(1))
}

// NewBundle writes, in a temporary directory of tb, a bundle whose config
// is runtime.Spec(opts) (opts.ID defaults to NewID()) changed by edit when
// not nil, and whose rootfs is busybox with a few applets, /etc/passwd
// (root, and app with uid and gid 1000) and /etc/group (root 0, wheel 10,
// staff 50, app 1000). It returns the bundle directory and the spec.
func NewBundle(tb testing.TB, opts runtime.SpecOptions, edit func(*specs.Spec)) (string, *specs.Spec) {
	tb.Helper()
	if opts.ID == "" {
		opts.ID = NewID()
	}
	bundle := tb.TempDir()
	WriteRootfs(tb, filepath.Join(bundle, "rootfs"))
	s, err := runtime.Spec(opts)
	if err != nil {
		tb.Fatalf("runtime.Spec: %v", err)
	}
	if edit != nil {
		edit(s)
	}
	if err := runtime.WriteBundle(bundle, s); err != nil {
		tb.Fatalf("runtime.WriteBundle: %v", err)
	}
	return bundle, s
}

// WriteRootfs makes the busybox rootfs NewBundle uses in dir.
func WriteRootfs(tb testing.TB, dir string) {
	tb.Helper()
	for _, d := range []string{"bin", "etc", "proc", "sys", "dev", "home/app"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "tmp"), 0o777); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chown(filepath.Join(dir, "home/app"), 1000, 1000); err != nil {
		tb.Fatal(err)
	}
	in, err := os.Open(Busybox)
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(filepath.Join(dir, "bin/busybox"), os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		tb.Fatal(err)
	}
	if err := out.Close(); err != nil {
		tb.Fatal(err)
	}
	for _, a := range applets {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", a)); err != nil {
			tb.Fatal(err)
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
		"etc/group":  "root:x:0:\nwheel:x:10:\nstaff:x:50:\napp:x:1000:\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// cgroupDirs lists the host directories of the cgroup at p (a path below
// the hierarchies' roots, as the spec's cgroupsPath) that exist: in every
// v1 hierarchy, a v2 one mounted beside them (hybrid), or the unified
// hierarchy at /sys/fs/cgroup itself.
func cgroupDirs(p string) []string {
	if p == "" {
		return nil
	}
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + p)
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", p, "cgroup.procs")); err == nil {
		dirs = append(dirs, filepath.Join("/sys/fs/cgroup", p))
	}
	return dirs
}

// cgroupParents returns the directories of runtime.CgroupParent that do not
// exist yet, in every hierarchy: those the runtimes will make.
func missingCgroupParents() []string {
	var out []string
	hierarchies, _ := filepath.Glob("/sys/fs/cgroup/*/cgroup.procs")
	hierarchies = append(hierarchies, "/sys/fs/cgroup/cgroup.procs")
	for _, h := range hierarchies {
		if _, err := os.Stat(h); err != nil {
			continue
		}
		p := filepath.Join(filepath.Dir(h), runtime.CgroupParent)
		if _, err := os.Stat(p); err != nil {
			out = append(out, p)
		}
	}
	return out
}
