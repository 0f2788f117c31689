package imagestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/internal/testenv"
)

// baseImage loads a tagged image whose files a child's changes hide and
// replace: gone, keep, opq/old, etc/.
func baseImage(t *testing.T, s *Store, tag string) *Image {
	t.Helper()
	img := imageOf(t, "base-"+tag, layerOf(t, false,
		file("gone", "g"), file("keep", "k"), dir("opq"), file("opq/old", "o"), dir("etc"), file("etc/passwd", "root")))
	imgs, err := s.Load(ctx, dockerArchive(t, map[string]v1.Image{tag: img}))
	if err != nil {
		t.Fatal(err)
	}
	return imgs[0]
}

// configOf returns a Config for Create: the parent's config (or a fresh
// one) with the parent's diff ids and the new layer's, a label and a
// creation time. The layer Create passes is stored in *got, if set.
func configOf(parent *Image, label string, created time.Time, got **Layer) func(*Layer) ([]byte, error) {
	return func(l *Layer) ([]byte, error) {
		if got != nil {
			*got = l
		}
		cfg := &v1.ConfigFile{Architecture: runtime.GOARCH, OS: runtime.GOOS, RootFS: v1.RootFS{Type: "layers"}}
		if parent != nil {
			cfg = parent.Config.DeepCopy()
		}
		cfg.Created = v1.Time{Time: created}
		cfg.Config.Labels = map[string]string{"test": label}
		if l != nil {
			h, err := v1.NewHash(l.DiffID)
			if err != nil {
				return nil, err
			}
			cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, h)
		}
		return json.Marshal(cfg)
	}
}

// create runs Create and fails the test on error.
func create(t *testing.T, s *Store, spec ImageSpec) *Image {
	t.Helper()
	img, err := s.Create(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// noChange makes an image without a layer on parent (nil for none), with
// tags: a build step that changed only the config.
func noChange(t *testing.T, s *Store, parent *Image, label string, tags ...string) *Image {
	t.Helper()
	spec := ImageSpec{Config: configOf(parent, label, epoch, nil), Tags: tags}
	if parent != nil {
		spec.Parent = parent.ID
	}
	return create(t, s, spec)
}

// buildUpper writes into dir, as overlayfs keeps a container's changes: a
// file with an attribute and a second link, a symlink, a set-uid file of
// another owner, a long name, a fifo, a whiteout of "gone" and an opaque
// directory "opq". Every time is epoch.
func buildUpper(t *testing.T, dir string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	p := func(rel string) string { return filepath.Join(dir, rel) }
	must(os.MkdirAll(p("etc"), 0o755))
	must(os.WriteFile(p("etc/new"), []byte("new\n"), 0o644))
	must(unix.Setxattr(p("etc/new"), "user.note", []byte("hi"), 0))
	must(os.Link(p("etc/new"), p("etc/hard")))
	must(os.WriteFile(p("etc/"+strings.Repeat("long", 40)), []byte("l"), 0o600))
	must(os.Symlink("etc/new", p("link")))
	must(os.Mkdir(p("bin"), 0o750))
	must(os.WriteFile(p("bin/tool"), []byte("#!/bin/sh\n"), 0o755))
	must(os.Chown(p("bin/tool"), 1000, 1001))
	must(unix.Chmod(p("bin/tool"), 0o4755)) // after chown, which clears set-id bits
	must(unix.Mkfifo(p("fifo"), 0o640))
	must(unix.Mknod(p("gone"), unix.S_IFCHR, 0))
	must(os.Mkdir(p("opq"), 0o755))
	must(unix.Setxattr(p("opq"), opaqueXattr, []byte("y"), 0))
	must(os.WriteFile(p("opq/inside"), []byte("i"), 0o644))
	for _, rel := range slices.Backward(listTree(t, dir)) { // children before parents
		ts := []unix.Timespec{unix.NsecToTimespec(epoch.UnixNano()), unix.NsecToTimespec(epoch.UnixNano())}
		must(unix.UtimesNanoAt(unix.AT_FDCWD, p(rel), ts, unix.AT_SYMLINK_NOFOLLOW))
	}
}

// describe returns one line per node below dir: type and mode, owner,
// modification time, content or target or device, attributes, and which
// earlier path it is a hard link of. A whiteout is only its owner.
func describe(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	first := map[uint64]string{}
	for _, rel := range listTree(t, dir) {
		p := filepath.Join(dir, rel)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			t.Fatal(err)
		}
		typ := st.Mode & unix.S_IFMT
		if typ == unix.S_IFCHR && st.Rdev == 0 {
			out[rel] = fmt.Sprintf("whiteout %d:%d", st.Uid, st.Gid)
			continue
		}
		line := fmt.Sprintf("%o %d:%d mtime=%d", st.Mode, st.Uid, st.Gid, st.Mtim.Sec)
		switch typ {
		case unix.S_IFREG:
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			line += fmt.Sprintf(" %q", b)
		case unix.S_IFLNK:
			target, _ := os.Readlink(p)
			line += " -> " + target
		case unix.S_IFCHR, unix.S_IFBLK:
			line += fmt.Sprintf(" dev=%d", st.Rdev)
		}
		attrs, err := xattrs(func(b []byte) (int, error) { return unix.Llistxattr(p, b) },
			func(k string, b []byte) (int, error) { return unix.Lgetxattr(p, k, b) })
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range attrs {
				if k != selinuxXattr && !yield(k) {
					return
				}
			}
		}) {
			line += fmt.Sprintf(" %s=%q", k, attrs[k])
		}
		if typ != unix.S_IFDIR && st.Nlink > 1 {
			if f, ok := first[st.Ino]; ok {
				line += " link of " + f
			} else {
				first[st.Ino] = rel
			}
		}
		out[rel] = line
	}
	return out
}

