package fs_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/enginefs/enginefs/fs"
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
