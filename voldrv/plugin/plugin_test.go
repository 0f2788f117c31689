package plugin_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/voldrv/plugin"
	"github.com/enginefs/enginefs/voldrv/voldrvtest"
)

func TestDriver(t *testing.T) {
	dir := t.TempDir()
	p := voldrvtest.ServePlugin(t, dir, "testplug")
	d, err := plugin.NewRegistry(dir, 0).Get(context.Background(), "testplug")
	if err != nil {
		t.Fatal(err)
	}
	if d.Name() != "testplug" {
		t.Errorf("name %q", d.Name())
	}
	voldrvtest.TestDriver(t, d)
	if p.Calls("/Plugin.Activate") != 1 || p.Calls("/VolumeDriver.Mount") == 0 {
		t.Errorf("calls: activate %d, mount %d", p.Calls("/Plugin.Activate"), p.Calls("/VolumeDriver.Mount"))
	}
}

func TestRegistry(t *testing.T) {
	dir := t.TempDir()
	r := plugin.NewRegistry(dir, 0)
	if _, err := r.Get(context.Background(), "missing"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("a missing plugin: %v", err)
	}
	if _, err := r.Get(context.Background(), "../x"); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("a bad name: %v", err)
	}
	// A spec file naming a socket elsewhere.
	other := t.TempDir()
	voldrvtest.ServePlugin(t, other, "far")
	if err := os.WriteFile(filepath.Join(dir, "far.spec"), []byte("unix://"+filepath.Join(other, "far.sock")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := r.Get(context.Background(), "far")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Create(context.Background(), "v1", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Path(context.Background(), "nosuch"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("the plugin's not found: %v", err)
	}
}
