package fstar

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

// tree returns a WriteClient whose "root" is a fresh host directory (a
// HostDir, as a container's root/ is), beside an "outside" directory that
// nothing may reach, and both directories' paths.
func tree(t testing.TB) (fs.WriteClient, string, string) {
	base := t.TempDir()
	root, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
	for _, d := range []string{root, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c := fs.Local(fs.StaticDir{{Name: "root", Node: fs.HostDir(root)}}).(fs.WriteClient)
	return c, root, outside
}

type entry struct {
	name, link, body string
	kind             byte
}

func archive(t testing.TB, es ...entry) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.kind, Mode: 0o644, Size: int64(len(e.body)), Uid: 12, Gid: 34}
		if e.kind != tar.TypeReg {
			h.Size = 0
		}
		if e.kind == tar.TypeDir {
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			_, _ = tw.Write([]byte(e.body))
		}
	}
	_ = tw.Close()
	return buf.Bytes()
}

func TestExtractRefusesHostileArchives(t *testing.T) {
	for _, tc := range []struct {
		name string
		es   []entry
	}{
		{"dot-dot", []entry{{name: "../outside/x", body: "x", kind: tar.TypeReg}}},
		{"through a symlink of the archive", []entry{{name: "esc", link: "../outside", kind: tar.TypeSymlink}, {name: "esc/x", body: "x", kind: tar.TypeReg}}},
		{"through an absolute symlink", []entry{{name: "esc", link: "/", kind: tar.TypeSymlink}, {name: "esc/x", body: "x", kind: tar.TypeReg}}},
		{"hard link out", []entry{{name: "h", link: "../outside/secret", kind: tar.TypeLink}}},
		{"device", []entry{{name: "null", kind: tar.TypeChar}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, outside := tree(t)
			err := Extract(context.Background(), c, "root", bytes.NewReader(archive(t, tc.es...)), Options{})
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("Extract: %v, want an invalid-argument error", err)
			}
			if ents, _ := os.ReadDir(outside); len(ents) != 0 {
				t.Errorf("the archive wrote outside the directory: %v", ents)
			}
		})
	}
}

func TestExtractKeepsOwnersAndRoundTrips(t *testing.T) {
	c, root, _ := tree(t)
	in := archive(t,
		entry{name: "d/", kind: tar.TypeDir},
		entry{name: "d/f", body: "content", kind: tar.TypeReg},
		entry{name: "d/l", link: "f", kind: tar.TypeSymlink},
		entry{name: "d/h", link: "d/f", kind: tar.TypeLink},
	)
	if err := Extract(context.Background(), c, "root", bytes.NewReader(in), Options{}); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(root, "d/h")); err != nil || string(data) != "content" {
		t.Errorf("the hard link d/h reads %q, %v", data, err)
	}
	if os.Getuid() == 0 {
		a, _ := c.Stat(context.Background(), "root/d/f")
		if a.UID != 12 || a.GID != 34 {
			t.Errorf("d/f owned by %d:%d, want the archive's 12:34", a.UID, a.GID)
		}
	}
	var out bytes.Buffer
	if err := Write(context.Background(), c, "root", "/d", "d", &out); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&out)
	got := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		got[h.Name] = string(b) + h.Linkname
	}
	want := map[string]string{"d/": "", "d/f": "content", "d/l": "f", "d/h": "content"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("Write: %s holds %q, want %q (all: %q)", k, got[k], v, got)
		}
	}
}

func TestResolveStaysInTheRoot(t *testing.T) {
	c, root, _ := tree(t)
	ctx := context.Background()
	for _, l := range [][2]string{{"up", "../../.."}, {"abs", "/etc"}, {"loop", "loop"}} {
		if err := os.Symlink(l[1], filepath.Join(root, l[0])); err != nil {
			t.Fatal(err)
		}
	}
	if p, err := Resolve(ctx, c, "root", "/up/x", false); err != nil || p != "/x" {
		t.Errorf("Resolve(/up/x) = %q, %v, want /x", p, err)
	}
	if p, err := Resolve(ctx, c, "root", "/abs/passwd", false); err != nil || p != "/etc/passwd" {
		t.Errorf("Resolve(/abs/passwd) = %q, %v, want /etc/passwd", p, err)
	}
	if _, err := Resolve(ctx, c, "root", "/loop/x", false); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("Resolve(/loop/x): %v, want a loop refused", err)
	}
}

func TestExtractNoOverwriteDirNonDir(t *testing.T) {
	c, root, _ := tree(t)
	if err := os.Mkdir(filepath.Join(root, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := Extract(context.Background(), c, "root", bytes.NewReader(archive(t, entry{name: "d", body: "x", kind: tar.TypeReg})), Options{NoOverwriteDirNonDir: true})
	if !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("a file over a directory: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(root, "d")); err != nil || !fi.IsDir() {
		t.Errorf("the directory was replaced")
	}
}

// FuzzExtract extracts arbitrary archives into a directory: nothing may
// land beside it, and nothing may panic.
func FuzzExtract(f *testing.F) {
	f.Add(archive(f, entry{name: "a/", kind: tar.TypeDir}, entry{name: "a/b", body: "b", kind: tar.TypeReg}))
	f.Add(archive(f, entry{name: "esc", link: "/", kind: tar.TypeSymlink}, entry{name: "esc/x", body: "x", kind: tar.TypeReg}))
	f.Add(archive(f, entry{name: "../x", body: "x", kind: tar.TypeReg}))
	f.Add(archive(f, entry{name: "h", link: "../../x", kind: tar.TypeLink}))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, _, outside := tree(t)
		_ = Extract(context.Background(), c, "root", bytes.NewReader(data), Options{NoChown: true})
		if ents, _ := os.ReadDir(outside); len(ents) != 0 {
			t.Fatalf("the archive wrote outside the directory: %v", ents)
		}
		if ents, _ := os.ReadDir(filepath.Dir(outside)); len(ents) != 2 {
			t.Fatalf("the archive wrote beside the directory: %v", ents)
		}
	})
}
