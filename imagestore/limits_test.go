package imagestore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/enginefs/enginefs/errdefs"
)

// logLines collects what a store logs.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logf(format string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, a...))
}

func (l *logLines) refusals() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, s := range l.lines {
		if strings.HasPrefix(s, "refused ") {
			out = append(out, s)
		}
	}
	return out
}

// TestBombRefused sends a gzip bomb (a small download of a large layer)
// through every way into the store, with small caps: each is refused with
// an errdefs.ErrInvalid error naming the cap, logged once, and the store
// is left as it was: no blob, no layer, nothing in tmp.
func TestBombRefused(t *testing.T) {
	requireRoot(t)
	const cap64 = 64 << 20
	const bomb = 1 << 30 // 1 GiB of zeros: about 1 MiB of gzip
	cases := []struct {
		name    string
		opts    []Option
		run     func(t *testing.T, s *Store) error
		want    string // in the error
		refused string // in the log line
	}{{
		name: "load gzip archive",
		opts: []Option{WithMaxLayerSize(cap64)},
		run: func(t *testing.T, s *Store) error {
			_, err := s.Load(ctx, bombArchive(t, t.TempDir(), bomb, true))
			return err
		},
		want:    `archive member "bomb/layer.tar" is more than 64 MiB (--max-layer-size)`,
		refused: "refused image archive ",
	}, {
		name: "load archive of a gzip layer",
		opts: []Option{WithMaxLayerSize(cap64)},
		run: func(t *testing.T, s *Store) error {
			_, err := s.Load(ctx, bombArchive(t, t.TempDir(), bomb, false))
			return err
		},
		want:    "(bomb/layer.tar) unpacks to more than 64 MiB (--max-layer-size)",
		refused: "from archive: ",
	}, {
		name: "load over the archive cap",
		opts: []Option{WithMaxArchiveSize(cap64)},
		run: func(t *testing.T, s *Store) error {
			_, err := s.Load(ctx, bombArchive(t, t.TempDir(), 256<<20, true))
			return err
		},
		want:    "holds more than 64 MiB (--max-archive-size)",
		refused: "from archive: ",
	}, {
		name: "pull",
		opts: []Option{WithMaxLayerSize(cap64)},
		run: func(t *testing.T, s *Store) error {
			reg := testRegistry(t, nil)
			upload(t, reg+"/bomb:1", imageOf(t, "bomb", newBombLayer(t, bomb)))
			_, err := s.Pull(ctx, reg+"/bomb:1", PullOptions{})
			return err
		},
		want:    "unpacks to more than 64 MiB (--max-layer-size)",
		refused: "from registry 127.0.0.1:",
	}, {
		name: "import",
		opts: []Option{WithMaxLayerSize(cap64)},
		run: func(t *testing.T, s *Store) error {
			blob, _ := bombLayer(t, bomb)
			_, err := s.Create(ctx, ImageSpec{Tar: bytes.NewReader(blob), Config: func(*Layer) ([]byte, error) {
				t.Error("Config called for a refused layer")
				return nil, errors.New("no")
			}})
			return err
		},
		want:    "new layer unpacks to more than 64 MiB (--max-layer-size)",
		refused: "refused image import from archive: ",
	}, {
		name: "import over the archive cap",
		opts: []Option{WithMaxArchiveSize(64 << 10)},
		run: func(t *testing.T, s *Store) error {
			blob, _ := bombLayer(t, bomb)
			_, err := s.Create(ctx, ImageSpec{Tar: bytes.NewReader(blob), Config: func(*Layer) ([]byte, error) {
				return nil, errors.New("no")
			}})
			return err
		},
		want:    "layer tar is more than 64 KiB (--max-archive-size)",
		refused: "refused image import from archive: ",
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var log logLines
			s, root := newStore(t, append(c.opts, WithLogger(log.logf))...)
			// Something already there, which must stay as it is.
			if _, err := s.Load(ctx, dockerArchive(t, map[string]v1.Image{"small:1": imageOf(t, "small", layerOf(t, false, file("a", "b")))})); err != nil {
				t.Fatal(err)
			}
			before := listTree(t, root)
			err := c.run(t, s)
			if err == nil {
				t.Fatal("the bomb was taken")
			}
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("error %v: want class ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q: want it to say %q", err, c.want)
			}
			if after := listTree(t, root); !slices.Equal(before, after) {
				t.Errorf("store changed:\nbefore %v\nafter  %v", before, after)
			}
			if e := tmpEntries(t, root); len(e) != 0 {
				t.Errorf("tmp holds %v", e)
			}
			if imgs, _ := s.List(ctx); len(imgs) != 1 {
				t.Errorf("%d images, want the 1 there before", len(imgs))
			}
			r := log.refusals()
			if len(r) != 1 || !strings.Contains(r[0], c.refused) || !strings.Contains(r[0], c.want) {
				t.Errorf("logged %q: want one refusal with %q and %q", r, c.refused, c.want)
			}
		})
	}
}

// TestBombUnderCap loads zeros under the cap through each archive form:
// they are taken, with the right diff id, the blob as the archive had it,
// and no copy left in tmp.
func TestBombUnderCap(t *testing.T) {
	requireRoot(t)
	for _, gz := range []bool{true, false} {
		t.Run(fmt.Sprintf("gzip archive %v", gz), func(t *testing.T) {
			s, root := newStore(t, WithMaxLayerSize(64<<20))
			imgs, err := s.Load(ctx, bombArchive(t, t.TempDir(), 8<<20, gz))
			if err != nil {
				t.Fatal(err)
			}
			img := imgs[0]
			if img.LayerSizes[0] != 8<<20 {
				t.Errorf("layer size %d, want %d", img.LayerSizes[0], 8<<20)
			}
			fi, err := os.Stat(root + "/layers/" + strings.TrimPrefix(img.Layers[0], "sha256:") + "/zeros")
			if err != nil || fi.Size() != 8<<20 {
				t.Errorf("unpacked file: %v %v", fi, err)
			}
			blob, err := os.Stat(root + "/blobs/sha256/" + strings.TrimPrefix(img.Blobs[0], "sha256:"))
			if err != nil {
				t.Fatal(err)
			}
			if big := blob.Size() > 1<<20; big != gz {
				t.Errorf("blob of %d bytes: want the layer as the archive has it (plain: %v)", blob.Size(), gz)
			}
			if e := tmpEntries(t, root); len(e) != 0 {
				t.Errorf("tmp holds %v", e)
			}
		})
	}
}
