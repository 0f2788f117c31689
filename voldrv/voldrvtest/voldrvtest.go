// Package voldrvtest is the conformance suite of voldrv.Driver, which the
// local driver and the plugin client run ([TestDriver]), and a small volume
// plugin ([ServePlugin]) speaking Docker's protocol over a unix socket, for
// the tests of plugins end to end.
package voldrvtest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/enginefs/enginefs/voldrv"
)

// TestDriver runs the suite on the driver d.
func TestDriver(t *testing.T, d voldrv.Driver) {
	ctx := context.Background()
	if err := d.Create(ctx, "x", nil); err == nil {
		t.Error("a one-letter volume name was accepted")
	}
	if err := d.Create(ctx, "vol-a", nil); err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := d.Create(ctx, "vol-a", nil); err != nil {
		t.Errorf("creating again: %v", err)
	}
	p1, err := d.Mount(ctx, "vol-a", "c1")
	if err != nil || !filepath.IsAbs(p1) {
		t.Fatalf("mount: %q, %v", p1, err)
	}
	if err := os.WriteFile(filepath.Join(p1, "data"), []byte("kept\n"), 0o644); err != nil {
		t.Fatalf("writing into the volume: %v", err)
	}
	p2, err := d.Mount(ctx, "vol-a", "c2")
	if err != nil || p2 != p1 {
		t.Fatalf("a second mount: %q, %v; want %q", p2, err, p1)
	}
	if p, err := d.Path(ctx, "vol-a"); err != nil || p != p1 {
		t.Errorf("path while mounted: %q, %v", p, err)
	}
	if err := d.Unmount(ctx, "vol-a", "c1"); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(p2, "data")); err != nil || string(b) != "kept\n" {
		t.Errorf("the data under the second holder: %q, %v", b, err)
	}
	if err := d.Unmount(ctx, "vol-a", "c2"); err != nil {
		t.Fatal(err)
	}
	p3, err := d.Mount(ctx, "vol-a", "c3")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(p3, "data")); err != nil || string(b) != "kept\n" {
		t.Errorf("the data after unmount and mount: %q, %v", b, err)
	}
	if err := d.Unmount(ctx, "vol-a", "c3"); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove(ctx, "vol-a"); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if _, err := d.Mount(ctx, "vol-a", "c4"); err == nil {
		t.Error("a removed volume mounted")
	}
	if _, err := os.Stat(filepath.Join(p3, "data")); err == nil {
		t.Error("the data of a removed volume is still there")
	}
}
