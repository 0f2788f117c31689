package imagestore

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"
)

var ctx = context.Background()

// twoImages returns two images sharing their base layer.
func twoImages(t *testing.T) (v1.Image, v1.Image) {
	base := layerOf(t, false, dir("bin"), file("bin/sh", "shell"), dir("etc"))
	a := imageOf(t, "a", base, layerOf(t, false, file("etc/a", "a")))
	b := imageOf(t, "b", base, layerOf(t, false, file("etc/b", "b")))
	return a, b
}

// TestLoadDockerSave loads a docker-save archive of two tagged images
// sharing a layer, and checks what the store then holds.
func TestLoadDockerSave(t *testing.T) {
	requireRoot(t)
	s, root := newStore(t)
	a, b := twoImages(t)
	p := dockerArchive(t, map[string]v1.Image{"busybox:latest": a, "example.com/team/app:v1": b, "app:v2": b})
	imgs, err := s.Load(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 2 {
		t.Fatalf("loaded %d images, want 2", len(imgs))
	}
	got, err := s.Get(ctx, "busybox")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != imageID(t, a) || !slices.Equal(got.RepoTags, []string{"busybox:latest"}) {
		t.Errorf("busybox = %s %v", got.ID, got.RepoTags)
	}
	if len(got.Layers) != 2 || got.Size != int64(len("shell")+1) || !got.Created.Equal(epoch) || got.Config.Config.Cmd[0] != "sh" {
		t.Errorf("image = %+v", got)
	}
	gb, err := s.Get(ctx, "app:v2")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gb.RepoTags, []string{"app:v2", "example.com/team/app:v1"}) {
		t.Errorf("RepoTags = %v", gb.RepoTags)
	}
	// Blobs by digest: 2 configs, 3 layers, 2 manifests; layers unpacked once.
	blobs, _ := os.ReadDir(filepath.Join(root, "blobs/sha256"))
	layers, _ := os.ReadDir(filepath.Join(root, "layers"))
	if len(blobs) != 7 || len(layers) != 3 {
		t.Errorf("%d blobs, %d layer dirs; want 7 and 3", len(blobs), len(layers))
	}
	for _, l := range got.Layers {
		h, _ := v1.NewHash(l)
		if _, err := os.Stat(filepath.Join(root, "layers", h.Hex)); err != nil {
			t.Error(err)
		}
	}
	if m, err := v1.ParseManifest(strings.NewReader(string(got.Manifest))); err != nil || m.Config.Digest.String() != got.ID {
		t.Errorf("manifest %s: %v", got.Manifest, err)
	}
	if _, err := s.Get(ctx, "busybox@"+got.ManifestDigest); err != nil {
		t.Errorf("by manifest digest: %v", err)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 2 {
		t.Errorf("List = %v, %v", list, err)
	}
	if e := tmpEntries(t, root); len(e) != 0 {
		t.Errorf("tmp holds %v after a load", e)
	}
}

// TestLoadLegacyDockerSave loads a docker-save archive written by hand as
// older docker does: uncompressed <id>/layer.tar members, one a symlink to
// another, and a gzip-compressed archive of it.
func TestLoadLegacyDockerSave(t *testing.T) {
	requireRoot(t)
	s, _ := newStore(t)
	layer := tarOf(t, file("hello", "world"))
	diff := "sha256:" + sha256Hex(layer)
	cfg := `{"architecture":"amd64","os":"linux","config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["` + diff + `","` + diff + `"]}}`
	cfgName := sha256Hex([]byte(cfg)) + ".json"
	manifest := `[{"Config":"` + cfgName + `","RepoTags":["legacy:1"],"Layers":["aaa/layer.tar","bbb/layer.tar"]}]`
	archive := tarOf(t, file("manifest.json", manifest), file(cfgName, cfg), dir("aaa"), file("aaa/layer.tar", string(layer)),
		dir("bbb"), symlink("bbb/layer.tar", "../aaa/layer.tar"))
	p := filepath.Join(t.TempDir(), "legacy.tar")
	os.WriteFile(p, archive, 0o644)
	imgs, err := s.Load(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if imgs[0].ID != "sha256:"+strings.TrimSuffix(cfgName, ".json") || !slices.Equal(imgs[0].RepoTags, []string{"legacy:1"}) {
		t.Errorf("image %s %v", imgs[0].ID, imgs[0].RepoTags)
	}
	m, err := v1.ParseManifest(strings.NewReader(string(imgs[0].Manifest)))
	if err != nil || m.Layers[0].MediaType != types.OCIUncompressedLayer || m.Layers[0].Digest.String() != diff {
		t.Errorf("synthesised manifest %s: %v", imgs[0].Manifest, err)
	}

	// The same archive gzip-compressed (docker save | gzip).
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(archive)
	zw.Close()
	os.WriteFile(p+".gz", gz.Bytes(), 0o644)
	again, err := s.Load(ctx, p+".gz")
	if err != nil || again[0].ID != imgs[0].ID {
		t.Errorf("gzip archive: %v, %v", again, err)
	}
}

// TestLoadOCI loads OCI layouts: a tagged image with a zstd layer, and a
// multi-platform index from which the host's image is taken.
func TestLoadOCI(t *testing.T) {
	requireRoot(t)
	s, _ := newStore(t)
	img := imageOf(t, "oci", layerOf(t, true, file("z", "zstd")), layerOf(t, false, file("g", "gzip")))
	other := imageOf(t, "other-arch", layerOf(t, false, file("o", "o")))
	p := ociArchive(t, func(lp layout.Path) {
		if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{annotationRefName: "example.com/x/oci:v1"})); err != nil {
			t.Fatal(err)
		}
		// A bare tag names no repository: loaded untagged.
		if err := lp.AppendImage(imageOf(t, "bare", layerOf(t, false, file("b", "b"))), layout.WithAnnotations(map[string]string{annotationRefName: "latest"})); err != nil {
			t.Fatal(err)
		}
	})
	imgs, err := s.Load(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 2 || !slices.Equal(imgs[0].RepoTags, []string{"example.com/x/oci:v1"}) || len(imgs[1].RepoTags) != 0 {
		t.Fatalf("loaded %+v", imgs)
	}
	got, err := s.Get(ctx, "example.com/x/oci:v1")
	if err != nil || got.ID != imageID(t, img) {
		t.Fatalf("Get = %v, %v", got, err)
	}
	want, _ := img.RawManifest()
	if string(got.Manifest) != string(want) {
		t.Error("the OCI manifest was not kept as it was")
	}

	// A multi-platform index named by the containerd annotation.
	host := imageOf(t, "host", layerOf(t, false, file("h", "h")))
	p = ociArchive(t, func(lp layout.Path) {
		idx := indexOf(t, map[string]v1.Image{"linux/amd64": host, "linux/riscv64": other})
		if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{annotationContainerName: "docker.io/library/multi:1"})); err != nil {
			t.Fatal(err)
		}
	})
	s2, _ := newStore(t, WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"}))
	if _, err := s2.Load(ctx, p); err != nil {
		t.Fatal(err)
	}
	if got, err := s2.Get(ctx, "multi:1"); err != nil || got.ID != imageID(t, host) {
		t.Errorf("multi:1 = %v, %v", got, err)
	}
	s3, _ := newStore(t, WithPlatform(v1.Platform{OS: "linux", Architecture: "s390x"}))
	if _, err := s3.Load(ctx, p); !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "linux/s390x") {
		t.Errorf("no image for the platform: err = %v", err)
	}
}

