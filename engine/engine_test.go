//go:build linux

package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/enginefs/enginefs/engine/volume"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/imagestore"
	"github.com/enginefs/enginefs/internal/testenv"
	"github.com/enginefs/enginefs/runtime/keeper"
	"github.com/enginefs/enginefs/tests/fixture"
	"github.com/enginefs/enginefs/voldrv/local"
)

// keeperBin is the enginefs-keeper built for the tests.
var keeperBin string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "engine-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		keeperBin = filepath.Join(dir, "enginefs-keeper")
		cmd := testenv.GoBuild(context.Background(), keeperBin, "./cmd/enginefs-keeper", false)
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building the keeper: %v\n%s", err, out)
			return 1
		}
		return m.Run()
	}())
}

// newEngine opens an engine in a temporary directory with the busybox
// fixture loaded and the built-in runtime, and closes it when the test ends.
func newEngine(t *testing.T) (*Engine, string) {
	t.Helper()
	testenv.NeedContainers(t)
	testenv.Need(t, "overlayfs", testenv.Overlayfs())
	dir := t.TempDir()
	archive := filepath.Join(dir, "busybox.tar")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	if err := fixture.Busybox(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	e := openEngine(t, dir)
	if _, err := e.LoadImage(context.Background(), archive); err != nil {
		t.Fatal(err)
	}
	return e, dir
}

// clients are the keeper clients of the engines the tests open, volumes
// their volumes.
var (
	clients = map[*Engine]*keeper.Client{}
	volumes = map[*Engine]*volume.Manager{}
)

// closeEngine closes an engine as the daemon does at shutdown, with its image
// store and its keeper client; its containers go on under the keeper.
func closeEngine(e *Engine) {
	e.Close(context.Background())
	e.images.Close()
	clients[e].Close()
}

// openEngine opens the engine of dir with its keeper (started if none runs).
// When the test ends it removes every container, closes the engine and
// waits for the keeper, idle, to exit, so nothing outlives the test.
func openEngine(t *testing.T, dir string) *Engine {
	t.Helper()
	images, err := imagestore.New(filepath.Join(dir, "images"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := keeper.Connect(context.Background(), keeper.Options{
		Binary: keeperBin, RunDir: filepath.Join(dir, "run"), Idle: 200 * time.Millisecond,
		Runtimes: map[string]string{"builtin": "builtin"},
	})
	if err != nil {
		t.Fatal(err)
	}
	drv, err := local.New(filepath.Join(dir, "state", "volumes"))
	if err != nil {
		t.Fatal(err)
	}
	vols := volume.New(drv, volume.WithLogger(t.Logf))
	e, err := New(context.Background(), filepath.Join(dir, "state"), images, k, WithLogger(t.Logf), WithVolumes(vols))
	if err != nil {
		t.Fatal(err)
	}
	clients[e] = k
	volumes[e] = vols
	t.Cleanup(func() {
		ctx := context.Background()
		if e.closing.Load() {
			return // closed by the test with closeEngine
		}
		for _, c := range e.List() {
			if err := e.Remove(ctx, c.ID(), true); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
		pid := k.Pid()
		closeEngine(e)
		for i := 0; i < 500 && pid > 0 && syscall.Kill(pid, 0) == nil; i++ {
			time.Sleep(10 * time.Millisecond)
		}
		if pid > 0 && syscall.Kill(pid, 0) == nil {
			t.Errorf("the keeper (pid %d) did not exit once idle; killing it", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return e
}

// within fails the test if f does not return in time (a deadlock).
func within(t *testing.T, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("deadlock: no return within %v", d)
	}
}

// TestConfigureReleaseRace: a clone released while another client configures
// it ends either as a container that is found by id and name, or as nothing,
// never as a record that nobody can reach (and never in a deadlock).
func TestConfigureReleaseRace(t *testing.T) {
	e, _ := newEngine(t)
	ctx := context.Background()
	within(t, 60*time.Second, func() {
		for i := 0; i < 200; i++ {
			c := e.Reserve()
			name := fmt.Sprintf("race%d", i)
			var wg sync.WaitGroup
			var cerr error
			wg.Add(2)
			go func() {
				defer wg.Done()
				cerr = e.Configure(ctx, c, name, Config{Image: "busybox", Cmd: []string{"true"}})
			}()
			go func() { defer wg.Done(); e.Release(c) }()
			wg.Wait()
			got, err := e.Get(c.ID())
			byName, nerr := e.Get(name)
			switch {
			case cerr == nil && (err != nil || nerr != nil || got != c || byName != c):
				t.Fatalf("iteration %d: configured but not reachable: by id %v, by name %v", i, err, nerr)
			case cerr != nil && (err == nil || nerr == nil):
				t.Fatalf("iteration %d: configure failed (%v) but the container or its name is left", i, cerr)
			}
		}
	})
}

// TestRemoveForceAutoRemove: rm force of a running --rm container succeeds
// and leaves nothing, whoever wins the race with the auto-removal.
func TestRemoveForceAutoRemove(t *testing.T) {
	e, _ := newEngine(t)
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		c, err := e.Create(ctx, "", Config{Image: "busybox", Cmd: []string{"sleep", "30"}, AutoRemove: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(ctx, c.ID()); err != nil {
			t.Fatal(err)
		}
		within(t, 20*time.Second, func() {
			if err := e.Remove(ctx, c.ID(), true); err != nil {
				t.Fatalf("rm force of a running auto-remove container: %v", err)
			}
		})
		if _, err := e.Get(c.ID()); !errors.Is(err, errdefs.ErrNotFound) {
			t.Fatalf("after rm force: Get = %v, want not found", err)
		}
	}
}

// TestAutoRemoveBeforeWait: when wait answers for a --rm container, the
// container is gone and its name is free, as docker run --rm promises.
func TestAutoRemoveBeforeWait(t *testing.T) {
	e, _ := newEngine(t)
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		c, err := e.Create(ctx, "job", Config{Image: "busybox", Cmd: []string{"sh", "-c", "exit 4"}, AutoRemove: true})
		if err != nil {
			t.Fatalf("iteration %d: %v", i, err)
		}
		wait := c.Wait()
		if err := e.Start(ctx, c.ID()); err != nil {
			t.Fatal(err)
		}
		st, err := wait(ctx)
		if err != nil || st.Code != 4 {
			t.Fatalf("wait = %+v, %v; want code 4", st, err)
		}
		if _, err := e.Get("job"); !errors.Is(err, errdefs.ErrNotFound) {
			t.Fatalf("iteration %d: the container is still there when wait answered: %v", i, err)
		}
	}
}

// TestRenameRemoveRace: a rename racing a removal never brings the container
// back nor keeps its new name taken.
func TestRenameRemoveRace(t *testing.T) {
	e, dir := newEngine(t)
	ctx := context.Background()
	for i := 0; i < 50; i++ {
		c, err := e.Create(ctx, fmt.Sprintf("a%d", i), Config{Image: "busybox", Cmd: []string{"true"}})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); _ = e.Rename(ctx, c.ID(), fmt.Sprintf("b%d", i)) }()
		go func() { defer wg.Done(); _ = e.Remove(ctx, c.ID(), false) }()
		wg.Wait()
		if _, err := e.Get(c.ID()); err == nil {
			// The removal lost with EBUSY; remove it now.
			if err := e.Remove(ctx, c.ID(), false); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.Get(fmt.Sprintf("b%d", i)); err == nil {
			t.Fatalf("iteration %d: the new name is still taken after the removal", i)
		}
	}
	closeEngine(e)
	e2 := openEngine(t, dir)
	if n := len(e2.List()); n != 0 {
		t.Errorf("after reopening, %d removed containers came back", n)
	}
}

// TestPersist: created and exited containers, with their config, exit code
// and name, survive closing and reopening the engine; a reserved id does not.
func TestPersist(t *testing.T) {
	e, dir := newEngine(t)
	ctx := context.Background()
	c, err := e.Create(ctx, "kept", Config{Image: "busybox", Cmd: []string{"sh", "-c", "exit 5"}, Env: []string{"A=1"}})
	if err != nil {
		t.Fatal(err)
	}
	wait := c.Wait()
	if err := e.Start(ctx, "kept"); err != nil {
		t.Fatal(err)
	}
	if _, err := wait(ctx); err != nil {
		t.Fatal(err)
	}
	e.Reserve()
	closeEngine(e)

	e2 := openEngine(t, dir)
	if n := len(e2.List()); n != 1 {
		t.Fatalf("after reopening there are %d containers, want 1", n)
	}
	c2, err := e2.Get("kept")
	if err != nil {
		t.Fatal(err)
	}
	r := c2.Record()
	if r.ID != c.ID() || r.State.Status != StatusExited || r.State.ExitCode != 5 || len(r.Config.Env) != 1 {
		t.Errorf("record after reopening: %+v", r)
	}
}

// TestStateErrors: operations in the wrong state fail with busy, unknown
// containers with not found, and the name rules hold.
func TestStateErrors(t *testing.T) {
	e, _ := newEngine(t)
	ctx := context.Background()
	c, err := e.Create(ctx, "s", Config{Image: "busybox", Cmd: []string{"sleep", "30"}})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name  string
		err   error
		class error
	}{
		{"kill a created container", e.Kill(ctx, "s", "KILL"), errdefs.ErrBusy},
		{"start an unknown container", e.Start(ctx, "nosuch"), errdefs.ErrNotFound},
		{"create with a taken name", func() error { _, err := e.Create(ctx, "s", Config{Image: "busybox"}); return err }(), errdefs.ErrAlreadyExists},
		{"create with a reserved name", func() error { _, err := e.Create(ctx, "list", Config{Image: "busybox"}); return err }(), errdefs.ErrInvalid},
		{"create with a bad name", func() error { _, err := e.Create(ctx, "-x", Config{Image: "busybox"}); return err }(), errdefs.ErrInvalid},
		{"create from an unknown image", func() error { _, err := e.Create(ctx, "", Config{Image: "nosuch"}); return err }(), errdefs.ErrNotFound},
		{"bad signal", e.Kill(ctx, "s", "SIGNOPE"), errdefs.ErrInvalid},
	}
	for _, ch := range checks {
		if !errors.Is(ch.err, ch.class) {
			t.Errorf("%s: %v, want %v", ch.name, ch.err, ch.class)
		}
	}
	if err := e.Start(ctx, c.ID()); err != nil {
		t.Fatal(err)
	}
	if err := e.Start(ctx, c.ID()); !errors.Is(err, errdefs.ErrBusy) {
		t.Errorf("start of a running container: %v", err)
	}
	if err := e.Remove(ctx, "s", false); !errors.Is(err, errdefs.ErrBusy) {
		t.Errorf("rm of a running container: %v", err)
	}
	if err := e.Stop(ctx, "s", 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if st := c.Record().State; st.Status != StatusExited || st.ExitCode != 137 {
		t.Errorf("after stop: %+v, want exited 137 (sleep as pid 1 ignores TERM)", st)
	}
	if err := e.Stop(ctx, "s", time.Second); err != nil {
		t.Errorf("stop of a stopped container: %v, want nothing", err)
	}
}
