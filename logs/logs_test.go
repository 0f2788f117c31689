package logs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enginefs/enginefs/errdefs"
)

// create returns the writer of a fresh directory, closed at the end.
func create(t *testing.T) (string, *Writer) {
	t.Helper()
	dir := t.TempDir()
	w, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return dir, w
}

// open returns a reader of dir, closed at the end.
func open(t *testing.T, dir string) *Reader {
	t.Helper()
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// write writes each chunk as one record: "1:text" to stdout, "2:text" to
// stderr.
func write(t *testing.T, w *Writer, chunks ...string) {
	t.Helper()
	for _, c := range chunks {
		s := Stdout
		if strings.HasPrefix(c, "2:") {
			s = Stderr
		}
		if err := w.Write(s, []byte(c[2:])); err != nil {
			t.Fatal(err)
		}
	}
}

// readAll reads r without following and returns "1:text" per entry.
func readAll(t *testing.T, r *Reader) []string {
	t.Helper()
	var out []string
	for {
		e, err := r.Next(context.Background(), false)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d:%s", e.Stream, e.Data))
	}
}

func equal(a, b []string) bool {
	return fmt.Sprintf("%q", a) == fmt.Sprintf("%q", b)
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name   string
		chunks []string
	}{
		{"empty", nil},
		{"stdout", []string{"1:hello\n", "1:world\n"}},
		{"streams", []string{"1:out\n", "2:err\n", "1:partial", "1: line\n", "2:e2\n"}},
		{"binary", []string{"1:\x00\x01\xff", "2:\n\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, w := create(t)
			start := time.Now()
			write(t, w, tc.chunks...)
			if err := w.End(); err != nil {
				t.Fatal(err)
			}
			r := open(t, dir)
			var off int64
			var got []string
			for {
				e, err := r.Next(context.Background(), false)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if e.Offset != off {
					t.Errorf("entry %d at offset %d, want %d", len(got), e.Offset, off)
				}
				if e.Time.Before(start.Add(-time.Second)) || e.Time.After(time.Now()) {
					t.Errorf("entry %d stamped %v", len(got), e.Time)
				}
				off += int64(len(e.Data))
				got = append(got, fmt.Sprintf("%d:%s", e.Stream, e.Data))
			}
			if !equal(got, tc.chunks) {
				t.Errorf("read %q, wrote %q", got, tc.chunks)
			}
			plain, err := os.ReadFile(filepath.Join(dir, LogName))
			if err != nil {
				t.Fatal(err)
			}
			var want strings.Builder
			for _, c := range tc.chunks {
				want.WriteString(c[2:])
			}
			if string(plain) != want.String() {
				t.Errorf("log holds %q, want %q", plain, want.String())
			}
		})
	}
}

func TestInvalid(t *testing.T) {
	dir, w := create(t)
	if err := w.Write(Stream(3), []byte("x")); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("Write to stream 3: %v, want ErrInvalid", err)
	}
	if _, err := Open(filepath.Join(dir, "nope")); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Open of a missing dir: %v, want ErrNotFound", err)
	}
	other := t.TempDir()
	bad := header()
	bad[8] = 9 // version 9
	if err := os.WriteFile(filepath.Join(other, IndexName), bad, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(other); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("Create over a version 9 index: %v, want ErrInvalid", err)
	}
	if _, err := Open(other); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("Open of a version 9 index: %v, want ErrInvalid", err)
	}
}