// layerPath is the unpacked directory of a layer of the store at root.
func layerPath(t *testing.T, root, diffID string) string {
	t.Helper()
	h, err := v1.NewHash(diffID)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "layers", h.Hex)
}

// TestCreateFromDir writes a layer from an overlayfs-form directory: the
// unpacked layer is the same tree, the diff id is the same for the same
// tree elsewhere, the image's manifest and config are the parent's plus
// the layer, and the image mounts with the changes over the parent.
func TestCreateFromDir(t *testing.T) {
	requireRoot(t)
	s, root := newStore(t)
	base := baseImage(t, s, "base:1")
	upper := filepath.Join(t.TempDir(), "upper")
	buildUpper(t, upper)

	var layer *Layer
	img := create(t, s, ImageSpec{Parent: base.ID, Dir: upper, Config: configOf(base, "child", epoch, &layer), Tags: []string{"child"}, CacheKey: "k1"})
	if layer == nil {
		t.Fatal("Config got no layer")
	}
	if img.Parent != base.ID || img.CacheKey != "k1" || !slices.Equal(img.RepoTags, []string{"child:latest"}) {
		t.Errorf("image %s: parent %q, cache key %q, tags %v", img.ID, img.Parent, img.CacheKey, img.RepoTags)
	}
	if want := append(slices.Clone(base.Layers), layer.DiffID); !slices.Equal(img.Layers, want) {
		t.Errorf("layers %v, want %v", img.Layers, want)
	}
	if want := append(slices.Clone(base.Blobs), layer.Blob); !slices.Equal(img.Blobs, want) {
		t.Errorf("blobs %v, want %v", img.Blobs, want)
	}
	if img.Size != base.Size+layer.Size || layer.Size != int64(len("new\n")+1+len("#!/bin/sh\n")+1) {
		t.Errorf("size %d (layer %d), base %d", img.Size, layer.Size, base.Size)
	}
	m, err := v1.ParseManifest(bytes.NewReader(img.Manifest))
	if err != nil {
		t.Fatal(err)
	}
	last := m.Layers[len(m.Layers)-1]
	if len(m.Layers) != len(base.Layers)+1 || m.MediaType != types.OCIManifestSchema1 || m.Config.Digest.String() != img.ID ||
		last.MediaType != types.OCILayer || last.Digest.String() != layer.Blob || last.Size != layer.BlobSize {
		t.Errorf("manifest %s", img.Manifest)
	}
	blob, err := os.ReadFile(filepath.Join(root, "blobs", "sha256", strings.TrimPrefix(layer.Blob, "sha256:")))
	if err != nil || int64(len(blob)) != layer.BlobSize || !bytes.HasPrefix(blob, gzipMagic) {
		t.Errorf("blob: %d bytes, %v", len(blob), err)
	}

	// The unpacked layer is the directory again, whiteouts in overlay form.
	want, got := describe(t, upper), describe(t, layerPath(t, root, layer.DiffID))
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range want {
			if !yield(k) {
				return
			}
		}
	}) {
		if got[k] != want[k] {
			t.Errorf("%s: unpacked %q, want %q", k, got[k], want[k])
		}
	}
	if len(got) != len(want) {
		t.Errorf("unpacked %d nodes, want %d: %v", len(got), len(want), got)
	}

	// The same tree elsewhere, under another image, is the same layer.
	again := filepath.Join(t.TempDir(), "again")
	buildUpper(t, again)
	var layer2 *Layer
	create(t, s, ImageSpec{Parent: base.ID, Dir: again, Config: configOf(base, "again", epoch, &layer2)})
	if *layer2 != *layer {
		t.Errorf("the same tree gave %+v, then %+v", layer, layer2)
	}

	// Mounted: the parent's files, the changes, the whiteout and the
	// opaque directory hiding the parent's.
	testenv.Need(t, "overlayfs", testenv.Overlayfs())
	_, merged, _ := mountImageIn(t, s, img)
	wantTree := []string{"bin", "bin/tool", "etc", "etc/hard", "etc/" + strings.Repeat("long", 40), "etc/new", "etc/passwd", "fifo", "keep", "link", "opq", "opq/inside"}
	if tree := listTree(t, merged); !slices.Equal(tree, wantTree) {
		t.Errorf("merged view %v, want %v", tree, wantTree)
	}
	if b, err := os.ReadFile(filepath.Join(merged, "link")); err != nil || string(b) != "new\n" {
		t.Errorf("link reads %q, %v", b, err)
	}
}

