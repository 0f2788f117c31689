package ninep

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hugelgupf/p9/p9"

	"github.com/enginefs/enginefs/fs"
)

// TestRenameMovesFids: the fids of a directory that is renamed, and of the
// files below it, follow it, as p9's own rename makes them (its Renamed),
// for Trenameat and for Trename, on every connection of the server.
func TestRenameMovesFids(t *testing.T) {
	host := t.TempDir()
	if err := os.MkdirAll(filepath.Join(host, "d", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(host, "d", "sub", "f"), []byte("in f\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Listen(context.Background(), "unix:"+filepath.Join(t.TempDir(), "9p.sock"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, l, fs.StaticDir{{Name: "host", Node: fs.HostDir(host)}}) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return")
		}
	})
	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	fc, err := Dial(dctx, "unix:"+l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	c := fc.(*client)

	sub, _, err := c.walk("host/d/sub") // a fid below the directory moved
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := c.Rename(dctx, "host/d", "host/e"); err != nil {
		t.Fatal(err)
	}
	read := func(dir p9.File, name string) string {
		t.Helper()
		_, f, err := dir.Walk([]string{name})
		if err != nil {
			t.Fatalf("walk to %s from a fid of the moved directory: %v", name, err)
		}
		defer f.Close()
		if _, _, err := f.Open(p9.ReadOnly); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 100)
		n, err := f.ReadAt(b, 0)
		if err != nil && err != io.EOF {
			t.Fatal(err)
		}
		return string(b[:n])
	}
	if got := read(sub, "f"); got != "in f\n" {
		t.Errorf("f through the old fid of sub: %q", got)
	}

	// Trename: the file's fid moves to the host directory as g.
	f, _, err := c.walk("host/e/sub/f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hostDir, _, err := c.walk("host")
	if err != nil {
		t.Fatal(err)
	}
	defer hostDir.Close()
	if err := f.Rename(hostDir, "g"); err != nil {
		t.Fatalf("Trename: %v", err)
	}
	if _, err := os.Stat(filepath.Join(host, "g")); err != nil {
		t.Errorf("after Trename to g: %v", err)
	}
	if _, _, attr, err := f.GetAttr(p9.AttrMaskAll); err != nil || attr.Size != 5 {
		t.Errorf("getattr of the renamed fid: %+v, %v", attr, err)
	}
	if got := read(hostDir, "g"); got != "in f\n" {
		t.Errorf("g holds %q", got)
	}
	if err := c.Rename(dctx, "host/e", "host/e/sub/x"); err == nil {
		t.Error("moving a directory into itself succeeded")
	}

	// The fids of another connection move too.
	fc2, err := Dial(dctx, "unix:"+l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer fc2.Close()
	sub2, _, err := fc2.(*client).walk("host/e/sub")
	if err != nil {
		t.Fatal(err)
	}
	defer sub2.Close()
	if err := c.Rename(dctx, "host/e", "host/e3"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(host, "e3", "sub", "h"), []byte("in h\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := read(sub2, "h"); got != "in h\n" {
		t.Errorf("h through another connection's fid of sub: %q", got)
	}
}