func TestEndStopsFollower(t *testing.T) {
	dir, w := create(t)
	write(t, w, "1:run1\n")
	if err := w.End(); err != nil {
		t.Fatal(err)
	}
	write(t, w, "2:run2\n")
	if err := w.End(); err != nil {
		t.Fatal(err)
	}
	r := open(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, want := range []string{"run1\n", "", "run2\n", ""} {
		e, err := r.Next(ctx, true)
		switch {
		case want == "" && err != io.EOF:
			t.Fatalf("Next = %q, %v; want io.EOF at End", e.Data, err)
		case want != "" && (err != nil || string(e.Data) != want):
			t.Fatalf("Next = %q, %v; want %q", e.Data, err, want)
		}
	}
	// Without follow, End records are skipped.
	if got := readAll(t, open(t, dir)); !equal(got, []string{"1:run1\n", "2:run2\n"}) {
		t.Errorf("read %q", got)
	}
}

func TestSeekEnd(t *testing.T) {
	dir, w := create(t)
	write(t, w, "1:old\n")
	r := open(t, dir)
	if err := r.SeekEnd(); err != nil {
		t.Fatal(err)
	}
	write(t, w, "2:new\n")
	if got := readAll(t, r); !equal(got, []string{"2:new\n"}) {
		t.Errorf("after SeekEnd read %q", got)
	}
}

// TestFollowerBeforeWriter starts a follower on a directory the writer has
// not created its files in yet, and checks that each write wakes it at once
// (inotify, not the one-second safety timer).
func TestFollowerBeforeWriter(t *testing.T) {
	dir := t.TempDir()
	r := open(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const n = 20
	got := make(chan time.Time, n)
	errc := make(chan error, 1)
	go func() {
		for {
			_, err := r.Next(ctx, true)
			if err != nil {
				errc <- err
				return
			}
			got <- time.Now()
		}
	}()
	time.Sleep(50 * time.Millisecond) // the follower waits
	w, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var worst time.Duration
	for i := range n {
		time.Sleep(10 * time.Millisecond)
		sent := time.Now()
		if err := w.Write(Stdout, fmt.Appendf(nil, "%d\n", i)); err != nil {
			t.Fatal(err)
		}
		select {
		case at := <-got:
			worst = max(worst, at.Sub(sent))
		case <-time.After(5 * time.Second):
			t.Fatalf("write %d did not reach the follower", i)
		}
	}
	if err := w.End(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != io.EOF {
		t.Errorf("follower ended with %v, want io.EOF", err)
	}
	t.Logf("slowest wake-up: %v", worst)
	if worst > 50*time.Millisecond {
		t.Errorf("slowest wake-up %v: the follower is not woken by inotify", worst)
	}
}

// TestTornRecord plays a writer that crashed between its two writes, and
// one that crashed within a record.
func TestTornRecord(t *testing.T) {
	dir, w := create(t)
	write(t, w, "1:a\n", "2:b\n")
	w.Close()
	appendTo := func(name, data string) {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(data); err != nil {
			t.Fatal(err)
		}
	}
	appendTo(LogName, "lost\n")
	appendTo(IndexName, "0123456789") // part of a record

	// Readers ignore both; a follower waits at the end.
	if got := readAll(t, open(t, dir)); !equal(got, []string{"1:a\n", "2:b\n"}) {
		t.Fatalf("read %q over a torn record", got)
	}
	follower := open(t, dir)
	readAll(t, follower)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	next := make(chan string, 3)
	go func() {
		for {
			e, err := follower.Next(ctx, true)
			if err != nil {
				next <- err.Error()
				return
			}
			next <- fmt.Sprintf("%d:%s", e.Stream, e.Data)
		}
	}()

	// The next writer indexes the lost bytes as stdout and goes on.
	w2, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	write(t, w2, "2:c\n")
	want := []string{"1:a\n", "2:b\n", "1:lost\n", "2:c\n"}
	if got := readAll(t, open(t, dir)); !equal(got, want) {
		t.Errorf("after repair read %q, want %q", got, want)
	}
	for _, want := range want[2:] {
		if got := <-next; got != want {
			t.Errorf("follower read %q, want %q", got, want)
		}
	}
	cancel()
	<-next // the follower is done with the reader
}

func TestConcurrentWrites(t *testing.T) {
	dir, w := create(t)
	const writers, each = 8, 200
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := Stream(1 + g%2)
			for i := range each {
				if err := w.Write(s, fmt.Appendf(nil, "writer %d line %d\n", g, i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	r := open(t, dir)
	seen := map[string]bool{}
	var off int64
	for {
		e, err := r.Next(context.Background(), false)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var g, i int
		if _, err := fmt.Sscanf(string(e.Data), "writer %d line %d\n", &g, &i); err != nil || seen[string(e.Data)] {
			t.Fatalf("record %q at %d: torn or repeated", e.Data, e.Offset)
		}
		if e.Stream != Stream(1+g%2) || e.Offset != off {
			t.Fatalf("record %q: stream %v offset %d, want %v at %d", e.Data, e.Stream, e.Offset, Stream(1+g%2), off)
		}
		seen[string(e.Data)] = true
		off += int64(len(e.Data))
	}
	if len(seen) != writers*each {
		t.Errorf("read %d records, wrote %d", len(seen), writers*each)
	}
}

// TestManyFollowers follows 300 logs in one process: they share one
// inotify instance (the default limit is 128 per user), and each wakes on
// its writes.
func TestManyFollowers(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("inotify is Linux's")
	}
	const n = 300
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	root := t.TempDir()
	writers := make([]*Writer, n)
	done := make(chan error, n)
	for i := range n {
		dir := filepath.Join(root, fmt.Sprint(i%150)) // two followers per directory
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		r := open(t, dir)
		go func() {
			e, err := r.Next(ctx, true)
			if err == nil && string(e.Data) != filepath.Base(dir) {
				err = fmt.Errorf("follower of %s read %q", dir, e.Data)
			}
			done <- err
		}()
		if i < 150 {
			w, err := Create(dir)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { w.Close() })
			writers[i] = w
		}
	}
	time.Sleep(100 * time.Millisecond) // all wait
	if got := inotifyInstances(t); got != 1 {
		t.Errorf("%d inotify instances, want 1", got)
	}
	start := time.Now()
	for i := range 150 {
		if err := writers[i].Write(Stdout, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d followers woken in %v", n, time.Since(start))
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("waking %d followers took %v: not by inotify", n, d)
	}
}

// inotifyInstances counts this process's inotify descriptors.
func inotifyInstances(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fd := range fds {
		if l, _ := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); l == "anon_inode:inotify" {
			n++
		}
	}
	return n
}

func TestCancelledFollower(t *testing.T) {
	dir, _ := create(t)
	r := open(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := r.Next(ctx, true); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Next = %v, want the deadline", err)
	}
}

// TestTruncatedLog truncates log by hand, as people do: the next writer
// starts a new index.
func TestTruncatedLog(t *testing.T) {
	dir, w := create(t)
	write(t, w, "1:one\n", "2:two\n")
	w.Close()
	if err := os.Truncate(filepath.Join(dir, LogName), 2); err != nil {
		t.Fatal(err)
	}
	w2, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	write(t, w2, "2:three\n")
	if got, want := readAll(t, open(t, dir)), []string{"1:on", "2:three\n"}; !equal(got, want) {
		t.Errorf("read %q, want %q", got, want)
	}
}
