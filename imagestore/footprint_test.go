package imagestore

import (
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sys/unix"
)

// BenchmarkBombFootprint measures what a gzip bomb costs the store with
// the default caps: peak disk use (free space of the store's file system,
// sampled every 50 ms, against before) and peak RSS (VmHWM, reset before
// each run), for a load of a gzip-compressed docker-save archive and a
// pull. The bomb holds ENGINEFS_BOMB_SIZE bytes of zeros (default 10 GiB:
// about 10 MB compressed); bench/bomb.sh runs it. The store is under
// ENGINEFS_BOMB_DIR (default the test's temporary directory).
func BenchmarkBombFootprint(b *testing.B) {
	requireRoot(b)
	size := int64(10 << 30)
	if s := os.Getenv("ENGINEFS_BOMB_SIZE"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		size = n
	}
	work := b.TempDir()
	if d := os.Getenv("ENGINEFS_BOMB_DIR"); d != "" {
		w, err := os.MkdirTemp(d, "bomb-")
		if err != nil {
			b.Fatal(err)
		}
		defer os.RemoveAll(w)
		work = w
	}
	archive := bombArchive(b, work, size, true)
	fi, _ := os.Stat(archive)
	b.Logf("bomb: %d bytes of zeros in a %d-byte gzip archive", size, fi.Size())
	for _, path := range []string{"load", "pull"} {
		b.Run(path, func(b *testing.B) {
			for range b.N {
				root, err := os.MkdirTemp(work, "store-")
				if err != nil {
					b.Fatal(err)
				}
				s, err := New(root)
				if err != nil {
					b.Fatal(err)
				}
				var reg string
				if path == "pull" {
					reg = strings.TrimPrefix(testRegistryB(b), "http://")
					uploadB(b, reg+"/bomb:1", imageOf(b, "bomb", newBombLayer(b, size)))
				}
				os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // resets VmHWM
				stop := sampleDisk(root)
				start := time.Now()
				if path == "load" {
					_, err = s.Load(ctx, archive)
				} else {
					_, err = s.Pull(ctx, reg+"/bomb:1", PullOptions{})
				}
				elapsed := time.Since(start)
				peak := stop()
				kept := duOf(root)
				s.Close()
				os.RemoveAll(root)
				b.ReportMetric(float64(peak)/(1<<30), "peak-disk-GiB")
				b.ReportMetric(float64(kept)/(1<<30), "kept-GiB")
				b.ReportMetric(float64(vmHWM())/(1<<20), "peak-RSS-MiB")
				b.ReportMetric(elapsed.Seconds(), "s")
				b.Logf("%s: err=%v", path, err)
			}
		})
	}
}

// sampleDisk samples the used space of the file system holding dir every
// 50 ms; the function it returns stops and gives the peak growth.
func sampleDisk(dir string) func() int64 {
	used := func() int64 {
		var st unix.Statfs_t
		if unix.Statfs(dir, &st) != nil {
			return 0
		}
		return int64(st.Blocks-st.Bfree) * st.Bsize
	}
	base := used()
	var mu sync.Mutex
	peak := int64(0)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			u := used() - base
			mu.Lock()
			peak = max(peak, u)
			mu.Unlock()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// duOf is the disk space the files under dir take.
func duOf(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				n += st.Blocks * 512
			}
		}
		return nil
	})
	return n
}

// vmHWM is this process's peak resident set, bytes.
func vmHWM() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n << 10
			}
		}
	}
	return 0
}

// testRegistryB is testRegistry for a benchmark.
func testRegistryB(b *testing.B) string {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	b.Cleanup(srv.Close)
	return srv.URL
}

// uploadB is upload for a benchmark.
func uploadB(b *testing.B, ref string, img v1.Image) {
	r, err := name.ParseReference(ref)
	if err != nil {
		b.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		b.Fatal(err)
	}
}