// TestCreateFromOverlay makes a layer of what a real overlayfs mount left
// in its upper directory (the kernel's whiteouts and opaque directories),
// and checks the new image shows the same view.
func TestCreateFromOverlay(t *testing.T) {
	requireRoot(t)
	testenv.Need(t, "overlayfs", testenv.Overlayfs())
	s, _ := newStore(t)
	base := baseImage(t, s, "base:1")
	dirp := t.TempDir()
	merged, scratch := filepath.Join(dirp, "merged"), filepath.Join(dirp, "scratch")
	if err := s.Mount(ctx, base, merged, scratch); err != nil {
		t.Fatal(err)
	}
	defer Unmount(merged)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Remove(filepath.Join(merged, "gone")))
	must(os.Remove(filepath.Join(merged, "keep")))
	must(os.RemoveAll(filepath.Join(merged, "opq")))
	must(os.Mkdir(filepath.Join(merged, "opq"), 0o755))
	must(os.WriteFile(filepath.Join(merged, "opq/inside"), []byte("i"), 0o644))
	must(os.WriteFile(filepath.Join(merged, "etc/passwd"), []byte("root:x:0:0"), 0o644))
	must(os.Link(filepath.Join(merged, "etc/passwd"), filepath.Join(merged, "etc/passwd-")))
	wantTree := listTree(t, merged)
	must(Unmount(merged))

	var layer *Layer
	img := create(t, s, ImageSpec{Parent: base.ID, Dir: filepath.Join(scratch, "upper"), Config: configOf(base, "overlay", epoch, &layer)})
	if layer == nil {
		t.Fatal("no layer")
	}
	_, merged2, _ := mountImageIn(t, s, img)
	if tree := listTree(t, merged2); !slices.Equal(tree, wantTree) {
		t.Errorf("new image shows %v, want %v", tree, wantTree)
	}
	if b, err := os.ReadFile(filepath.Join(merged2, "etc/passwd-")); err != nil || string(b) != "root:x:0:0" {
		t.Errorf("etc/passwd- = %q, %v", b, err)
	}
}