// TestGet resolves every form of name, and the errors.
func TestGet(t *testing.T) {
	requireRoot(t)
	s, _ := newStore(t)
	a, b := twoImages(t)
	if _, err := s.Load(ctx, dockerArchive(t, map[string]v1.Image{"busybox:latest": a, "localhost:5000/x/y:v1": b})); err != nil {
		t.Fatal(err)
	}
	idA := imageID(t, a)
	hexA := strings.TrimPrefix(idA, "sha256:")
	// A prefix long enough to be unique, and one both ids share (if any).
	common := 0
	for hexB := strings.TrimPrefix(imageID(t, b), "sha256:"); hexA[common] == hexB[common]; common++ {
	}
	unique := hexA[:max(common+1, 4)]
	for _, ref := range []string{"busybox", "busybox:latest", "docker.io/library/busybox:latest", "index.docker.io/library/busybox",
		"library/busybox", idA, hexA, "sha256:" + unique, unique} {
		got, err := s.Get(ctx, ref)
		if err != nil {
			t.Errorf("Get(%q): %v", ref, err)
			continue
		}
		if got.ID != idA {
			t.Errorf("Get(%q) = %s, want %s", ref, got.ID, idA)
		}
	}
	if got, err := s.Get(ctx, "localhost:5000/x/y:v1"); err != nil || got.RepoTags[0] != "localhost:5000/x/y:v1" {
		t.Errorf("registry ref: %v, %v", got, err)
	}
	errs := []struct {
		ref   string
		class error
	}{
		{"Busybox", errdefs.ErrInvalid},
		{"a:b:c", errdefs.ErrInvalid},
		{"sha256:xyz", errdefs.ErrInvalid},
		{"sha256:ab", errdefs.ErrInvalid}, // too short
		{"busybox:nope", errdefs.ErrNotFound},
		{"nothere", errdefs.ErrNotFound},
		{"sha256:" + strings.Repeat("0", 64), errdefs.ErrNotFound},
		{"abc", errdefs.ErrNotFound}, // a name (too short for a prefix)
	}
	for _, e := range errs {
		_, err := s.Get(ctx, e.ref)
		if !errors.Is(err, e.class) || !strings.Contains(err.Error(), e.ref) {
			t.Errorf("Get(%q) = %v, want %v naming it", e.ref, err, e.class)
		}
		if errors.Is(err, errdefs.ErrNotFound) && !strings.HasPrefix(err.Error(), "No such image: ") {
			t.Errorf("Get(%q) = %q, want docker's wording", e.ref, err)
		}
	}
	if common >= 4 {
		if _, err := s.Get(ctx, hexA[:common]); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("ambiguous prefix: %v", err)
		}
	}
}

