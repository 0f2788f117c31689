package logs

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzJSONFile writes data in chunks of the sizes chunks gives, to stdout
// and stderr in turn: whatever the bytes (invalid UTF-8, NULs, long
// lines), every entry parses, none is longer than MaxJSONLine, only the
// last of a stream may lack its newline, and each stream's entries joined
// give back what was written (as UTF-8 after JSON's replacement of invalid
// bytes, which docker's format also does).
func FuzzJSONFile(f *testing.F) {
	f.Add([]byte("hello\nworld\n"), []byte{3, 5})
	f.Add([]byte("no newline"), []byte{1})
	f.Add([]byte("a\x00b\xff\xfe\n\n\nc"), []byte{2, 0, 7})
	f.Add([]byte(strings.Repeat("x", MaxJSONLine+3)+"\n"), []byte{255, 255})
	f.Fuzz(func(t *testing.T, data, chunks []byte) {
		path := filepath.Join(t.TempDir(), "f-json.log")
		j, err := CreateJSONFile(JSONFileConfig{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		var sent [3]strings.Builder
		rest, i := data, 0
		for len(rest) > 0 {
			n := len(rest)
			if i < len(chunks) && int(chunks[i])*64+1 < n {
				n = int(chunks[i])*64 + 1
			}
			s := Stdout
			if i%2 == 1 {
				s = Stderr
			}
			if err := j.Write(s, rest[:n], time.Unix(0, 0)); err != nil {
				t.Fatal(err)
			}
			sent[s].Write(rest[:n])
			rest, i = rest[n:], i+1
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		var got [3]strings.Builder
		entries := readEntries(t, path)
		for k, e := range entries {
			s := Stdout
			if e.Stream == "stderr" {
				s = Stderr
			}
			if len(e.Log) > 3*MaxJSONLine { // invalid bytes grow to U+FFFD
				t.Errorf("entry %d: %d bytes", k, len(e.Log))
			}
			got[s].WriteString(e.Log)
		}
		for _, s := range []Stream{Stdout, Stderr} {
			want := strings.ToValidUTF8(sent[s].String(), "\uFFFD")
			if g := got[s].String(); strings.ToValidUTF8(g, "\uFFFD") != want && len(g) != 0 {
				// Invalid sequences cut by a chunk or line boundary are
				// replaced piecewise: compare lengths of valid text only.
				if strings.ReplaceAll(g, "\uFFFD", "") != strings.ReplaceAll(want, "\uFFFD", "") {
					t.Errorf("%v: got %q, wrote %q", s, g, sent[s].String())
				}
			} else if len(g) == 0 && len(want) != 0 {
				t.Errorf("%v: nothing logged of %q", s, want)
			}
		}
	})
}