// TestCreateEmpty: no changes, an empty directory and a tar without
// entries all give an image without a new layer.
func TestCreateEmpty(t *testing.T) {
	requireRoot(t)
	s, _ := newStore(t)
	base := baseImage(t, s, "base:1")
	for name, spec := range map[string]ImageSpec{
		"none":      {},
		"empty dir": {Dir: t.TempDir()},
		"empty tar": {Tar: bytes.NewReader(tarOf(t))},
	} {
		t.Run(name, func(t *testing.T) {
			called := false
			spec.Parent = base.ID
			cfg := configOf(base, name, epoch, nil)
			spec.Config = func(l *Layer) ([]byte, error) {
				called = true
				if l != nil {
					t.Errorf("Config got layer %+v", l)
				}
				return cfg(l)
			}
			img := create(t, s, spec)
			if !called || !slices.Equal(img.Layers, base.Layers) || !slices.Equal(img.Blobs, base.Blobs) || img.Size != base.Size || img.Parent != base.ID {
				t.Errorf("image %+v", img)
			}
		})
	}
	// From nothing, without a layer.
	img := noChange(t, s, nil, "scratch", "scratch:1")
	if len(img.Layers) != 0 || img.Parent != "" {
		t.Errorf("scratch image %+v", img)
	}
}

// TestCreateFromTar imports layer tars, plain and compressed: the diff id
// is the uncompressed tar's, the blob gzip.
func TestCreateFromTar(t *testing.T) {
	requireRoot(t)
	s, root := newStore(t)
	raw := tarOf(t, dir("app"), file("app/run", "run"), symlink("app/latest", "run"))
	diffID := "sha256:" + sha256Hex(raw)
	var gz, zs bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	enc, err := zstd.NewWriter(&zs)
	if err != nil {
		t.Fatal(err)
	}
	enc.Write(raw)
	enc.Close()
	cases := map[string][]byte{"plain": raw, "gzip": gz.Bytes(), "zstd": zs.Bytes()}
	if bz, err := exec.Command("bzip2", "-c", tempFile(t, raw)).Output(); err == nil {
		cases["bzip2"] = bz
	} else {
		t.Logf("bzip2 not tested: %v", err)
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			var layer *Layer
			img := create(t, s, ImageSpec{Tar: bytes.NewReader(body), Config: configOf(nil, "import-"+name, epoch, &layer), Tags: []string{"imported:" + name}})
			if layer == nil || layer.DiffID != diffID || !slices.Equal(img.Layers, []string{diffID}) || img.Parent != "" {
				t.Fatalf("layer %+v, image layers %v", layer, img.Layers)
			}
			d := layerPath(t, root, diffID)
			if b, err := os.ReadFile(filepath.Join(d, "app/latest")); err != nil || string(b) != "run" {
				t.Errorf("app/latest = %q, %v", b, err)
			}
		})
	}
	xz := append([]byte{0xfd, '7', 'z', 'X', 'Z', 0}, make([]byte, 64)...)
	if _, err := s.Create(ctx, ImageSpec{Tar: bytes.NewReader(xz), Config: configOf(nil, "xz", epoch, nil)}); !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "xz") {
		t.Errorf("xz: %v", err)
	}
	if _, err := s.Create(ctx, ImageSpec{Tar: strings.NewReader(strings.Repeat("not a tar ", 100)), Config: configOf(nil, "junk", epoch, nil)}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("not a tar: %v", err)
	}
}

