package buildctx

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"golang.org/x/sys/unix"
)

// entry describes one tar entry for mkTar.
type entry struct {
	name   string
	typ    byte // default: TypeReg, or TypeDir when name ends in "/"
	body   string
	mode   int64 // default 0644 (files) or 0755 (directories)
	link   string
	uid    int
	gid    int
	mtime  time.Time
	xattrs map[string]string
	size   int64 // header size when it must differ from len(body)
}

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// mkTar builds an uncompressed tar of entries.
func mkTar(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Uid: e.uid, Gid: e.gid, Mode: e.mode, ModTime: e.mtime, Format: tar.FormatPAX}
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
			if strings.HasSuffix(e.name, "/") {
				hdr.Typeflag = tar.TypeDir
			}
		}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
			if hdr.Typeflag == tar.TypeDir {
				hdr.Mode = 0o755
			}
		}
		if hdr.ModTime.IsZero() {
			hdr.ModTime = t0
		}
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(e.body))
			if e.size != 0 {
				hdr.Size = e.size
			}
		}
		for k, v := range e.xattrs {
			if hdr.PAXRecords == nil {
				hdr.PAXRecords = map[string]string{}
			}
			hdr.PAXRecords[paxXattr+k] = v
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("tar header %s: %v", e.name, err)
		}
		if e.body != "" {
			if _, err := tw.Write([]byte(e.body)); err != nil && e.size == 0 {
				t.Fatalf("tar body %s: %v", e.name, err)
			}
		}
	}
	tw.Close()
	return buf.Bytes()
}

// writeFiles creates files under dir: "name" -> content; a name ending
// in "/" is a directory, content "->target" makes a symlink.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(dir, n)
		c := files[n]
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(n, "/"):
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case strings.HasPrefix(c, "->"):
			if err := os.Symlink(strings.TrimPrefix(c, "->"), p); err != nil {
				t.Fatal(err)
			}
		default:
			if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// snapshot lists every path under dir with its type, mode, size and
// content hash-ish (the content itself, for small files), to see that a
// tree was left alone.
func snapshot(t testing.TB, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b.WriteString(rel + " " + fi.Mode().String())
		if fi.Mode().IsRegular() {
			c, _ := os.ReadFile(p)
			b.WriteString(" " + string(c))
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// wantErr checks err's class and, if msg is not empty, that its text
// contains msg.
func wantErr(t testing.TB, err, class error, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v %q", class, msg)
	}
	if class != nil && !errors.Is(err, class) {
		t.Errorf("error %q is not of class %v", err, class)
	}
	if msg != "" && !strings.Contains(err.Error(), msg) {
		t.Errorf("error %q does not contain %q", err, msg)
	}
}

// lstat returns the stat of p, failing the test if it is missing.
func lstat(t testing.TB, p string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatalf("lstat %s: %v", p, err)
	}
	return st
}

func readFile(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func notExist(t testing.TB, p string) {
	t.Helper()
	if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s exists (or: %v), want it absent", p, err)
	}
}

var _ = errdefs.ErrInvalid
