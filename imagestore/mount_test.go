package imagestore

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/internal/testenv"
)

// mountImage loads img into a fresh store and mounts it, unmounting at
// cleanup. It skips the test, naming overlayfs, when the host has none.
func mountImage(t *testing.T, img v1.Image) (s *Store, merged, scratch string) {
	t.Helper()
	requireRoot(t)
	testenv.Need(t, "overlayfs", testenv.Overlayfs())
	s, _ = newStore(t)
	imgs, err := s.Load(ctx, dockerArchive(t, map[string]v1.Image{"m:1": img}))
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	merged, scratch = filepath.Join(base, "merged"), filepath.Join(base, "scratch")
	t.Cleanup(func() {
		if err := Unmount(merged); err != nil {
			t.Error(err)
		}
		checkNoMounts(t, base)
	})
	if err := s.Mount(ctx, imgs[0], merged, scratch); err != nil {
		t.Fatal(err)
	}
	return s, merged, scratch
}

// TestMountWhiteouts stacks two layers and checks the merged view: the
// upper layer's whiteouts hide lower files, its opaque directory hides the
// lower directory's content, and writes land in scratch/upper.
func TestMountWhiteouts(t *testing.T) {
	lower := layerOf(t, false,
		dir("d"), file("d/a", "a"), file("d/b", "b"), file("x", "x"),
		dir("o"), file("o/o1", "1"), dir("o/sub"), file("o/sub/deep", "d"), file("keep", "k"))
	upper := layerOf(t, false,
		dir("d"), file("d/.wh.a", ""), file(".wh.x", ""),
		dir("o"), file("o/.wh..wh..opq", ""), file("o/o2", "2"), file("new", "n"))
	_, merged, scratch := mountImage(t, imageOf(t, "wh", lower, upper))
	want := []string{"d", "d/b", "keep", "new", "o", "o/o2"}
	if got := listTree(t, merged); !slices.Equal(got, want) {
		t.Errorf("merged view = %v, want %v", got, want)
	}
	if err := os.WriteFile(filepath.Join(merged, "written"), []byte("w"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(scratch, "upper", "written")); err != nil {
		t.Errorf("a write did not land in scratch/upper: %v", err)
	}
}

// TestMountSingleLayer mounts a one-layer image, twice on the same target
// (the second refused as busy), and unmounts twice (the second a no-op).
func TestMountSingleLayer(t *testing.T) {
	s, merged, scratch := mountImage(t, imageOf(t, "one", layerOf(t, false, dir("bin"), file("bin/sh", "sh"))))
	if b, err := os.ReadFile(filepath.Join(merged, "bin/sh")); err != nil || string(b) != "sh" {
		t.Errorf("bin/sh = %q, %v", b, err)
	}
	img, err := s.Get(ctx, "m:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Mount(ctx, img, merged, scratch); !errors.Is(err, errdefs.ErrBusy) {
		t.Errorf("second mount: %v, want ErrBusy", err)
	}
	if err := Unmount(merged); err != nil {
		t.Fatal(err)
	}
	if err := Unmount(merged); err != nil {
		t.Errorf("unmount of an unmounted dir: %v", err)
	}
	if err := Unmount(filepath.Join(merged, "nope")); err != nil {
		t.Errorf("unmount of a missing dir: %v", err)
	}
}

// TestMountManyLayers mounts an image with more layers than mount(2)'s
// one-page option string could name at this store's paths.
func TestMountManyLayers(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	var layers []v1.Layer
	for i := range 60 {
		layers = append(layers, layerOf(t, false, file("f", string(rune('a'+i%26))), file("l"+string(rune('a'+i/26))+string(rune('a'+i%26)), "")))
	}
	s, merged, _ := mountImage(t, imageOf(t, "many", layers...))
	if n := len(layers) * (len(s.layerDir(v1.Hash{Hex: sha256Hex(nil)})) + 1); n <= os.Getpagesize() {
		t.Fatalf("%d bytes of lowerdir fit a page: the test proves nothing", n)
	}
	if got := listTree(t, merged); len(got) != 61 {
		t.Errorf("merged view has %d entries, want 61", len(got))
	}
	if b, _ := os.ReadFile(filepath.Join(merged, "f")); string(b) != string(rune('a'+59%26)) {
		t.Errorf("f = %q: the top layer does not win", b)
	}
}

// TestMountMissingLayer refuses an image whose layers are not in the store.
func TestMountMissingLayer(t *testing.T) {
	requireRoot(t)
	s, _ := newStore(t)
	img := &Image{ID: "sha256:x", Layers: []string{"sha256:" + sha256Hex([]byte("nothing"))}}
	base := t.TempDir()
	if err := s.Mount(ctx, img, filepath.Join(base, "m"), filepath.Join(base, "s")); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("err = %v, want ErrNotFound", err)
	}
	checkNoMounts(t, base)
}

// TestMountLegacyLimit checks the mount(2) fallback refuses, before
// mounting, options longer than a page.
func TestMountLegacyLimit(t *testing.T) {
	var lowers []string
	for range 100 {
		lowers = append(lowers, "/var/lib/enginefs/images/layers/"+sha256Hex(nil))
	}
	base := t.TempDir()
	err := mountOverlayLegacy(lowers, base+"/u", base+"/w", base+"/m")
	if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "limit") {
		t.Errorf("err = %v, want ErrInvalid about the limit", err)
	}
	checkNoMounts(t, base)
}

// TestMountLegacy mounts through the mount(2) fallback.
func TestMountLegacy(t *testing.T) {
	requireRoot(t)
	testenv.Need(t, "overlayfs", testenv.Overlayfs())
	base := t.TempDir()
	lower, merged := filepath.Join(base, "lower"), filepath.Join(base, "merged")
	for _, d := range []string{lower, merged, base + "/u", base + "/w"} {
		os.MkdirAll(d, 0o755)
	}
	os.WriteFile(filepath.Join(lower, "f"), []byte("lower"), 0o644)
	t.Cleanup(func() {
		if err := Unmount(merged); err != nil {
			t.Error(err)
		}
		checkNoMounts(t, base)
	})
	if err := mountOverlayLegacy([]string{lower}, base+"/u", base+"/w", merged); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(merged, "f")); err != nil || string(b) != "lower" {
		t.Errorf("f = %q, %v", b, err)
	}
}