// tempFile writes b to a temporary file and returns its path.
func tempFile(t *testing.T, b []byte) string {
	p := filepath.Join(t.TempDir(), "raw")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCreateRefused: what Create refuses leaves nothing visible.
func TestCreateRefused(t *testing.T) {
	requireRoot(t)
	s, _ := newStore(t)
	base := baseImage(t, s, "base:1")
	upper := filepath.Join(t.TempDir(), "upper")
	buildUpper(t, upper)
	before, _ := s.List(ctx)
	bad := func(l *Layer) ([]byte, error) {
		return configOf(base, "bad", epoch, nil)(nil) // the new layer left out
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	cases := []struct {
		name  string
		ctx   context.Context
		spec  ImageSpec
		class error
	}{
		{"diff ids", ctx, ImageSpec{Parent: base.ID, Dir: upper, Config: bad, Tags: []string{"bad:1"}}, errdefs.ErrInvalid},
		{"not json", ctx, ImageSpec{Parent: base.ID, Config: func(*Layer) ([]byte, error) { return []byte("{"), nil }, Tags: []string{"bad:1"}}, errdefs.ErrInvalid},
		{"no parent", ctx, ImageSpec{Parent: "sha256:" + strings.Repeat("0", 64), Config: configOf(nil, "x", epoch, nil), Tags: []string{"bad:1"}}, errdefs.ErrNotFound},
		{"dir and tar", ctx, ImageSpec{Dir: upper, Tar: strings.NewReader(""), Config: configOf(nil, "x", epoch, nil)}, errdefs.ErrInvalid},
		{"bad tag", ctx, ImageSpec{Config: configOf(nil, "x", epoch, nil), Tags: []string{"Bad"}}, errdefs.ErrInvalid},
		{"cancelled", cancelled, ImageSpec{Parent: base.ID, Dir: upper, Config: configOf(base, "c", epoch, nil), Tags: []string{"bad:1"}}, errdefs.ErrUnavailable},
		{"cancelled midway", ctx, ImageSpec{Parent: base.ID, Config: configOf(base, "m", epoch, nil), Tags: []string{"bad:1"}}, errdefs.ErrUnavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cctx := c.ctx
			if c.name == "cancelled midway" {
				var cancel context.CancelFunc
				cctx, cancel = context.WithCancel(ctx)
				defer cancel()
				c.spec.Tar = &cancelReader{r: bytes.NewReader(tarOf(t, file("a", strings.Repeat("a", 1<<20)))), cancel: cancel}
			}
			_, err := s.Create(cctx, c.spec)
			if !errors.Is(err, c.class) {
				t.Errorf("err = %v, want %v", err, c.class)
			}
			after, _ := s.List(ctx)
			if len(after) != len(before) {
				t.Errorf("%d images after, %d before", len(after), len(before))
			}
			if _, err := s.Get(ctx, "bad:1"); !errors.Is(err, errdefs.ErrNotFound) {
				t.Errorf("bad:1: %v", err)
			}
		})
	}
}

// cancelReader cancels its context after the first read.
type cancelReader struct {
	r      io.Reader
	cancel context.CancelFunc
}

func (c *cancelReader) Read(p []byte) (int, error) {
	defer c.cancel()
	return c.r.Read(p[:min(len(p), 4096)])
}

// TestCached finds the newest image made with a key on a parent, also
// after a reopen.
func TestCached(t *testing.T) {
	requireRoot(t)
	root := t.TempDir()
	s, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	base := baseImage(t, s, "base:1")
	mk := func(parent *Image, label, key string, created time.Time) *Image {
		spec := ImageSpec{Config: configOf(parent, label, created, nil), CacheKey: key}
		if parent != nil {
			spec.Parent = parent.ID
		}
		return create(t, s, spec)
	}
	older := mk(base, "older", "RUN make", epoch)
	newer := mk(base, "newer", "RUN make", epoch.Add(time.Hour))
	mk(base, "oldest", "RUN make", epoch.Add(-time.Hour))
	mk(older, "other parent", "RUN make", epoch.Add(2*time.Hour))
	scratch := mk(nil, "scratch", "COPY x", epoch)
	check := func(parent, key, want string) {
		t.Helper()
		got, err := s.Cached(ctx, parent, key)
		if want == "" {
			if !errors.Is(err, errdefs.ErrNotFound) {
				t.Errorf("Cached(%q, %q) = %v, %v; want not found", parent, key, got, err)
			}
			return
		}
		if err != nil || got.ID != want {
			t.Errorf("Cached(%q, %q) = %v, %v; want %s", parent, key, got, err, want)
		}
	}
	check(base.ID, "RUN make", newer.ID)
	check("", "COPY x", scratch.ID)
	check(base.ID, "COPY x", "")
	check(base.ID, "", "")
	check("", "RUN make", "")
	if kids := s.Children(base.ID); len(kids) != 3 || !slices.Contains(kids, older.ID) {
		t.Errorf("Children = %v", kids)
	}
	s.Close()
	if s, err = New(root); err != nil {
		t.Fatal(err)
	}
	check(base.ID, "RUN make", newer.ID)
	if got, _ := s.Get(ctx, newer.ID); got.Parent != base.ID || got.CacheKey != "RUN make" {
		t.Errorf("after reopen: parent %q, key %q", got.Parent, got.CacheKey)
	}
}

// TestDeleteParents: rmi of a tagged child takes its untagged parents
// with it, up to one with another child, a tag or a container; a parent
// with children cannot be removed by id, and untagging it leaves it.
func TestDeleteParents(t *testing.T) {
	requireRoot(t)
	s, _ := newStore(t)
	base := baseImage(t, s, "base:1")
	a := noChange(t, s, base, "a")
	b := noChange(t, s, a, "b")
	c := noChange(t, s, b, "c", "app:1")
	d := noChange(t, s, a, "d", "other:1")

	for _, force := range []bool{false, true} {
		_, err := s.Delete(ctx, a.ID, force, nil)
		if !errors.Is(err, errdefs.ErrBusy) || !strings.Contains(err.Error(), "conflict: unable to delete "+shortID(a.ID)+" (cannot be forced) - image has dependent child images") {
			t.Errorf("rmi (force %v) of a parent: %v", force, err)
		}
	}
	res, err := s.Delete(ctx, "app:1", false, nil)
	if err != nil || !slices.Equal(res.Untagged, []string{"app:1"}) || !slices.Equal(res.Deleted, []string{c.ID, b.ID}) {
		t.Fatalf("rmi app:1 = %+v, %v; want c and b deleted", res, err)
	}
	// A tagged parent is only untagged.
	res, err = s.Delete(ctx, "base:1", false, nil)
	if err != nil || !slices.Equal(res.Untagged, []string{"base:1"}) || len(res.Deleted) != 0 {
		t.Fatalf("rmi base:1 = %+v, %v", res, err)
	}
	if got, err := s.Get(ctx, base.ID); err != nil || len(got.RepoTags) != 0 {
		t.Fatalf("base after untag: %v, %v", got, err)
	}
	// The chain stops at a parent a container uses.
	used := func(id string) (string, bool) {
		if id == base.ID {
			return "web", false
		}
		return "", false
	}
	res, err = s.Delete(ctx, "other:1", false, used)
	if err != nil || !slices.Equal(res.Deleted, []string{d.ID, a.ID}) {
		t.Fatalf("rmi other:1 = %+v, %v; want d and a deleted", res, err)
	}
	if _, err := s.Get(ctx, base.ID); err != nil {
		t.Errorf("base, used by a container, went: %v", err)
	}
	res, err = s.Prune(ctx, false, nil)
	if err != nil || !slices.Equal(res.Deleted, []string{base.ID}) {
		t.Errorf("prune = %+v, %v", res, err)
	}
}

// TestPruneChains: prune removes an abandoned chain of untagged images,
// leaf first, and keeps the intermediates under a tagged image; prune -a
// removes children before parents, and keeps the parents of a used image.
func TestPruneChains(t *testing.T) {
	requireRoot(t)
	s, root := newStore(t)
	base := baseImage(t, s, "base:1")
	a := noChange(t, s, base, "a")
	b := noChange(t, s, a, "b")
	top := noChange(t, s, b, "top", "app:1")
	l1 := noChange(t, s, base, "l1")
	upper := t.TempDir()
	if err := os.WriteFile(filepath.Join(upper, "f"), []byte("f"), 0o644); err != nil {
		t.Fatal(err)
	}
	var layer *Layer
	l2 := create(t, s, ImageSpec{Parent: l1.ID, Dir: upper, Config: configOf(l1, "l2", epoch, &layer)})

	res, err := s.Prune(ctx, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{l2.ID, l1.ID}; !slices.Equal(res.Deleted, want) {
		t.Errorf("prune deleted %v, want %v (l2, l1)", res.Deleted, want)
	}
	if exists(layerPath(t, root, layer.DiffID)) || res.SpaceReclaimed == 0 {
		t.Errorf("the leaf's layer is still there (reclaimed %d)", res.SpaceReclaimed)
	}
	for _, img := range []*Image{base, a, b, top} {
		if _, err := s.Get(ctx, img.ID); err != nil {
			t.Errorf("prune removed %s: %v", img.ID, err)
		}
	}
	if res, err := s.Prune(ctx, false, nil); err != nil || len(res.Deleted) != 0 {
		t.Errorf("second prune = %+v, %v", res, err)
	}

	used := func(id string) (string, bool) {
		if id == top.ID {
			return "web", true
		}
		return "", false
	}
	if res, err := s.Prune(ctx, true, used); err != nil || len(res.Deleted) != 0 {
		t.Errorf("prune -a with top used = %+v, %v; want nothing removed", res, err)
	}
	res, err = s.Prune(ctx, true, nil)
	if err != nil || !slices.Equal(res.Deleted, []string{top.ID, b.ID, a.ID, base.ID}) {
		t.Errorf("prune -a = %+v, %v; want top, b, a, base", res, err)
	}
	if list, _ := s.List(ctx); len(list) != 0 {
		t.Errorf("%d images left", len(list))
	}
}

// TestCreateWhilePrune runs Creates and Prunes at once: no Prune takes a
// blob or layer a Create is about to commit.
func TestCreateWhilePrune(t *testing.T) {
	requireRoot(t)
	s, root := newStore(t)
	base := baseImage(t, s, "base:1")
	stop := make(chan struct{})
	pruned := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				pruned <- nil
				return
			default:
			}
			if _, err := s.Prune(ctx, false, nil); err != nil {
				pruned <- err
				return
			}
		}
	}()
	var imgs []*Image
	errs := make(chan error, 4)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 5 {
				upper := t.TempDir()
				if err := os.WriteFile(filepath.Join(upper, "f"), []byte(fmt.Sprint(w, i)), 0o644); err != nil {
					errs <- err
					return
				}
				img, err := s.Create(ctx, ImageSpec{Parent: base.ID, Dir: upper, Config: configOf(base, fmt.Sprint(w, i), epoch, nil), Tags: []string{fmt.Sprintf("w%d:%d", w, i)}})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				imgs = append(imgs, img)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(stop)
	if err := <-pruned; err != nil {
		t.Fatal(err)
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s.Prune(ctx, false, nil)
	for _, img := range imgs {
		for _, l := range img.Layers {
			if !exists(layerPath(t, root, l)) {
				t.Errorf("image %s: layer %s is gone", img.ID, l)
			}
		}
		for _, b := range append(slices.Clone(img.Blobs), img.ID, img.ManifestDigest) {
			if !exists(filepath.Join(root, "blobs", "sha256", strings.TrimPrefix(b, "sha256:"))) {
				t.Errorf("image %s: blob %s is gone", img.ID, b)
			}
		}
	}
	if len(imgs) != 20 {
		t.Errorf("%d images made", len(imgs))
	}
}

// TestCreateExclude leaves a container's mount points out of its layer:
// an excluded directory goes unless something kept is below it, and
// changes that are only mount points are no layer.
func TestCreateExclude(t *testing.T) {
	requireRoot(t)
	s, root := newStore(t)
	base := baseImage(t, s, "base:1")
	upper := t.TempDir()
	for _, d := range []string{"proc", "dev/shm", "etc", "run"} {
		if err := os.MkdirAll(filepath.Join(upper, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"etc/hosts", "run/.containerenv"} {
		if err := os.WriteFile(filepath.Join(upper, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stubs := []string{"proc", "/etc/hosts", "etc", "dev", "dev/shm", "run/.containerenv", "run"}
	var layer *Layer
	img := create(t, s, ImageSpec{Parent: base.ID, Dir: upper, Exclude: stubs, Config: configOf(base, "stubs only", epoch, &layer)})
	if layer != nil || !slices.Equal(img.Layers, base.Layers) {
		t.Errorf("only mount points: layer %+v", layer)
	}

	if err := os.WriteFile(filepath.Join(upper, "etc/passwd"), []byte("root"), 0o644); err != nil {
		t.Fatal(err)
	}
	create(t, s, ImageSpec{Parent: base.ID, Dir: upper, Exclude: stubs, Config: configOf(base, "with passwd", epoch, &layer)})
	if layer == nil {
		t.Fatal("no layer")
	}
	if got, want := listTree(t, layerPath(t, root, layer.DiffID)), []string{"etc", "etc/passwd"}; !slices.Equal(got, want) {
		t.Errorf("layer holds %v, want %v", got, want)
	}
}
