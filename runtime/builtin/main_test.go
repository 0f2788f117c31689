//go:build linux

package builtin

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/enginefs/enginefs/internal/testenv"
	"github.com/enginefs/enginefs/runtime"
)

// TestMain lets the test binary be the container's init, as the daemon is.
// It also removes the cgroup parent directories the tests created (only
// when empty: rmdir fails on a cgroup with children).
func TestMain(m *testing.M) {
	if IsInit() {
		Init()
	}
	// Exec's processes come back to the caller when its helper exits.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "child subreaper:", err)
		os.Exit(1)
	}
	parents := []string{"/sys/fs/cgroup" + runtime.CgroupParent}
	globbed, _ := filepath.Glob("/sys/fs/cgroup/*" + runtime.CgroupParent)
	var created []string
	for _, p := range append(parents, globbed...) {
		if _, err := os.Stat(p); err != nil {
			created = append(created, p)
		}
	}
	// Those that appear during the run.
	hierarchies, _ := filepath.Glob("/sys/fs/cgroup/*/cgroup.procs")
	for _, h := range hierarchies {
		p := filepath.Join(filepath.Dir(h), runtime.CgroupParent)
		if _, err := os.Stat(p); err != nil {
			created = append(created, p)
		}
	}
	dir, err := os.MkdirTemp("", "enginefs-builtin-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tinyInitDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	for _, p := range created {
		_ = os.Remove(p)
	}
	os.Exit(code)
}

// tinyInitDir holds cmd/enginefs-init once tinyInit built it.
var tinyInitDir string

// tinyInit builds cmd/enginefs-init, the child binary the keeper uses,
// once for the whole run (with -race when the tests have it), and returns
// its path.
func tinyInit(tb testing.TB) string {
	tb.Helper()
	buildTinyInit.Do(func() {
		p := filepath.Join(tinyInitDir, "enginefs-init")
		out, err := testenv.GoBuild(context.Background(), p, "github.com/enginefs/enginefs/cmd/enginefs-init", true).CombinedOutput()
		if err != nil {
			tinyInitErr = fmt.Errorf("go build cmd/enginefs-init: %w\n%s", err, out)
			return
		}
		tinyInitPath = p
	})
	if tinyInitErr != nil {
		tb.Fatal(tinyInitErr)
	}
	return tinyInitPath
}

var (
	buildTinyInit sync.Once
	tinyInitPath  string
	tinyInitErr   error
)

// newRuntimes returns the built-in runtime with each child binary: the
// test binary itself (/proc/self/exe, TestMain calls Init) and
// cmd/enginefs-init, run from a sealed copy as the keeper runs it.
func newRuntimes(tb testing.TB) map[string]*Runtime {
	tb.Helper()
	self := newRuntime(tb)
	tiny, err := New(WithBinary(tinyInit(tb)))
	if err != nil {
		tb.Fatal(err)
	}
	return map[string]*Runtime{"init=self": self, "init=enginefs-init": tiny}
}

const busybox = "/bin/busybox"

// busyboxApplets are linked into every test rootfs.
var busyboxApplets = []string{
	"sh", "echo", "cat", "hostname", "ls", "ps", "ip", "sleep", "mount", "id",
	"true", "false", "pwd", "env", "test", "touch", "head", "wc", "mknod",
	"dd", "ulimit", "readlink", "tr", "stat", "grep",
	"tty", "stty", "chown", "ping", "kill", "sed", "cut", "df",
}

// needContainers skips a test on a host where containers cannot run,
// naming what is missing.
func needContainers(tb testing.TB) {
	tb.Helper()
	testenv.NeedContainers(tb)
}

