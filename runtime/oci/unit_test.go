//go:build linux

package oci

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/internal/testenv"
	"github.com/enginefs/enginefs/runtime"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want error
	}{
		{`runc create failed: unable to start container process: exec: "nosuch": executable file not found in $PATH`, errdefs.ErrInvalid},
		{`runc create failed: unable to start container process: exec: "/no/such": stat /no/such: no such file or directory`, errdefs.ErrInvalid},
		{`runc create failed: unable to start container process: exec: "/etc/passwd": permission denied`, errdefs.ErrInvalid},
		{`runc create failed: unable to start container process: chdir to cwd ("/nope") set in config.json failed: not a directory`, errdefs.ErrInvalid},
		{"executable file `nosuch` not found in $PATH: No such file or directory", errdefs.ErrInvalid},
		{"runc create failed: container with given ID already exists", errdefs.ErrAlreadyExists},
		{"container `web` already exists", errdefs.ErrAlreadyExists},
		{"container does not exist", errdefs.ErrNotFound},
		{"error opening file `/run/crun/web/status`: No such file or directory", errdefs.ErrNotFound},
		{"cgroups in hybrid mode not supported, drop all controllers from cgroupv2", errdefs.ErrUnavailable},
		{"container not running", errdefs.ErrBusy},
		{"container not paused", errdefs.ErrBusy},
		{"cannot exec in a stopped container", errdefs.ErrBusy},
		{"runc create failed: unable to apply cgroup configuration: mkdir /sys/fs/cgroup/x: read-only file system", errdefs.ErrUnavailable},
		{"", errdefs.ErrUnavailable},
	} {
		if got := classify(tc.msg); got != tc.want {
			t.Errorf("classify(%q) = %v, want %v", tc.msg, got, tc.want)
		}
	}
}

func TestLoggedError(t *testing.T) {
	f := filepath.Join(t.TempDir(), "log.json")
	log := `{"level":"warning","msg":"a warning","time":"2026-01-01T00:00:00Z"}
not json
{"level":"error","msg":"first error","time":"2026-01-01T00:00:00Z"}
{"level":"error","msg":"runc create failed: container with given ID already exists","time":"2026-01-01T00:00:00Z"}
{"level":"info","msg":"after","time":"2026-01-01T00:00:00Z"}
`
	if err := os.WriteFile(f, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, want := loggedError(f), "runc create failed: container with given ID already exists"; got != want {
		t.Errorf("loggedError = %q, want %q", got, want)
	}
	if got := loggedError(filepath.Join(t.TempDir(), "none")); got != "" {
		t.Errorf("loggedError of a missing file = %q", got)
	}
}

func TestParentOf(t *testing.T) {
	ppid, err := parentOf(os.Getpid())
	if err != nil || ppid != os.Getppid() {
		t.Errorf("parentOf(self) = %d, %v, want %d", ppid, err, os.Getppid())
	}
	if _, err := adopt(os.Getppid()); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("adopt of the parent = %v, want errdefs.ErrUnavailable", err)
	}
}

func TestNew(t *testing.T) {
	if _, err := New("no-such-oci-runtime"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("New of a missing binary = %v, want errdefs.ErrNotFound", err)
	}
	if _, err := New(""); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("New(\"\") = %v, want errdefs.ErrInvalid", err)
	}
	long := "/" + strings.Repeat("d", 100)
	if _, err := New("/bin/true", WithTempDir(long)); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("a temporary directory too long for a socket = %v, want errdefs.ErrInvalid", err)
	}
	r, err := New("true")
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(r.Binary()) || r.Root() != filepath.Join(DefaultRootParent, "true") {
		t.Errorf("binary %s, root %s; want an absolute path and %s/true", r.Binary(), r.Root(), DefaultRootParent)
	}
}

// TestKilledBinaryLeavesNoProcess: a binary whose create hangs past the
// grace is killed, and what it started in its session is reaped.
func TestKilledBinaryLeavesNoProcess(t *testing.T) {
	testenv.NeedRoot(t)
	var was int32
	if err := unix.Prctl(unix.PR_GET_CHILD_SUBREAPER, uintptr(unsafe.Pointer(&was)), 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, uintptr(was), 0, 0, 0)
	grace := startGrace
	startGrace = 200 * time.Millisecond
	defer func() { startGrace = grace }()

	dir := t.TempDir()
	fake := filepath.Join(dir, "fake-runtime")
	script := "#!/bin/sh\ncase \" $* \" in *\" create \"*) sleep 100 & sleep 100 & exec sleep 100;; esac\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	spec := &specs.Spec{Process: &specs.Process{Args: []string{"true"}, Cwd: "/"}, Root: &specs.Root{Path: "rootfs"}}
	if err := runtime.WriteBundle(filepath.Join(dir, "bundle"), spec); err != nil {
		t.Fatal(err)
	}
	r, err := New(fake, WithRoot(filepath.Join(dir, "state")))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err = r.Start(ctx, runtime.Container{ID: "hang", Bundle: filepath.Join(dir, "bundle")})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Start = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("Start took %v with a grace of %v", d, startGrace)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var left []int
		stats, _ := filepath.Glob("/proc/[0-9]*/stat")
		for _, f := range stats {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
			if st, ok := readStat(pid); ok && st.ppid == os.Getpid() {
				left = append(left, pid)
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("children left: %v", left)
		}
	}
}
