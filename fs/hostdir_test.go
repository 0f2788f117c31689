package fs_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/enginefs/enginefs/fs"
	"github.com/enginefs/enginefs/internal/testenv"
)

// TestHostDirConfined: the daemon never follows a symbolic link out of a
// HostDir, whoever made it (a container writes into a volume), nor a name
// that is not one, even when a directory it looked up is swapped for a link
// afterwards.
func TestHostDirConfined(t *testing.T) {
	ctx := context.Background()
	base, outside := t.TempDir(), t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"abs": secret, "rel": "../" + filepath.Base(outside) + "/secret", "up": "..", "outdir": outside} {
		if err := os.Symlink(target, filepath.Join(base, name)); err != nil {
			t.Fatal(err)
		}
	}
	d := fs.HostDir(base)
	for _, name := range []string{"abs", "rel", "up", "outdir"} {
		n, err := d.Lookup(ctx, name)
		if err != nil {
			t.Fatalf("lookup %s: %v", name, err)
		}
		if _, ok := n.(fs.Dir); ok {
			t.Errorf("%s is served as a directory: a lookup would go through the link", name)
		}
		if _, err := fs.OpenNode(ctx, n, os.O_RDONLY); err == nil {
			t.Errorf("%s opened: the daemon followed the link", name)
		}
		if l, ok := n.(fs.Readlinker); !ok {
			t.Errorf("%s is not a link node", name)
		} else if target, err := l.Readlink(ctx); err != nil || target == "" {
			t.Errorf("readlink %s: %q, %v", name, target, err)
		}
	}
	for _, bad := range []string{"..", ".", "a/b", ""} {
		if _, err := d.Lookup(ctx, bad); err == nil {
			t.Errorf("lookup %q succeeded", bad)
		}
		if _, _, err := d.Create(ctx, bad, os.O_RDWR, 0o644); err == nil {
			t.Errorf("create %q succeeded", bad)
		}
	}
	if err := d.Rename(ctx, "abs", d, "../escaped"); err == nil {
		t.Error("a rename to ../escaped succeeded")
	}

	// A directory looked up, then swapped for a link to the outside.
	if err := os.Mkdir(filepath.Join(base, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	sub, err := d.Lookup(ctx, "sub")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(base, "sub"), filepath.Join(base, "sub.old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(base, "sub")); err != nil {
		t.Fatal(err)
	}
	sd := sub.(fs.Dir)
	if _, err := sd.Lookup(ctx, "secret"); err == nil {
		t.Error("a lookup through the swapped directory reached the outside")
	}
	if _, _, err := sub.(fs.Creator).Create(ctx, "planted", os.O_RDWR, 0o644); err == nil {
		t.Error("a create through the swapped directory succeeded")
	}
	if ents, _ := sd.ReadDir(ctx); len(ents) != 0 {
		t.Errorf("the swapped directory lists the outside: %v", ents)
	}
	if err := sub.(fs.Remover).Remove(ctx, "secret", false); err == nil {
		t.Error("a remove through the swapped directory succeeded")
	}
	if _, err := os.Stat(filepath.Join(outside, "planted")); err == nil {
		t.Error("a file was planted outside")
	}
	if data, err := os.ReadFile(secret); err != nil || string(data) != "secret\n" {
		t.Errorf("the outside file changed: %q, %v", data, err)
	}
}

// TestHostDirOwnerAndMode: what a HostDir creates gets the owner its
// transport reports (fs.WithOwner) and exactly the mode asked, special bits
// included, whatever the daemon's umask; in a setgid directory the group is
// the directory's and a new directory is setgid, as on any file system.
func TestHostDirOwnerAndMode(t *testing.T) {
	testenv.NeedRoot(t) // chown
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	base := t.TempDir()
	d := fs.HostDir(base)
	ctx := fs.WithOwner(context.Background(), fs.Owner{UID: 1000, GID: 1001, HasUID: true, HasGID: true})
	if _, err := d.Mkdir(ctx, "tmp", 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Mkdir(ctx, "shared", 0o775|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(base, "shared"), 1000, 2000); err != nil {
		t.Fatal(err)
	}
	_, h, err := d.Create(ctx, "suid", os.O_WRONLY|os.O_EXCL, 0o755|os.ModeSetuid)
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	n, err := d.Lookup(ctx, "shared")
	if err != nil {
		t.Fatal(err)
	}
	shared := n.(fs.Mkdirer)
	if _, err := shared.Mkdir(ctx, "sub", 0o750); err != nil {
		t.Fatal(err)
	}
	_, h, err = n.(fs.Creator).Create(ctx, "f", os.O_WRONLY, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	if _, err := n.(fs.Symlinker).Symlink(ctx, "f", "l"); err != nil {
		t.Fatal(err)
	}
	// Create of an existing file without O_EXCL opens it as it is.
	_, h, err = fs.HostDir(base).Create(context.Background(), "suid", os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	for name, want := range map[string]struct {
		mode     os.FileMode
		uid, gid uint32
	}{
		"tmp":        {os.ModeDir | os.ModeSticky | 0o777, 1000, 1001},
		"shared":     {os.ModeDir | os.ModeSetgid | 0o775, 1000, 2000},
		"suid":       {os.ModeSetuid | 0o755, 1000, 1001},
		"shared/sub": {os.ModeDir | os.ModeSetgid | 0o750, 1000, 2000},
		"shared/f":   {0o666, 1000, 2000},
		"shared/l":   {os.ModeSymlink | 0o777, 1000, 2000},
	} {
		fi, err := os.Lstat(filepath.Join(base, name))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode() != want.mode || st.Uid != want.uid || st.Gid != want.gid {
			t.Errorf("%s: %v %d:%d, want %v %d:%d", name, fi.Mode(), st.Uid, st.Gid, want.mode, want.uid, want.gid)
		}
	}
}

// TestHostDirSymlinkTimes: times set on a symlink are the link's (cp -a
// sets them with AT_SYMLINK_NOFOLLOW), whether its target exists or not;
// the target's are left alone.
func TestHostDirSymlinkTimes(t *testing.T) {
	base := t.TempDir()
	if err := os.WriteFile(filepath.Join(base, "target"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, l := range []struct{ name, to string }{{"dangling", "nosuch/file"}, {"link", "target"}} {
		if err := os.Symlink(l.to, filepath.Join(base, l.name)); err != nil {
			t.Fatal(err)
		}
	}
	before, err := os.Stat(filepath.Join(base, "target"))
	if err != nil {
		t.Fatal(err)
	}
	d := fs.HostDir(base)
	when := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, name := range []string{"dangling", "link"} {
		n, err := d.Lookup(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.(fs.AttrSetter).SetAttr(context.Background(), fs.SetAttr{Mtime: &when}); err != nil {
			t.Fatalf("%s: SetAttr mtime: %v", name, err)
		}
		fi, err := os.Lstat(filepath.Join(base, name))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.ModTime().Equal(when) {
			t.Errorf("%s: the link's mtime is %v, want %v", name, fi.ModTime(), when)
		}
	}
	after, err := os.Stat(filepath.Join(base, "target"))
	if err != nil {
		t.Fatal(err)
	}
	if !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("the link's target's mtime changed: %v → %v", before.ModTime(), after.ModTime())
	}
}
