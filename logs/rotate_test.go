package logs

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWriterRotates writes 300 lines into a log capped at 1 KiB: the
// files on disk hold at most two parts, a reader opened before the writes
// and following them gets every line once in order across the rotations,
// and a reader opened after gets the lines of the current part.
func TestWriterRotates(t *testing.T) {
	dir := t.TempDir()
	const limit = 1024
	w, err := Create(dir, WithMaxSize(limit))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	const n = 300
	done := make(chan error, 1)
	go func() {
		for i := 1; i <= n; i++ {
			if err := w.Write(Stdout, []byte(fmt.Sprintf("line %d\n", i))); err != nil {
				done <- err
				return
			}
			if i%50 == 0 {
				time.Sleep(20 * time.Millisecond)
			}
		}
		done <- w.End()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 1; i <= n; i++ {
		e, err := r.Next(ctx, true)
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if want := fmt.Sprintf("line %d\n", i); string(e.Data) != want {
			t.Fatalf("followed %q, want %q", e.Data, want)
		}
	}
	if _, err := r.Next(ctx, true); err != io.EOF {
		t.Errorf("after the last line: %v, want EOF (the End record)", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	w.Close()
	var total int64
	for _, name := range []string{LogName, LogName + RotatedSuffix} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > limit {
			t.Errorf("%s: %d bytes, over the cap of %d", name, fi.Size(), limit)
		}
		total += fi.Size()
	}
	if total > 2*limit {
		t.Errorf("the log holds %d bytes on disk, over 2 x %d", total, limit)
	}
	cur, _ := os.ReadFile(filepath.Join(dir, LogName))
	r2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	var got strings.Builder
	for {
		e, err := r2.Next(ctx, false)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got.Write(e.Data)
	}
	if got.String() != string(cur) || !strings.HasSuffix(got.String(), "line 300\n") {
		t.Errorf("a reader opened after read %q, want the current part %q", got.String(), cur)
	}
	// A new writer (the next run) appends to the current part.
	w2, err := Create(dir, WithMaxSize(limit))
	if err != nil {
		t.Fatal(err)
	}
	if err := w2.Write(Stderr, []byte("next run\n")); err != nil {
		t.Fatal(err)
	}
	w2.Close()
}
