//go:build linux

package builtin

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/enginefs/enginefs/runtime"
)

// The two benchmarks start and wait for `true` in the same bundle (same
// spec, same busybox rootfs, same cgroup path), one with the built-in
// runtime and one with `runc run`, so that one `go test -bench StartWait`
// compares them on the same host and moment (start-ns/op is the part of
// the built-in runtime's time spent in Start, until the program runs):
//
//	go test -run '^$' -bench StartWait -benchtime 200x ./runtime/builtin

func BenchmarkStartWait(b *testing.B) {
	r := newRuntime(b)
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
