package fstest

import (
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/enginefs/enginefs/fs"
)

// writeClient returns c as an fs.WriteClient or fails the test.
func writeClient(t *testing.T, c fs.Client) fs.WriteClient {
	t.Helper()
	w, ok := c.(fs.WriteClient)
	if !ok {
		t.Fatalf("the client (%T) is not an fs.WriteClient", c)
	}
	return w
}

// wantErrno fails the test unless err carries errno.
func wantErrno(t *testing.T, what string, err error, errno syscall.Errno) {
	t.Helper()
	if got := ErrnoOf(err); got != errno {
		t.Errorf("%s: %v (errno %d), want %v", what, err, got, errno)
	}
}

// createFile creates name holding data through w.
func createFile(t *testing.T, w fs.WriteClient, name, data string) {
	t.Helper()
	ctx := testContext(t)
	h, err := w.Create(ctx, name, os.O_RDWR|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	if n, err := h.WriteAt(ctx, []byte(data), 0); err != nil || n != len(data) {
		t.Fatalf("write %s: %d, %v", name, n, err)
	}
	if err := h.Close(); err != nil {
		t.Fatalf("close %s: %v", name, err)
	}
}

func testHostFiles(t *testing.T, tr *Tree, c fs.Client) {
	w := writeClient(t, c)
	ctx := testContext(t)
	createFile(t, w, "host/a.txt", "hello world\n")
	if got := readFile(t, c, "host/a.txt"); got != "hello world\n" {
		t.Errorf("read back %q", got)
	}
	if data, err := os.ReadFile(filepath.Join(tr.HostPath(), "a.txt")); err != nil || string(data) != "hello world\n" {
		t.Errorf("on the host: %q, %v", data, err)
	}
	// Writes at offsets of an open file, and a truncate through it.
	h, err := c.Open(ctx, "host/a.txt", os.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.WriteAt(ctx, []byte("W"), 6); err != nil {
		t.Fatal(err)
	}
	h.Close()
	if got := readFile(t, c, "host/a.txt"); got != "hello World\n" {
		t.Errorf("after a write at 6: %q", got)
	}
	size := int64(5)
	if err := w.SetAttr(ctx, "host/a.txt", fs.SetAttr{Size: &size}); err != nil {
		t.Fatalf("truncate: %v", err)
	}
	if a, err := w.Stat(ctx, "host/a.txt"); err != nil || a.Size != 5 || !a.Mode.IsRegular() {
		t.Errorf("stat after truncate: %+v, %v", a, err)
	}
	if _, err := w.Create(ctx, "host/a.txt", os.O_RDWR|os.O_EXCL, 0o644); err == nil {
		t.Error("an exclusive create of an existing file succeeded")
	}
	// A file written on the host shows through the client at once.
	if err := os.WriteFile(filepath.Join(tr.HostPath(), "b.txt"), []byte("from the host\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, c, "host/b.txt"); got != "from the host\n" {
		t.Errorf("host/b.txt = %q", got)
	}
	// A large file survives the trip (several I/O units).
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	createFile(t, w, "host/big", string(big))
	if got := readFile(t, c, "host/big"); got != string(big) {
		t.Errorf("a 3 MiB file came back with %d bytes, or changed", len(got))
	}
}

func testHostDirs(t *testing.T, tr *Tree, c fs.Client) {
	w := writeClient(t, c)
	ctx := testContext(t)
	for _, d := range []string{"host/d", "host/d/e", "host/other"} {
		if err := w.Mkdir(ctx, d, 0o755); err != nil {
			t.Fatalf("mkdir %s: %v", d, err)
		}
	}
	wantErrno(t, "mkdir of an existing directory", w.Mkdir(ctx, "host/d", 0o755), syscall.EEXIST)
	createFile(t, w, "host/d/e/f", "f\n")
	ents := readDir(t, c, "host/d")
	if len(ents) != 1 || ents[0].Name != "e" || !ents[0].Mode.IsDir() {
		t.Errorf("host/d lists %+v", ents)
	}
	wantErrno(t, "remove of a directory that is not empty", w.Remove(ctx, "host/d"), syscall.ENOTEMPTY)

	// A file renamed across directories, then a directory.
	if err := w.Rename(ctx, "host/d/e/f", "host/other/g"); err != nil {
		t.Fatalf("rename a file: %v", err)
	}
	if got := readFile(t, c, "host/other/g"); got != "f\n" {
		t.Errorf("the renamed file holds %q", got)
	}
	if _, err := c.Open(ctx, "host/d/e/f", os.O_RDONLY); ErrnoOf(err) != syscall.ENOENT {
		t.Errorf("the old name still opens: %v", err)
	}
	if err := w.Rename(ctx, "host/d/e", "host/other/e2"); err != nil {
		t.Fatalf("rename a directory: %v", err)
	}
	createFile(t, w, "host/other/e2/inside", "in\n")
	if got := readFile(t, c, "host/other/e2/inside"); got != "in\n" {
		t.Errorf("a file made in the renamed directory holds %q", got)
	}
	if _, err := os.Stat(filepath.Join(tr.HostPath(), "other", "e2", "inside")); err != nil {
		t.Errorf("on the host: %v", err)
	}
	// Rename replaces an existing file.
	createFile(t, w, "host/other/h", "old\n")
	createFile(t, w, "host/other/new", "new\n")
	if err := w.Rename(ctx, "host/other/new", "host/other/h"); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, c, "host/other/h"); got != "new\n" {
		t.Errorf("the replaced file holds %q", got)
	}

	for _, name := range []string{"host/other/e2/inside", "host/other/e2", "host/other/g", "host/other/h", "host/other", "host/d"} {
		if err := w.Remove(ctx, name); err != nil {
			t.Errorf("remove %s: %v", name, err)
		}
	}
	if got := names(readDir(t, c, "host")); len(got) != 0 {
		t.Errorf("host lists %q after removing everything", got)
	}
	if ents, _ := os.ReadDir(tr.HostPath()); len(ents) != 0 {
		t.Errorf("the host directory still holds %d entries", len(ents))
	}
	wantErrno(t, "remove of a missing file", w.Remove(ctx, "host/nothing"), syscall.ENOENT)
}

// testHostRenameWhileBlocked: a rename is served while a read of a
// blocking file is blocked on the same client (one 9P connection, as a
// kernel mount has), and so is what follows it.
func testHostRenameWhileBlocked(t *testing.T, tr *Tree, c fs.Client) {
	w := writeClient(t, c)
	ctx := testContext(t)
	if err := w.Mkdir(ctx, "host/d1", 0o755); err != nil {
		t.Fatal(err)
	}
	createFile(t, w, "host/d1/f", "f\n")
	h, err := c.Open(ctx, "wait", os.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ch := readAsync(ctx, h)
	WaitFor(t, "the read of wait to block", func() bool { return tr.Waiting() == 1 })
	done := make(chan error, 1)
	go func() { done <- w.Rename(ctx, "host/d1", "host/d2") }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("rename while a read is blocked: %v", err)
		}
	case <-time.After(timeout):
		tr.Release() // let the connection go
		t.Fatal("the rename did not return while a read of wait was blocked")
	}
	if got := readFile(t, c, "host/d2/f"); got != "f\n" {
		t.Errorf("host/d2/f holds %q", got)
	}
	tr.Release()
	if r := await(t, "the released read", ch); r.err != nil || r.data != "released 1\n" {
		t.Errorf("read of wait: %q, %v", r.data, r.err)
	}
}

func testHostLinks(t *testing.T, tr *Tree, c fs.Client) {
	w := writeClient(t, c)
	ctx := testContext(t)
	createFile(t, w, "host/target", "t\n")
	if err := w.Symlink(ctx, "target", "host/link"); err != nil {
		t.Fatalf("symlink: %v", err)
	}
	if got, err := w.Readlink(ctx, "host/link"); err != nil || got != "target" {
		t.Errorf("readlink: %q, %v", got, err)
	}
	if a, err := w.Stat(ctx, "host/link"); err != nil || a.Mode&os.ModeSymlink == 0 {
		t.Errorf("stat of the link: %v, %v; want a symbolic link", a.Mode, err)
	}
	ents := readDir(t, c, "host")
	i := slices.IndexFunc(ents, func(e fs.DirEntry) bool { return e.Name == "link" })
	if i < 0 || ents[i].Mode&os.ModeSymlink == 0 {
		t.Errorf("host lists %+v; want link as a symbolic link", ents)
	}
	if target, err := os.Readlink(filepath.Join(tr.HostPath(), "link")); err != nil || target != "target" {
		t.Errorf("on the host the link is %q, %v", target, err)
	}
	if err := w.Remove(ctx, "host/link"); err != nil {
		t.Fatalf("remove the link: %v", err)
	}
	if got := readFile(t, c, "host/target"); got != "t\n" {
		t.Errorf("removing the link changed its target: %q", got)
	}
}

func testHostAttrs(t *testing.T, tr *Tree, c fs.Client) {
	w := writeClient(t, c)
	ctx := testContext(t)
	createFile(t, w, "host/f", "x")
	mode := os.FileMode(0o600)
	mtime := time.Date(2020, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := w.SetAttr(ctx, "host/f", fs.SetAttr{Mode: &mode, Mtime: &mtime, Atime: &mtime}); err != nil {
		t.Fatalf("setattr: %v", err)
	}
	a, err := w.Stat(ctx, "host/f")
	if err != nil {
		t.Fatal(err)
	}
	if a.Mode.Perm() != 0o600 || !a.Mtime.Equal(mtime) {
		t.Errorf("after chmod 600 and utimes %v: mode %v, mtime %v", mtime, a.Mode, a.Mtime)
	}
	fi, err := os.Stat(filepath.Join(tr.HostPath(), "f"))
	if err != nil || fi.Mode().Perm() != 0o600 || !fi.ModTime().Equal(mtime) {
		t.Errorf("on the host: %v %v %v", fi.Mode(), fi.ModTime(), err)
	}
	uid, gid := uint32(1234), uint32(5678)
	if err := w.SetAttr(ctx, "host/f", fs.SetAttr{UID: &uid, GID: &gid}); err != nil {
		t.Fatalf("chown: %v", err)
	}
	if a, err := w.Stat(ctx, "host/f"); err != nil || a.UID != uid || a.GID != gid {
		t.Errorf("after chown 1234:5678: %d:%d, %v", a.UID, a.GID, err)
	}
}

func testWritesRefused(t *testing.T, _ *Tree, c fs.Client) {
	w := writeClient(t, c)
	ctx := testContext(t)
	_, err := w.Create(ctx, "static/new", os.O_RDWR, 0o644)
	wantErrno(t, "create in a synthetic directory", err, syscall.EPERM)
	wantErrno(t, "mkdir in the root", w.Mkdir(ctx, "newdir", 0o755), syscall.EPERM)
	wantErrno(t, "remove a ctl file", w.Remove(ctx, "ctl"), syscall.EPERM)
	wantErrno(t, "rename a synthetic file", w.Rename(ctx, "value", "value2"), syscall.EPERM)
	wantErrno(t, "symlink in the root", w.Symlink(ctx, "ctl", "link"), syscall.EPERM)
	if err := w.Rename(ctx, "host", "moved"); err == nil {
		t.Error("renaming the host directory itself succeeded")
	}
	if got := readFile(t, c, "static/hello"); got != "hello\n" {
		t.Errorf("static/hello = %q", got)
	}
}
