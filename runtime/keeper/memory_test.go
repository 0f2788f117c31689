package keeper

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/enginefs/enginefs/runtime"
	"github.com/enginefs/enginefs/runtime/builtin"
)

// TestMemory measures the keeper's resident memory with 0, 10 and 50
// running containers (each with a Wait in progress, as the daemon has)
// and checks the cost of a container: at most 1 MB, the product's bound.
func TestMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 50 containers")
	}
	c, _ := startKeeper(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	pid := c.Pid()
	root := rootfs(t)
	rss := map[int]int{}
	started := 0
	for _, n := range []int{0, 10, 50} {
		for ; started < n; started++ {
			id := newID()
			bundle := bundleWith(t, root, id, false, "sleep", "1000")
			if _, err := c.Start(ctx, StartRequest{ID: id, Bundle: bundle, LogDir: t.TempDir()}); err != nil {
				t.Fatal(err)
			}
			go c.Wait(ctx, id, "")
		}
		time.Sleep(time.Second) // let the keeper settle
		rss[n] = status(t, pid, "VmRSS")
		t.Logf("%2d containers: keeper RSS %5d kB, %d threads", n, rss[n], status(t, pid, "Threads"))
	}
	per := float64(rss[50]-rss[0]) / 50
	t.Logf("per container: %.0f kB (0→50), %.0f kB (10→50)", per, float64(rss[50]-rss[10])/40)
	if per > 1024 {
		t.Errorf("a container costs the keeper %.0f kB, more than 1 MB", per)
	}
}

// TestNoLeak runs containers to their end, with and without a terminal
// and stdin, and checks that the keeper is left with the descriptors and
// threads it had.
func TestNoLeak(t *testing.T) {
	c, _ := startKeeper(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	pid := c.Pid()
	root := rootfs(t)
	run := func(i int) {
		id := newID()
		b := bundleWith(t, root, id, i%2 == 1, "sh", "-c", "echo hi")
		if _, err := c.Start(ctx, StartRequest{ID: id, Bundle: b, LogDir: t.TempDir(), OpenStdin: i%3 == 0}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Wait(ctx, id, ""); err != nil {
			t.Fatal(err)
		}
		if err := c.Forget(ctx, id, ""); err != nil {
			t.Fatal(err)
		}
	}
	run(0)
	run(1)
	fds, threads := countFds(t, pid), status(t, pid, "Threads")
	for i := range 20 {
		run(i)
	}
	if n := countFds(t, pid); n != fds {
		t.Errorf("the keeper has %d descriptors after 20 containers, %d before", n, fds)
	}
	if n := status(t, pid, "Threads"); n > threads+2 {
		t.Errorf("the keeper has %d threads after 20 containers, %d before", n, threads)
	}
}

// countFds counts the open descriptors of process pid.
func countFds(t *testing.T, pid int) int {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// status reads a kB or count field of /proc/pid/status.
func status(t *testing.T, pid int, field string) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == field {
			n, err := strconv.Atoi(strings.Fields(v)[0])
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// BenchmarkStart times the start of a container running true (its wait
// is not timed): through a keeper (whose container init is enginefs-init),
// and with the builtin runtime in this process whose container init is
// enginefs-init, the keeper's binary or, if ENGINEFS_INIT names one,
// another binary whose main calls builtin.Init (a daemon's), to compare the
// cost of the init binary.
func BenchmarkStart(b *testing.B) {
	needContainers(b)
	ctx := context.Background()
	b.Run("keeper", func(b *testing.B) {
		opts := Options{Binary: keeperBin, RunDir: b.TempDir(), Idle: 100 * time.Millisecond}
		c, err := Connect(ctx, opts)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		root := rootfs(b)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			id := newID()
			b.StopTimer()
			bundle := bundleWith(b, root, id, false, "true")
			b.StartTimer()
			if _, err := c.Start(ctx, StartRequest{ID: id, Bundle: bundle, LogDir: b.TempDir()}); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if _, err := c.Wait(ctx, id, ""); err != nil {
				b.Fatal(err)
			}
			_ = c.Forget(ctx, id, "")
			b.StartTimer()
		}
	})
	inits := map[string]string{
		"init=keeper":        keeperBin,
		"init=enginefs-init": filepath.Join(filepath.Dir(keeperBin), InitBinaryName),
	}
	if bin := os.Getenv("ENGINEFS_INIT"); bin != "" {
		inits["init=other"] = bin
	}
	for name, bin := range inits {
		b.Run(name, func(b *testing.B) {
			r, err := builtin.New(builtin.WithBinary(bin))
			if err != nil {
				b.Fatal(err)
			}
			root := rootfs(b)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				id := newID()
				b.StopTimer()
				bundle := bundleWith(b, root, id, false, "true")
				b.StartTimer()
				p, err := r.Start(ctx, runtime.Container{ID: id, Bundle: bundle})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if _, err := p.Wait(ctx); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}
