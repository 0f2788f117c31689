//go:build linux

package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/enginefs/enginefs/engine/volume"
	"github.com/enginefs/enginefs/errdefs"
)

// TestFailedCreateRemovesItsVolumes: a config write that fails after making
// a volume (the container runs: EBUSY), and a create that fails at its last
// step with an anonymous volume, return their error and remove the volumes
// they made, without deadlocking; volumes are then removed and created as
// usual.
func TestFailedCreateRemovesItsVolumes(t *testing.T) {
	e, _ := newEngine(t)
	vols := volumes[e]
	ctx := context.Background()
	c, err := e.Create(ctx, "runs", Config{Image: "busybox", Cmd: []string{"sleep", "300"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(ctx, c.ID()); err != nil {
		t.Fatal(err)
	}
	within(t, 20*time.Second, func() {
		err := e.SetConfig(ctx, "runs", Config{Image: "busybox", Cmd: []string{"true"}, Storage: Storage{Binds: []string{"newvol:/data"}}})
		if !errors.Is(err, errdefs.ErrBusy) {
			t.Errorf("config write to a running container: %v, want busy", err)
		}
	})
	if _, err := vols.Get("newvol"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("the volume the refused config made is left: %v", err)
	}

	// Configure of a container that is already created fails at its gate,
	// after resolving an anonymous volume.
	created, err := e.Create(ctx, "made", Config{Image: "busybox", Cmd: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	before := len(vols.List())
	within(t, 20*time.Second, func() {
		err := e.Configure(ctx, created, "", Config{Image: "busybox", Cmd: []string{"true"}, Storage: Storage{Binds: []string{"/anon"}}})
		if !errors.Is(err, errdefs.ErrBusy) {
			t.Errorf("configure of a created container: %v, want busy", err)
		}
	})
	if n := len(vols.List()); n != before {
		t.Errorf("%d volumes after the failed configure, %d before", n, before)
	}
	within(t, 20*time.Second, func() {
		if _, err := vols.Create(ctx, volume.Options{Name: "after"}); err != nil {
			t.Error(err)
		}
		if err := vols.Remove(ctx, "after"); err != nil {
			t.Error(err)
		}
	})
}
