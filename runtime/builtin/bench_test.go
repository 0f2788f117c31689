//go:build linux

package builtin

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/enginefs/enginefs/runtime"
)

// The two StartWait benchmarks start and wait for `true` in the same bundle
// (same spec, same busybox rootfs, same cgroup path), one with the built-in
// runtime and one with `runc run`, so that one `go test -bench StartWait`
// compares them on the same host and moment (start-ns/op is the part of
// the built-in runtime's time spent in Start, until the program runs). The
// ExecWait ones do the same for a process exec'd in a running container.
// The built-in runtime's run once with each child binary (see
// newRuntimes): the test binary, which links what the keeper's does, and
// cmd/enginefs-init:
//
//	go test -run '^$' -bench 'StartWait|ExecWait' -benchtime 200x ./runtime/builtin

func BenchmarkStartWait(b *testing.B) {
	rs := newRuntimes(b)
	for _, name := range slices.Sorted(maps.Keys(rs)) {
		b.Run(name, func(b *testing.B) { benchStartWait(b, rs[name]) })
	}
}

func benchStartWait(b *testing.B, r *Runtime) {
	_, bundle := newBundle(b, runtime.SpecOptions{ID: "bench-builtin", Args: []string{"true"}}, nil)
	cleanupCgroup(b, r, runtime.CgroupParent+"/bench-builtin")
	ctx := context.Background()
	var starting time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		p, err := r.Start(ctx, runtime.Container{ID: "bench-builtin", Bundle: bundle})
		if err != nil {
			b.Fatal(err)
		}
		starting += time.Since(t0)
		st, err := p.Wait(ctx)
		if err != nil || st.Code != 0 {
			b.Fatalf("run %d: %+v, %v", i, st, err)
		}
	}
	// How long Start itself takes, until the program runs.
	b.ReportMetric(float64(starting.Nanoseconds())/float64(b.N), "start-ns/op")
}

func BenchmarkStartWaitRunc(b *testing.B) {
	r := newRuntime(b)
	runc, err := exec.LookPath("runc")
	if err != nil {
		b.Skip("needs runc in PATH")
	}
	_, bundle := newBundle(b, runtime.SpecOptions{ID: "bench-runc", Args: []string{"true"}}, nil)
	cleanupCgroup(b, r, runtime.CgroupParent+"/bench-runc")
	state := filepath.Join(b.TempDir(), "runc")
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer null.Close()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		cmd := exec.Command(runc, "--root", state, "run", "--bundle", bundle, fmt.Sprintf("bench-runc-%d", i))
		cmd.Stdin = null
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("runc run: %v: %s", err, out)
		}
	}
}

func BenchmarkExecWait(b *testing.B) {
	rs := newRuntimes(b)
	for _, name := range slices.Sorted(maps.Keys(rs)) {
		b.Run(name, func(b *testing.B) { benchExecWait(b, rs[name]) })
	}
}

func benchExecWait(b *testing.B, r *Runtime) {
	id, bundle, init := sleeper(b, r, runtime.SpecOptions{ID: "bench-exec"})
	proc := execSpec(b, bundle, "true")
	ctx := context.Background()
	var starting time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		p, err := r.Exec(ctx, id, runtime.ExecProcess{ID: fmt.Sprint(i), Bundle: bundle, Pid: init.Pid(), Process: proc})
		if err != nil {
			b.Fatal(err)
		}
		starting += time.Since(t0)
		st, err := p.Wait(ctx)
		if err != nil || st.Code != 0 {
			b.Fatalf("run %d: %+v, %v", i, st, err)
		}
	}
	b.ReportMetric(float64(starting.Nanoseconds())/float64(b.N), "exec-ns/op")
}

func BenchmarkExecWaitRunc(b *testing.B) {
	r := newRuntime(b)
	runc, err := exec.LookPath("runc")
	if err != nil {
		b.Skip("needs runc in PATH")
	}
	_, bundle := newBundle(b, runtime.SpecOptions{ID: "bench-runc-exec", Args: []string{"sleep", "1000"}}, nil)
	cleanupCgroup(b, r, runtime.CgroupParent+"/bench-runc-exec")
	state := filepath.Join(b.TempDir(), "runc")
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer null.Close()
	run := func(args ...string) {
		cmd := exec.Command(runc, append([]string{"--root", state}, args...)...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
		if err := cmd.Run(); err != nil {
			b.Fatalf("runc %v: %v", args, err)
		}
	}
	run("run", "--detach", "--bundle", bundle, "bench-runc-exec")
	b.Cleanup(func() { run("delete", "--force", "bench-runc-exec") })
	b.ResetTimer()
	for b.Loop() {
		run("exec", "bench-runc-exec", "true")
	}
}
