package imagestore

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"golang.org/x/sys/unix"
)

// unpackInto unpacks entries into a fresh directory and returns it.
func unpackInto(t *testing.T, entries ...ent) (string, UnpackStats, error) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layer")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	st, err := Unpack(context.Background(), bytes.NewReader(tarOf(t, entries...)), dir)
	return dir, st, err
}

func lstat(t *testing.T, p string) *syscall.Stat_t {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t)
}

// TestUnpackTypes checks that every entry type comes out with its type,
// mode, owner, times and xattrs, and that names are normalised.
func TestUnpackTypes(t *testing.T) {
	requireRoot(t)
	dirMtime := time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)
	setuid := file("/bin/tool", "#!/bin/sh\n")
	setuid.mode, setuid.uid, setuid.gid = 0o4755, 1000, 1001
	priv := dir("./root/")
	priv.mode, priv.mtime = 0o700, dirMtime
	tmp := dir("tmp")
	tmp.mode = 0o1777
	xf := file("etc/x", "x")
	xf.xattrs = map[string]string{"user.test": "value"}
	nul := ent{name: "dev/null", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 3}
	blk := ent{name: "dev/loop9", typ: tar.TypeBlock, mode: 0o660, major: 7, minor: 9, gid: 6}
	fifo := ent{name: "run/fifo", typ: tar.TypeFifo, mode: 0o620}
	ln := symlink("bin/sh", "/bin/busybox")
	ln.uid = 5

	d, st, err := unpackInto(t, priv, setuid, tmp, xf, nul, blk, fifo, ln,
		symlink("bin/rel", "../etc/x"), hardlink("bin/tool2", "bin/tool"), file("root/.profile", "p"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Entries != 11 || st.Size != int64(len("#!/bin/sh\n")+1+1) {
		t.Errorf("stats = %+v", st)
	}
	want := []string{"bin", "bin/rel", "bin/sh", "bin/tool", "bin/tool2", "dev", "dev/loop9", "dev/null", "etc", "etc/x", "root", "root/.profile", "run", "run/fifo", "tmp"}
	if got := listTree(t, d); !slices.Equal(got, want) {
		t.Errorf("tree = %v, want %v", got, want)
	}
	checks := []struct {
		path     string
		mode     uint32 // full st_mode
		uid, gid uint32
	}{
		{"bin", unix.S_IFDIR | 0o755, 0, 0}, // implicit parent
		{"bin/tool", unix.S_IFREG | 0o4755, 1000, 1001},
		{"root", unix.S_IFDIR | 0o700, 0, 0},
		{"tmp", unix.S_IFDIR | 0o1777, 0, 0},
		{"dev/null", unix.S_IFCHR | 0o666, 0, 0},
		{"dev/loop9", unix.S_IFBLK | 0o660, 0, 6},
		{"run/fifo", unix.S_IFIFO | 0o620, 0, 0},
		{"bin/sh", unix.S_IFLNK | 0o777, 5, 0},
	}
	for _, c := range checks {
		s := lstat(t, filepath.Join(d, c.path))
		if s.Mode != c.mode || s.Uid != c.uid || s.Gid != c.gid {
			t.Errorf("%s: mode %o uid %d gid %d, want %o %d %d", c.path, s.Mode, s.Uid, s.Gid, c.mode, c.uid, c.gid)
		}
	}
	if s := lstat(t, filepath.Join(d, "dev/null")); unix.Major(s.Rdev) != 1 || unix.Minor(s.Rdev) != 3 {
		t.Errorf("dev/null is %d,%d", unix.Major(s.Rdev), unix.Minor(s.Rdev))
	}
	if l, _ := os.Readlink(filepath.Join(d, "bin/sh")); l != "/bin/busybox" {
		t.Errorf("bin/sh -> %q, want the absolute target kept", l)
	}
	if a, b := lstat(t, filepath.Join(d, "bin/tool")), lstat(t, filepath.Join(d, "bin/tool2")); a.Ino != b.Ino {
		t.Error("bin/tool2 is not a hard link of bin/tool")
	}
	if fi, _ := os.Lstat(filepath.Join(d, "etc/x")); !fi.ModTime().Equal(epoch) {
		t.Errorf("etc/x mtime %v, want %v", fi.ModTime(), epoch)
	}
	if fi, _ := os.Lstat(filepath.Join(d, "root")); !fi.ModTime().Equal(dirMtime) {
		t.Errorf("root/ mtime %v, want %v (set after its children)", fi.ModTime(), dirMtime)
	}
	buf := make([]byte, 64)
	if n, err := unix.Getxattr(filepath.Join(d, "etc/x"), "user.test", buf); err != nil || string(buf[:n]) != "value" {
		t.Errorf("xattr user.test = %q, %v", buf[:n], err)
	}
}

// TestUnpackReplace checks that a later entry replaces an earlier one.
func TestUnpackReplace(t *testing.T) {
	requireRoot(t)
	d, _, err := unpackInto(t,
		file("a", "1"), file("a", "2"), // file over file
		file("b/inner", "x"), file("b", "file now"), // file over a full directory
		file("c", "x"), dir("c"), file("c/y", "y"), // dir over file
		symlink("s", "/etc"), file("s", "plain"), // file over symlink: no write through
		dir("k"), dir("k"), // dir over dir keeps it
	)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{"a": "2", "b": "file now", "c/y": "y", "s": "plain"} {
		if b, err := os.ReadFile(filepath.Join(d, p)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", p, b, err, want)
		}
	}
	if fi, err := os.Lstat(filepath.Join(d, "s")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("s is not a regular file: %v", err)
	}
}

// TestUnpackWhiteouts checks the translation to overlayfs form.
func TestUnpackWhiteouts(t *testing.T) {
	requireRoot(t)
	d, _, err := unpackInto(t,
		dir("etc"), file("etc/.wh.gone", ""), file(".wh.top", ""),
		dir("opaque"), file("opaque/.wh..wh..opq", ""), file("opaque/kept", "k"),
		file(".wh..wh.plnk", ""),  // aufs bookkeeping: skipped
		file("deep/er/.wh.x", ""), // parents created
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"etc/gone", "top", "deep/er/x"} {
		s := lstat(t, filepath.Join(d, p))
		if s.Mode&unix.S_IFMT != unix.S_IFCHR || s.Rdev != 0 {
			t.Errorf("%s: mode %o rdev %d, want a 0/0 character device", p, s.Mode, s.Rdev)
		}
	}
	buf := make([]byte, 8)
	if n, err := unix.Lgetxattr(filepath.Join(d, "opaque"), "trusted.overlay.opaque", buf); err != nil || string(buf[:n]) != "y" {
		t.Errorf("opaque xattr = %q, %v", buf[:n], err)
	}
	want := []string{"deep", "deep/er", "deep/er/x", "etc", "etc/gone", "opaque", "opaque/kept", "top"}
	if got := listTree(t, d); !slices.Equal(got, want) {
		t.Errorf("tree = %v, want %v", got, want)
	}
}

// TestUnpackHostile feeds tars that try to write outside the layer and
// checks each is refused with ErrInvalid naming the entry, and that
// nothing outside changed.
func TestUnpackHostile(t *testing.T) {
	requireRoot(t)
	overlayX := file("f", "x")
	overlayX.xattrs = map[string]string{"trusted.overlay.redirect": "/etc"}
	cases := []struct {
		name    string
		entries func(outside string) []ent
		bad     string // the entry the error must name
	}{
		{"dotdot file", func(string) []ent { return []ent{file("../evil", "x")} }, "../evil"},
		{"dotdot inside", func(string) []ent { return []ent{dir("a"), file("a/../../evil", "x")} }, "a/../../evil"},
		{"dotdot after slash", func(string) []ent { return []ent{file("/../evil", "x")} }, "/../evil"},
		{"dotdot dir", func(string) []ent { return []ent{dir("../evildir")} }, "../evildir"},
		{"dotdot symlink", func(string) []ent { return []ent{symlink("../evil", "x")} }, "../evil"},
		{"abs symlink then file", func(o string) []ent { return []ent{symlink("a", o), file("a/evil", "x")} }, "a/evil"},
		{"rel symlink then file", func(string) []ent { return []ent{symlink("a", "../outside"), file("a/evil", "x")} }, "a/evil"},
		{"symlink then deep file", func(o string) []ent { return []ent{symlink("a", o), file("a/sub/evil", "x")} }, "a/sub/evil"},
		{"symlink then dir", func(o string) []ent { return []ent{symlink("a", o), dir("a/evildir")} }, "a/evildir"},
		{"symlink then symlink", func(o string) []ent { return []ent{symlink("a", o), symlink("a/evil", "/x")} }, "a/evil"},
		{"symlink then device", func(o string) []ent {
			return []ent{symlink("a", o), {name: "a/evil", typ: tar.TypeChar, major: 1, minor: 3}}
		}, "a/evil"},
		{"nested symlink to dotdot", func(string) []ent {
			return []ent{dir("d"), symlink("d/up", ".."), symlink("d/up2", "up/.."), file("d/up2/evil", "x")}
		}, "d/up2/evil"},
		{"symlink then whiteout", func(o string) []ent { return []ent{symlink("a", o), file("a/.wh.secret", "")} }, "a/.wh.secret"},
		{"symlink then opaque", func(o string) []ent { return []ent{symlink("a", o), file("a/.wh..wh..opq", "")} }, "a/.wh..wh..opq"},
		{"hardlink dotdot", func(string) []ent { return []ent{hardlink("h", "../outside/secret")} }, "h"},
		{"hardlink absolute outside", func(o string) []ent { return []ent{hardlink("h", o+"/secret")} }, "h"},
		{"hardlink to host file", func(string) []ent { return []ent{hardlink("h", "/etc/passwd")} }, "h"},
		{"hardlink through symlink", func(o string) []ent { return []ent{symlink("s", o), hardlink("h", "s/secret")} }, "h"},
		{"hardlink into symlink dir", func(o string) []ent { return []ent{file("f", "x"), symlink("s", o), hardlink("s/h", "f")} }, "s/h"},
		{"hardlink to dir", func(string) []ent { return []ent{dir("d"), hardlink("h", "d")} }, "h"},
		{"whiteout of dotdot", func(string) []ent { return []ent{file(".wh...", "")} }, ".wh..."},
		{"overlay xattr", func(string) []ent { return []ent{overlayX} }, "f"},
		{"root as file", func(string) []ent { return []ent{file(".", "x")} }, "."},
		{"bad type", func(string) []ent { return []ent{{name: "c", typ: 'Z'}} }, "c"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := t.TempDir()
			outside := filepath.Join(base, "outside")
			layer := filepath.Join(base, "layer")
			for _, d := range []string{outside, layer} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600); err != nil {
				t.Fatal(err)
			}
			passwd := lstat(t, "/etc/passwd")
			_, err := Unpack(context.Background(), bytes.NewReader(tarOf(t, c.entries(outside)...)), layer)
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), "\""+c.bad+"\"") {
				t.Errorf("error %q does not name entry %q", err, c.bad)
			}
			if got := listTree(t, base); len(got) > 0 {
				var outsideLayer []string
				for _, p := range got {
					if p != "layer" && !strings.HasPrefix(p, "layer/") {
						outsideLayer = append(outsideLayer, p)
					}
				}
				if !slices.Equal(outsideLayer, []string{"outside", "outside/secret"}) {
					t.Errorf("outside the layer: %v", outsideLayer)
				}
			}
			if b, err := os.ReadFile(filepath.Join(outside, "secret")); err != nil || string(b) != "secret" {
				t.Errorf("outside/secret = %q, %v", b, err)
			}
			if s := lstat(t, filepath.Join(outside, "secret")); s.Nlink != 1 {
				t.Errorf("outside/secret has %d links", s.Nlink)
			}
			if s := lstat(t, "/etc/passwd"); s.Nlink != passwd.Nlink || s.Mtim != passwd.Mtim {
				t.Error("/etc/passwd changed")
			}
		})
	}
}

// TestUnpackLeadingSlash checks that absolute names land inside the layer.
func TestUnpackLeadingSlash(t *testing.T) {
	requireRoot(t)
	d, _, err := unpackInto(t, file("/etc/enginefs-unpack-test", "in"), hardlink("/etc/h", "/etc/enginefs-unpack-test"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat("/etc/enginefs-unpack-test"); err == nil {
		os.Remove("/etc/enginefs-unpack-test")
		t.Fatal("wrote to the host's /etc")
	}
	if b, err := os.ReadFile(filepath.Join(d, "etc/h")); err != nil || string(b) != "in" {
		t.Errorf("etc/h = %q, %v", b, err)
	}
}

// TestUnpackCancel checks that a cancelled context stops Unpack with
// ErrUnavailable, not ErrInvalid.
func TestUnpackCancel(t *testing.T) {
	requireRoot(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Unpack(ctx, bytes.NewReader(tarOf(t, file("a", "b"))), t.TempDir())
	if !errors.Is(err, errdefs.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}
