//go:build linux

package oci_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/enginefs/enginefs/runtime"
	"github.com/enginefs/enginefs/runtime/runtimetest"
)

// BenchmarkStartWait starts and waits for `true` with runc, through this
// package (create, start, reap, delete: what the engine pays per container)
// and with a bare `runc run` of the same bundle (the floor: runc's own
// cost, without the pid file, the log and the separate delete). The
// built-in runtime's figures come from the benchmark of the same name in
// runtime/builtin, on the same bundle shape:
//
//	go test -run '^$' -bench StartWait -benchtime 100x ./runtime/oci ./runtime/builtin
func BenchmarkStartWait(b *testing.B) {
	b.Run("oci-runc", func(b *testing.B) {
		r := newRuntime(b, "runc")
		runtimetest.NeedContainers(b)
		runtimetest.SetSubreaper(b)
		id := runtimetest.NewID()
		bundle, _ := runtimetest.NewBundle(b, runtime.SpecOptions{ID: id, Args: []string{"true"}}, nil)
		ctx := context.Background()
		b.Cleanup(func() { _ = r.Delete(ctx, id) })
		var starting time.Duration
		for b.Loop() {
			t0 := time.Now()
			p, err := r.Start(ctx, runtime.Container{ID: id, Bundle: bundle})
			if err != nil {
				b.Fatal(err)
			}
			starting += time.Since(t0)
			if st, err := p.Wait(ctx); err != nil || st.Code != 0 {
				b.Fatalf("Wait: %+v, %v", st, err)
			}
		}
		b.ReportMetric(float64(starting.Nanoseconds())/float64(b.N), "start-ns/op")
	})
	b.Run("runc-run", func(b *testing.B) {
		r := newRuntime(b, "runc")
		runtimetest.NeedContainers(b)
		id := runtimetest.NewID()
		bundle, _ := runtimetest.NewBundle(b, runtime.SpecOptions{ID: id, Args: []string{"true"}}, nil)
		b.Cleanup(func() { _ = r.Delete(context.Background(), id) })
		state := filepath.Join(b.TempDir(), "runc")
		null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		if err != nil {
			b.Fatal(err)
		}
		defer null.Close()
		for b.Loop() {
			cmd := exec.Command(r.Binary(), "--root", state, "run", "--bundle", bundle, id)
			cmd.Stdin = null
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("runc run: %v: %s", err, out)
			}
		}
	})
}
