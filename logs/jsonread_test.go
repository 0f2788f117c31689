package logs

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// keptEntries parses the files a JSONFile at path left, oldest first, as a
// reader of docker's json-file would.
func keptEntries(t *testing.T, path string) []jsonEntry {
	t.Helper()
	names, _ := filepath.Glob(path + ".*")
	sort.Sort(sort.Reverse(sort.StringSlice(names))) // fewer than 10 files
	var out []jsonEntry
	for _, name := range append(names, path) {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = f
		if strings.HasSuffix(name, ".gz") {
			if r, err = gzip.NewReader(f); err != nil {
				t.Fatal(err)
			}
		}
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			var e jsonEntry
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatal(err)
			}
			out = append(out, e)
		}
		f.Close()
	}
	return out
}

func readAllJSON(t *testing.T, path string) []Entry {
	t.Helper()
	r, err := OpenJSONFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []Entry
	for {
		e, err := r.Next(context.Background(), false)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
}

// TestJSONReaderReadsWhatRotationKept writes 500 lines through rotations
// (plain and gzipped) and reads back exactly the entries the files hold,
// oldest first, with their own streams and times.
func TestJSONReaderReadsWhatRotationKept(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxFile  int
		compress bool
	}{{"one file", 1, false}, {"plain", 2, false}, {"gzipped", 4, true}} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c-json.log")
			w, err := CreateJSONFile(JSONFileConfig{Path: path, MaxSize: 1024, MaxFile: tc.maxFile, Compress: tc.compress})
			if err != nil {
				t.Fatal(err)
			}
			for i := 1; i <= 500; i++ {
				s := Stdout
				if i%7 == 0 {
					s = Stderr
				}
				if err := w.Write(s, []byte(fmt.Sprintf("line %d\n", i)), time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			kept := keptEntries(t, path)
			got := readAllJSON(t, path)
			if len(got) != len(kept) || len(kept) == 0 || len(kept) > 60 {
				t.Fatalf("read %d entries, the files hold %d", len(got), len(kept))
			}
			for i, e := range got {
				k := kept[i]
				if string(e.Data) != k.Log || e.Stream.String() != k.Stream || e.Time.UTC().Format(time.RFC3339Nano) != k.Time {
					t.Errorf("entry %d: %v %q %v, the file holds %+v", i, e.Stream, e.Data, e.Time, k)
				}
			}
			if last := got[len(got)-1]; string(last.Data) != "line 500\n" {
				t.Errorf("last entry %q", last.Data)
			}
		})
	}
}

// TestJSONReaderFollowsRotation follows a file rotated many times between
// two looks of the follower: it gets every line once, in order. A file
// truncated in place (max-file=1) loses what was not read before the
// truncation, as docker's does; the rest comes in order, to the last line.
func TestJSONReaderFollowsRotation(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxFile  int
		compress bool
		pace     time.Duration
	}{{"renamed", 20, false, time.Millisecond}, {"truncated", 1, false, 20 * time.Millisecond}, {"gzipped", 20, true, 10 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c-json.log")
			w, err := CreateJSONFile(JSONFileConfig{Path: path, MaxSize: 1024, MaxFile: tc.maxFile, Compress: tc.compress})
			if err != nil {
				t.Fatal(err)
			}
			r, err := OpenJSONFile(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			const n = 200
			go func() {
				for i := 1; i <= n; i++ {
					w.Write(Stdout, []byte(fmt.Sprintf("line %d\n", i)), time.Now())
					time.Sleep(tc.pace)
				}
				w.Close()
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for i := 1; i <= n; i++ {
				e, err := r.Next(ctx, true)
				if err != nil {
					t.Fatalf("line %d: %v", i, err)
				}
				var got int
				fmt.Sscanf(string(e.Data), "line %d\n", &got)
				if got != i && (tc.maxFile > 1 || got < i) {
					t.Fatalf("followed %q, want line %d", e.Data, i)
				}
				i = got
			}
			if e, err := r.Next(context.Background(), false); err != io.EOF {
				t.Errorf("after the last line: %q %v, want EOF", e.Data, err)
			}
		})
	}
}
