//go:build linux

package oci_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/cgroups/v3"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/internal/testenv"
	"github.com/enginefs/enginefs/runtime"
	"github.com/enginefs/enginefs/runtime/oci"
	"github.com/enginefs/enginefs/runtime/runtimetest"
)

// newRuntime returns a Runtime for binary with its state in a temporary
// directory, skipping, with the reason, where binary cannot run.
func newRuntime(t testing.TB, binary string) *oci.Runtime {
	t.Helper()
	testenv.NeedBinary(t, binary, filepath.Base(binary))
	if strings.HasPrefix(filepath.Base(binary), "crun") && cgroups.Mode() == cgroups.Hybrid {
		t.Skip("crun refuses hybrid cgroup hosts (v1 controllers with a v2 hierarchy beside them), which this host is")
	}
	r, err := oci.New(binary, oci.WithRoot(filepath.Join(t.TempDir(), "state")))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestConformanceRunc(t *testing.T) {
	newRuntime(t, "runc")
	runtimetest.Run(t, func(t *testing.T) runtime.Runtime { return newRuntime(t, "runc") })
}

// TestConformanceCrun runs the suite with crun, or with the binary that
// $ENGINEFS_TEST_CRUN names.
func TestConformanceCrun(t *testing.T) {
	crun := os.Getenv("ENGINEFS_TEST_CRUN")
	if crun == "" {
		crun = "crun"
	}
	newRuntime(t, crun)
	runtimetest.Run(t, func(t *testing.T) runtime.Runtime { return newRuntime(t, crun) })
}

// TestErrors checks the classes of the errors the runtime reads from runc,
// beyond those the conformance suite checks.
func TestErrors(t *testing.T) {
	r := newRuntime(t, "runc")
	runtimetest.NeedContainers(t)
	runtimetest.SetSubreaper(t)
	ctx := context.Background()
	unknown := runtimetest.NewID()
	for name, err := range map[string]error{
		"Pause":  r.Pause(ctx, unknown),
		"Resume": r.Resume(ctx, unknown),
	} {
		if !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("%s of an unknown container = %v, want errdefs.ErrNotFound", name, err)
		}
	}
	_, err := r.Exec(ctx, unknown, runtime.ExecProcess{ID: "e", Process: &specs.Process{Args: []string{"true"}, Cwd: "/"}})
	if !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Exec in an unknown container = %v, want errdefs.ErrNotFound", err)
	}
	if _, err := r.Exec(ctx, unknown, runtime.ExecProcess{ID: "e"}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("Exec without a process = %v, want errdefs.ErrInvalid", err)
	}
	if err := r.Delete(ctx, "../x"); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("Delete(../x) = %v, want errdefs.ErrInvalid", err)
	}

	id := runtimetest.NewID()
	bundle, _ := runtimetest.NewBundle(t, runtime.SpecOptions{ID: id, Args: []string{"true"}}, nil)
	t.Cleanup(func() { _ = r.Delete(ctx, id) })

	t.Run("NotAnOCIRuntime", func(t *testing.T) {
		bad, err := oci.New("/bin/false", oci.WithRoot(t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bad.Start(ctx, runtime.Container{ID: id, Bundle: bundle}); !errors.Is(err, errdefs.ErrUnavailable) {
			t.Errorf("Start with /bin/false = %v, want errdefs.ErrUnavailable", err)
		}
	})
	t.Run("Cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := r.Start(cctx, runtime.Container{ID: id, Bundle: bundle}); !errors.Is(err, context.Canceled) {
			t.Errorf("Start with a cancelled context = %v, want context.Canceled", err)
		}
	})
	t.Run("NotSubreaper", func(t *testing.T) {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
				t.Fatal(err)
			}
		}()
		_, err := r.Start(ctx, runtime.Container{ID: id, Bundle: bundle})
		if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "subreaper") {
			t.Errorf("Start from a process that is not a subreaper = %v, want errdefs.ErrUnavailable naming the subreaper", err)
		}
	})
	t.Run("ResumeRunning", func(t *testing.T) {
		id := runtimetest.NewID()
		bundle, _ := runtimetest.NewBundle(t, runtime.SpecOptions{ID: id, Args: []string{"sleep", "10"}}, nil)
		p, err := r.Start(ctx, runtime.Container{ID: id, Bundle: bundle})
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			_ = p.Signal(syscall.SIGKILL)
			if _, err := p.Wait(ctx); err != nil {
				t.Error(err)
			}
		}()
		if err := r.Resume(ctx, id); err != nil {
			t.Errorf("Resume of a running container: %v", err)
		}
	})
}

// TestStartInterrupted cancels Start at various points of create and start
// and checks that nothing is left: no cgroup, no state, no process.
func TestStartInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	r := newRuntime(t, "runc")
	runtimetest.NeedContainers(t)
	runtimetest.SetSubreaper(t)
	for _, d := range []time.Duration{2, 5, 10, 15, 20, 25, 30, 35, 40, 50} {
		d *= time.Millisecond
		id := runtimetest.NewID()
		bundle, s := runtimetest.NewBundle(t, runtime.SpecOptions{ID: id, Args: []string{"sleep", "10"}}, nil)
		ctx, cancel := context.WithTimeout(context.Background(), d)
		p, err := r.Start(ctx, runtime.Container{ID: id, Bundle: bundle})
		cancel()
		if err == nil {
			_ = p.Signal(syscall.SIGKILL)
			if _, err := p.Wait(context.Background()); err != nil {
				t.Errorf("%v: Wait: %v", d, err)
			}
		} else if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%v: Start = %v, want context.DeadlineExceeded", d, err)
		}
		t.Logf("%v: Start error: %v", d, err)
		if dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + s.Linux.CgroupsPath); len(dirs) > 0 {
			t.Errorf("%v: cgroups left: %q", d, dirs)
		}
		if entries, _ := os.ReadDir(r.Root()); len(entries) > 0 {
			t.Errorf("%v: runc state left in %s: %v", d, r.Root(), entries)
		}
	}
	// The processes killed on the failure paths are reaped in the
	// background.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		left := childrenOf(os.Getpid())
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("processes left: %q", left)
			break
		}
	}
}

// childrenOf lists the pids whose parent is pid.
func childrenOf(pid int) []string {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []string
	for _, f := range stats {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := string(data)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			out = append(out, strings.TrimSpace(s))
		}
	}
	return out
}