// TestAmbiguousPrefix makes ids that share a 4-digit prefix by trying
// labels, and checks the prefix is refused as ambiguous.
func TestAmbiguousPrefix(t *testing.T) {
	requireRoot(t)
	s, _ := newStore(t)
	l := layerOf(t, false, file("x", "x"))
	seen := map[string]v1.Image{}
	var pair []v1.Image
	for i := 0; pair == nil; i++ {
		img := imageOf(t, "label"+string(rune('a'+i%26))+strings.Repeat("x", i/26), l)
		p := strings.TrimPrefix(imageID(t, img), "sha256:")[:4]
		if o, ok := seen[p]; ok {
			pair = []v1.Image{o, img}
		}
		seen[p] = img
	}
	if _, err := s.Load(ctx, dockerArchive(t, map[string]v1.Image{"a:1": pair[0], "b:1": pair[1]})); err != nil {
		t.Fatal(err)
	}
	prefix := strings.TrimPrefix(imageID(t, pair[0]), "sha256:")[:4]
	if _, err := s.Get(ctx, prefix); !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "ambiguous") {
		t.Errorf("Get(%q) = %v, want ambiguous", prefix, err)
	}
}

// TestReload checks a second load of the same archive unpacks nothing and
// writes no blob again, and that a tag moves to a newer image.
func TestReload(t *testing.T) {
	requireRoot(t)
	s, root := newStore(t)
	a, b := twoImages(t)
	p := dockerArchive(t, map[string]v1.Image{"app:1": a})
	first, err := s.Load(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	inodes := map[string]uint64{}
	stamp := func() map[string]uint64 {
		m := map[string]uint64{}
		for _, sub := range []string{"layers", "blobs/sha256"} {
			des, _ := os.ReadDir(filepath.Join(root, sub))
			for _, d := range des {
				fi, _ := os.Lstat(filepath.Join(root, sub, d.Name()))
				m[sub+"/"+d.Name()] = fi.Sys().(*syscall.Stat_t).Ino
			}
		}
		return m
	}
	inodes = stamp()
	again, err := s.Load(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if again[0].ID != first[0].ID {
		t.Error("reload changed the id")
	}
	if after := stamp(); len(after) != len(inodes) {
		t.Errorf("reload added files: %v -> %v", inodes, after)
	} else {
		for k, ino := range inodes {
			if after[k] != ino {
				t.Errorf("%s was rewritten by the reload", k)
			}
		}
	}
	// The tag moves to b; a stays, untagged.
	if _, err := s.Load(ctx, dockerArchive(t, map[string]v1.Image{"app:1": b})); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, "app:1"); got.ID != imageID(t, b) {
		t.Error("the tag did not move")
	}
	old, err := s.Get(ctx, imageID(t, a))
	if err != nil || len(old.RepoTags) != 0 {
		t.Errorf("old image: %v, %v", old, err)
	}
}

// TestPersist reopens a store and finds its images; and a second Store on
// the same root is refused while the first is open.
func TestPersist(t *testing.T) {
	requireRoot(t)
	root := t.TempDir()
	s, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := twoImages(t)
	if _, err := s.Load(ctx, dockerArchive(t, map[string]v1.Image{"keep:me": a})); err != nil {
		t.Fatal(err)
	}
	if _, err := New(root, WithLockTimeout(100*time.Millisecond)); !errors.Is(err, errdefs.ErrBusy) {
		t.Errorf("second New: %v, want ErrBusy", err)
	}
	if err := s.Tag(ctx, "keep:me", "other:tag"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := s.Get(ctx, "keep:me"); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("Get after Close: %v", err)
	}
	s, err = New(root)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Get(ctx, "keep:me")
	if err != nil || got.ID != imageID(t, a) || !slices.Equal(got.RepoTags, []string{"keep:me", "other:tag"}) || got.Size == 0 {
		t.Errorf("after reopen: %+v, %v", got, err)
	}
}

// TestLoadConcurrent loads one archive from many goroutines: every load
// succeeds, each layer is unpacked once, nothing is left in tmp.
func TestLoadConcurrent(t *testing.T) {
	requireRoot(t)
	s, root := newStore(t)
	a, b := twoImages(t)
	p := dockerArchive(t, map[string]v1.Image{"c:a": a, "c:b": b})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := s.Load(ctx, p)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if layers, _ := os.ReadDir(filepath.Join(root, "layers")); len(layers) != 3 {
		t.Errorf("%d layer dirs, want 3", len(layers))
	}
	if e := tmpEntries(t, root); len(e) != 0 {
		t.Errorf("tmp holds %v", e)
	}
	if list, _ := s.List(ctx); len(list) != 2 {
		t.Errorf("%d images", len(list))
	}
}

// TestTmpTopDir: New marks ROOT/tmp, where layers are unpacked, with
// ext4's top-directory flag (chattr +T), so a pull right after an rmi does
// not crowd the block groups the removed layers just freed.
func TestTmpTopDir(t *testing.T) {
	root := t.TempDir()
	s, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fd, err := unix.Open(filepath.Join(root, "tmp"), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type != unix.EXT4_SUPER_MAGIC {
		t.Skipf("the test directory is not on ext4 (f_type %#x): the top-directory flag is ext4's", st.Type)
	}
	flags, err := unix.IoctlGetInt(fd, unix.FS_IOC_GETFLAGS)
	if err != nil {
		t.Fatal(err)
	}
	if flags&fsTopdirFL == 0 {
		t.Fatalf("ROOT/tmp flags %#x: no FS_TOPDIR_FL", flags)
	}
}
