package logs

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzJSONReader reads any bytes as a rotated file and the current one of a
// json-file log: the reader ends with io.EOF and no other error, returns
// only stdout and stderr entries, and no more of them than the files hold
// lines.
func FuzzJSONReader(f *testing.F) {
	f.Add([]byte(`{"log":"old\n","stream":"stdout","time":"2026-01-01T00:00:00Z"}`+"\n"),
		[]byte(`{"log":"new\n","stream":"stderr","time":"2026-01-01T00:00:01.5Z"}`+"\n"))
	f.Add([]byte(`{"log":"cut`), []byte(`{"log":"x","stream":"stdin","time":"x"}`+"\n"+`not json`+"\n"))
	f.Add([]byte{}, []byte(`{"log":"no newline","stream":"stdout","time":"2026-01-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, rotated, current []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "c-json.log")
		if err := os.WriteFile(path+".1", rotated, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, current, 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := OpenJSONFile(path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		lines := bytes.Count(rotated, []byte("\n")) + bytes.Count(current, []byte("\n")) + 2
		for n := 0; ; n++ {
			e, err := r.Next(context.Background(), false)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if e.Stream != Stdout && e.Stream != Stderr {
				t.Fatalf("entry of stream %v", e.Stream)
			}
			if n >= lines {
				t.Fatalf("more entries than lines (%d)", lines)
			}
		}
	})
}
