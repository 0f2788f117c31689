package imagestore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enginefs/enginefs/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// TestLoadBroken feeds archives that fail part-way and checks that none of
// their images or tags becomes visible, an earlier tag stays where it was,
// and tmp is left empty.
func TestLoadBroken(t *testing.T) {
	requireRoot(t)
	a, b := twoImages(t)
	good := dockerArchive(t, map[string]v1.Image{"app:1": a})
	goodBytes, _ := os.ReadFile(dockerArchive(t, map[string]v1.Image{"app:1": b, "new:1": b}))
	write := func(t *testing.T, content []byte) string {
		p := filepath.Join(t.TempDir(), "broken.tar")
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name    string
		archive func(t *testing.T) string
		class   error
		msg     string
	}{
		{"missing file", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope.tar") }, errdefs.ErrNotFound, "no such file"},
		{"not an archive", func(t *testing.T) string { return write(t, []byte("hello, world")) }, errdefs.ErrInvalid, ""},
		{"empty tar", func(t *testing.T) string { return write(t, tarOf(t)) }, errdefs.ErrInvalid, "not an image archive"},
		{"truncated at 30%", func(t *testing.T) string { return write(t, goodBytes[:len(goodBytes)*3/10]) }, errdefs.ErrInvalid, ""},
		{"truncated at 60%", func(t *testing.T) string { return write(t, goodBytes[:len(goodBytes)*6/10]) }, errdefs.ErrInvalid, ""},
		{"truncated at 95%", func(t *testing.T) string { return write(t, goodBytes[:len(goodBytes)*95/100]) }, errdefs.ErrInvalid, ""},
		{"wrong diff id", func(t *testing.T) string {
			l1, l2 := tarOf(t, file("one", "1")), tarOf(t, file("two", "2"))
			cfg := `{"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:` + sha256Hex(l1) + `","sha256:` + strings.Repeat("ab", 32) + `"]}}`
			m := `[{"Config":"c.json","RepoTags":["new:1","app:1"],"Layers":["l1.tar","l2.tar"]}]`
			return write(t, tarOf(t, file("manifest.json", m), file("c.json", cfg), file("l1.tar", string(l1)), file("l2.tar", string(l2))))
		}, errdefs.ErrInvalid, "diff id"},
		{"OCI blob with a wrong digest", func(t *testing.T) string {
			img := imageOf(t, "oci", layerOf(t, false, file("one", "1")), layerOf(t, false, file("two", "2")))
			return ociCorrupt(t, img, "new:1")
		}, errdefs.ErrInvalid, "digest"},
		{"second image hostile", func(t *testing.T) string {
			evil := imageOf(t, "evil", layerOf(t, false, symlink("a", "/etc"), file("a/evil", "x")))
			return dockerArchive(t, map[string]v1.Image{"new:1": b, "app:1": evil})
		}, errdefs.ErrInvalid, `"a/evil"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, root := newStore(t)
			if _, err := s.Load(ctx, good); err != nil {
				t.Fatal(err)
			}
			_, err := s.Load(ctx, c.archive(t))
			t.Log(err)
			if !errors.Is(err, c.class) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err = %v, want %v containing %q", err, c.class, c.msg)
			}
			list, _ := s.List(ctx)
			if len(list) != 1 || list[0].ID != imageID(t, a) {
				t.Errorf("images after a failed load: %v", list)
			}
			if got, err := s.Get(ctx, "app:1"); err != nil || got.ID != imageID(t, a) {
				t.Errorf("app:1 moved: %v, %v", got, err)
			}
			if _, err := s.Get(ctx, "new:1"); !errors.Is(err, errdefs.ErrNotFound) {
				t.Errorf("new:1 visible: %v", err)
			}
			if e := tmpEntries(t, root); len(e) != 0 {
				t.Errorf("tmp holds %v", e)
			}
			// A reopened store sees the same.
			s.Close()
			s2, err := New(root)
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			if list, _ := s2.List(ctx); len(list) != 1 {
				t.Errorf("after reopen: %d images", len(list))
			}
		})
	}
}

// ociCorrupt writes an OCI archive of img tagged tag whose last layer blob
// has one byte changed (its size kept).
func ociCorrupt(t *testing.T, img v1.Image, tag string) string {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	d, _ := layers[len(layers)-1].Digest()
	return ociArchiveEdit(t, func(lp layout.Path) {
		if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{annotationRefName: tag})); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(string(lp), "blobs/sha256", d.Hex)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	})
}

// ociArchiveEdit is ociArchive; edit may change the layout's files.
func ociArchiveEdit(t *testing.T, edit func(layout.Path)) string { return ociArchive(t, edit) }