// newRuntime returns the built-in runtime, skipping where it cannot run.
func newRuntime(tb testing.TB) *Runtime {
	tb.Helper()
	needContainers(tb)
	r, err := New()
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

var lastID atomic.Int64

// newID returns a container id unique on the host.
func newID() string {
	return fmt.Sprintf("test-%d-%d", os.Getpid(), lastID.Add(1))
}

// newRootfs makes a busybox rootfs in dir, with a marker file.
func newRootfs(tb testing.TB, dir string) {
	tb.Helper()
	for _, d := range []string{"bin", "etc", "proc", "sys", "dev", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	in, err := os.Open(busybox)
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(filepath.Join(dir, "bin/busybox"), os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		tb.Fatal(err)
	}
	if err := out.Close(); err != nil {
		tb.Fatal(err)
	}
	for _, a := range busyboxApplets {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", a)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "marker"), []byte("rootfs-marker\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// newBundle writes a bundle for opts (ID and the rootfs filled in) in a
// temporary directory; edit, if not nil, changes the spec first.
func newBundle(tb testing.TB, opts runtime.SpecOptions, edit func(*specs.Spec)) (id, bundle string) {
	tb.Helper()
	if opts.ID == "" {
		opts.ID = newID()
	}
	bundle = tb.TempDir()
	newRootfs(tb, filepath.Join(bundle, "rootfs"))
	s, err := runtime.Spec(opts)
	if err != nil {
		tb.Fatal(err)
	}
	if edit != nil {
		edit(s)
	}
	if err := runtime.WriteBundle(bundle, s); err != nil {
		tb.Fatal(err)
	}
	return opts.ID, bundle
}

// cgroupDirs are the host directories of the cgroup at p.
func cgroupDirs(r *Runtime, p string) []string {
	var out []string
	for _, d := range r.cg.dirs(p) {
		out = append(out, d.Source)
	}
	return out
}

// cleanupCgroup removes what a failed test may leave of the cgroup at p.
func cleanupCgroup(tb testing.TB, r *Runtime, p string) {
	tb.Cleanup(func() {
		for _, d := range cgroupDirs(r, p) {
			if err := os.Remove(d); err != nil && !os.IsNotExist(err) {
				tb.Errorf("cgroup %s left behind: %v", d, err)
			}
		}
	})
}

// start starts the container of bundle with stdout and stderr going to a
// file, whose content out returns. The process is killed and waited for at
// the end of the test whatever happens.
func start(tb testing.TB, r *Runtime, id, bundle string, stdin *os.File) (p runtime.Process, out func() string) {
	tb.Helper()
	f, err := os.Create(filepath.Join(tb.TempDir(), "stdout"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	s, err := runtime.ReadBundle(bundle)
	if err != nil {
		tb.Fatal(err)
	}
	cleanupCgroup(tb, r, s.Linux.CgroupsPath)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err = r.Start(ctx, runtime.Container{ID: id, Bundle: bundle, Stdio: runtime.Stdio{Stdin: stdin, Stdout: f, Stderr: f}})
	if err != nil {
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(func() {
		_ = p.Signal(syscall.SIGKILL)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := p.Wait(ctx); err != nil {
			tb.Errorf("cleanup: Wait: %v", err)
		}
	})
	return p, func() string {
		data, err := os.ReadFile(f.Name())
		if err != nil {
			tb.Fatal(err)
		}
		return string(data)
	}
}

// wait waits for p, failing the test after 30s.
func wait(tb testing.TB, p runtime.Process) runtime.ExitStatus {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := p.Wait(ctx)
	if err != nil {
		tb.Fatalf("Wait: %v", err)
	}
	return st
}

// run runs args in a fresh container and returns its output and status.
func run(tb testing.TB, r *Runtime, opts runtime.SpecOptions, edit func(*specs.Spec)) (string, runtime.ExitStatus) {
	tb.Helper()
	id, bundle := newBundle(tb, opts, edit)
	p, out := start(tb, r, id, bundle, nil)
	st := wait(tb, p)
	return out(), st
}

// sh is the options running script with sh -c.
func sh(script string) runtime.SpecOptions {
	return runtime.SpecOptions{Args: []string{"sh", "-c", script}}
}

// lines splits output into trimmed non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
