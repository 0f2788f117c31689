package imagestore

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/enginefs/enginefs/internal/testenv"
)

// epoch is the mtime test entries get unless they say otherwise.
var epoch = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// ent is a tar entry to build.
type ent struct {
	name   string
	typ    byte // tar.Type*; 0 means a regular file
	body   string
	link   string
	mode   int64
	uid    int
	gid    int
	xattrs map[string]string
	major  int64
	minor  int64
	mtime  time.Time
}

// file, dir, symlink and hardlink are shorthands for common entries.
func file(n, body string) ent { return ent{name: n, typ: tar.TypeReg, body: body, mode: 0o644} }
func dir(n string) ent        { return ent{name: n, typ: tar.TypeDir, mode: 0o755} }
func symlink(n, target string) ent {
	return ent{name: n, typ: tar.TypeSymlink, link: target, mode: 0o777}
}
func hardlink(n, target string) ent {
	return ent{name: n, typ: tar.TypeLink, link: target, mode: 0o644}
}

// tarOf builds an uncompressed tar of entries, in order.
func tarOf(t testing.TB, entries ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		mt := e.mtime
		if mt.IsZero() {
			mt = epoch
		}
		hdr := &tar.Header{
			Name: e.name, Typeflag: typ, Linkname: e.link, Mode: e.mode,
			Uid: e.uid, Gid: e.gid, ModTime: mt, Devmajor: e.major, Devminor: e.minor,
			Format: tar.FormatPAX,
		}
		if typ == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		if len(e.xattrs) > 0 {
			hdr.PAXRecords = map[string]string{}
			for k, v := range e.xattrs {
				hdr.PAXRecords["SCHILY.xattr."+k] = v
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("tar header %s: %v", e.name, err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// layerOf makes a gzip layer (or zstd with zstd set) of entries.
func layerOf(t testing.TB, zstd bool, entries ...ent) v1.Layer {
	t.Helper()
	b := tarOf(t, entries...)
	opts := []tarball.LayerOption{}
	if zstd {
		opts = append(opts, tarball.WithCompression(compression.ZStd), tarball.WithMediaType(types.OCILayerZStd))
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// imageOf makes an image of layers with a config that differs by label.
func imageOf(t testing.TB, label string, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: runtime.GOARCH,
		OS:           runtime.GOOS,
		Created:      v1.Time{Time: epoch},
		RootFS:       v1.RootFS{Type: "layers"},
		Config:       v1.Config{Cmd: []string{"sh"}, Labels: map[string]string{"test": label}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if img, err = mutate.AppendLayers(img, layers...); err != nil {
		t.Fatal(err)
	}
	return img
}

// imageID is the docker image id of img.
func imageID(t testing.TB, img v1.Image) string {
	t.Helper()
	h, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// dockerArchive writes a docker-save archive of the tagged images.
func dockerArchive(t testing.TB, tagged map[string]v1.Image) string {
	t.Helper()
	refs := map[name.Reference]v1.Image{}
	for tag, img := range tagged {
		ref, err := name.NewTag(tag)
		if err != nil {
			t.Fatal(err)
		}
		refs[ref] = img
	}
	p := filepath.Join(t.TempDir(), "docker.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := tarball.MultiRefWrite(refs, f); err != nil {
		t.Fatal(err)
	}
	return p
}

// ociArchive writes an OCI image layout tar holding img with annotations
// ann, or an index if idx is set.
func ociArchive(t testing.TB, add func(layout.Path)) string {
	t.Helper()
	dirp := t.TempDir()
	lp, err := layout.Write(dirp, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	add(lp)
	p := filepath.Join(t.TempDir(), "oci.tar")
	writeTarOfDir(t, dirp, p)
	return p
}

// indexOf makes a multi-platform index of images keyed by "os/arch",
// in sorted key order.
func indexOf(t testing.TB, imgs map[string]v1.Image) v1.ImageIndex {
	t.Helper()
	var keys []string
	for k := range imgs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	idx := v1.ImageIndex(empty.Index)
	for _, k := range keys {
		os, arch, _ := strings.Cut(k, "/")
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        imgs[k],
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: os, Architecture: arch}},
		})
	}
	return idx
}

// writeTarOfDir tars the regular files of dir (sorted) into p.
func writeTarOfDir(t testing.TB, dir, p string) {
	t.Helper()
	var names []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, path)
			names = append(names, rel)
		}
		return err
	})
	sort.Strings(names)
	var entries []ent
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, file(n, string(b)))
	}
	if err := os.WriteFile(p, tarOf(t, entries...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// newStore opens a store in a temporary directory, closed at cleanup.
func newStore(t testing.TB, opts ...Option) (*Store, string) {
	t.Helper()
	root := t.TempDir()
	s, err := New(root, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, root
}

// requireRoot skips tests that need root (chown, mknod, mount).
func requireRoot(t testing.TB) {
	t.Helper()
	testenv.NeedRoot(t)
}

// listTree returns "path type" lines for everything under dir, sorted.
func listTree(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// tmpEntries lists what a store's tmp directory holds.
func tmpEntries(t testing.TB, root string) []string {
	t.Helper()
	des, err := os.ReadDir(filepath.Join(root, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range des {
		out = append(out, d.Name())
	}
	return out
}

// checkNoMounts fails if any mount below dir is left in /proc/mounts.
func checkNoMounts(t testing.TB, dir string) {
	t.Helper()
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], dir) {
			t.Errorf("mount left behind: %s", line)
		}
	}
}
