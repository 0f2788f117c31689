package logs

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readEntries(t *testing.T, path string) []jsonEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []jsonEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e jsonEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%s: %q: %v", path, sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

// TestJSONFileLines: lines split across writes join, streams keep their
// own partial lines, a line past MaxJSONLine is cut, and Close writes
// what is held.
func TestJSONFileLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c-json.log")
	j, err := CreateJSONFile(JSONFileConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	must := func(s Stream, p string) {
		if err := j.Write(s, []byte(p), now); err != nil {
			t.Fatal(err)
		}
	}
	must(Stdout, "he")
	must(Stderr, "oops\n")
	must(Stdout, "llo\nwor")
	must(Stdout, strings.Repeat("x", MaxJSONLine+5)+"\n")
	must(Stderr, "tail")
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	got := readEntries(t, path)
	want := []jsonEntry{
		{Log: "oops\n", Stream: "stderr"},
		{Log: "hello\n", Stream: "stdout"},
		{Log: "wor" + strings.Repeat("x", MaxJSONLine-3), Stream: "stdout"},
		{Log: "xxxxxxxx\n", Stream: "stdout"},
		{Log: "tail", Stream: "stderr"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].Log != want[i].Log || got[i].Stream != want[i].Stream {
			t.Errorf("entry %d: %q %s, want %q %s", i, got[i].Log, got[i].Stream, want[i].Log, want[i].Stream)
		}
		if _, err := time.Parse(time.RFC3339Nano, got[i].Time); err != nil {
			t.Errorf("entry %d: time %q: %v", i, got[i].Time, err)
		}
	}
}

// TestJSONFileRotate: max-size and max-file keep the newest lines in
// file, file.1, file.2 and drop the rest; without compress the rotated
// files are plain.
func TestJSONFileRotate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c-json.log")
	j, err := CreateJSONFile(JSONFileConfig{Path: path, MaxSize: 300, MaxFile: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		if err := j.Write(Stdout, []byte("0123456789\n"), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, p := range []string{path, path + ".1", path + ".2"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > 300 {
			t.Errorf("%s: %d bytes, past MaxSize", p, fi.Size())
		}
		total += len(readEntries(t, p))
	}
	if _, err := os.Stat(path + ".3"); err == nil {
		t.Errorf("%s.3 kept, past MaxFile", path)
	}
	if total >= 50 || total == 0 {
		t.Errorf("%d entries kept of 50", total)
	}
}
