package local_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/internal/testenv"
	"github.com/enginefs/enginefs/voldrv/local"
	"github.com/enginefs/enginefs/voldrv/voldrvtest"
)

func TestDriver(t *testing.T) {
	d, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	voldrvtest.TestDriver(t, d)
}

func TestOptions(t *testing.T) {
	root := t.TempDir()
	d, _ := local.New(root)
	ctx := context.Background()
	if err := d.Create(ctx, "bad", map[string]string{"nosuch": "1"}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("an unknown option: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "bad")); err == nil {
		t.Error("a refused volume was made")
	}
	testenv.NeedRoot(t) // to mount a tmpfs volume
	if err := d.Create(ctx, "tmp", map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}); err != nil {
		t.Fatal(err)
	}
	p, err := d.Mount(ctx, "tmp", "c1")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile("/proc/self/mountinfo"); err != nil || !contains(string(b), p) {
		t.Errorf("%s is not mounted", p)
	}
	if got, err := d.Path(ctx, "tmp"); err != nil || got != p {
		t.Errorf("Path of the mounted tmpfs volume: %q, %v; want %q", got, err, p)
	}
	if err := d.Unmount(ctx, "tmp", "c1"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile("/proc/self/mountinfo"); contains(string(b), p) {
		t.Errorf("%s is still mounted after the last unmount", p)
	}
	// Unmounted, its data is nowhere: not the directory under the mount.
	if got, err := d.Path(ctx, "tmp"); err != nil || got != "" {
		t.Errorf("Path of the unmounted tmpfs volume: %q, %v; want \"\"", got, err)
	}
	if err := d.Remove(ctx, "tmp"); err != nil {
		t.Fatal(err)
	}
}

func contains(s, sub string) bool { return sub != "" && strings.Contains(s, " "+sub+" ") }
