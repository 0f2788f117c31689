package imagestore

import (
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestHelperLoad is not a test: TestLoadKilled runs the test binary with
// IMAGESTORE_HELPER_ROOT set to have it load an archive in a process of
// its own, which it then kills.
func TestHelperLoad(t *testing.T) {
	root := os.Getenv("IMAGESTORE_HELPER_ROOT")
	if root == "" {
		t.Skip("helper process for TestLoadKilled")
	}
	s, err := New(root)
	if err != nil {
		os.Exit(2)
	}
	if _, err := s.Load(ctx, os.Getenv("IMAGESTORE_HELPER_ARCHIVE")); err != nil {
		os.Exit(3)
	}
	os.Exit(0)
}

// bigArchive writes a docker-save archive (uncompressed layers, as older
// docker writes) of one image, tagged big:1, with layers of size bytes
// each, so a load takes long enough to be killed in the middle.
func bigArchive(t *testing.T, layers, size int) string {
	t.Helper()
	rng := rand.NewChaCha8([32]byte{1})
	var diffIDs, names []string
	var members []ent
	for i := range layers {
		data := make([]byte, size)
		rng.Read(data)
		l := tarOf(t, dir("d"), file("d/blob"+string(rune('a'+i)), string(data)))
		diffIDs = append(diffIDs, `"sha256:`+sha256Hex(l)+`"`)
		n := string(rune('a'+i)) + "/layer.tar"
		names = append(names, `"`+n+`"`)
		members = append(members, file(n, string(l)))
	}
	cfg := `{"os":"linux","created":"2024-01-01T00:00:00Z","rootfs":{"type":"layers","diff_ids":[` + strings.Join(diffIDs, ",") + `]}}`
	m := `[{"Config":"config.json","RepoTags":["big:1"],"Layers":[` + strings.Join(names, ",") + `]}]`
	members = append(members, file("config.json", cfg), file("manifest.json", m))
	p := filepath.Join(t.TempDir(), "big.tar")
	if err := os.WriteFile(p, tarOf(t, members...), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoadKilled kills (SIGKILL) a process in the middle of a load at
// several moments, then opens the store again: the image is either there
// whole (every blob and layer directory present) or not at all (no image,
// no tag), tmp is emptied, and a new load completes.
func TestLoadKilled(t *testing.T) {
	requireRoot(t)
	if testing.Short() {
		t.Skip("short")
	}
	archive := bigArchive(t, 4, 24<<20)
	for _, delay := range []time.Duration{5, 50, 150, 300, 600, 1200} {
		delay *= time.Millisecond
		t.Run(delay.String(), func(t *testing.T) {
			root := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperLoad$")
			cmd.Env = append(os.Environ(), "IMAGESTORE_HELPER_ROOT="+root, "IMAGESTORE_HELPER_ARCHIVE="+archive)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(delay)
			cmd.Process.Kill() // SIGKILL, this process's own child
			err := cmd.Wait()
			finished := err == nil
			// What the dead load left: complete layers, work in progress.
			layers, _ := os.ReadDir(filepath.Join(root, "layers"))
			tmp, _ := os.ReadDir(filepath.Join(root, "tmp"))
			t.Logf("killed after %v: %d layer dirs, %d in tmp", delay, len(layers), len(tmp))
			s, err := New(root)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if e := tmpEntries(t, root); len(e) != 0 {
				t.Errorf("tmp not emptied: %v", e)
			}
			img, err := s.Get(ctx, "big:1")
			list, _ := s.List(ctx)
			switch {
			case err == nil:
				t.Log("image complete")
				checkComplete(t, root, img)
			case errors.Is(err, errdefs.ErrNotFound):
				t.Log("no image")
				if finished {
					t.Error("the load finished but the image is missing")
				}
				if len(list) != 0 {
					t.Errorf("images without their tag: %v", list)
				}
			default:
				t.Fatal(err)
			}
			imgs, err := s.Load(ctx, archive)
			if err != nil {
				t.Fatal(err)
			}
			checkComplete(t, root, imgs[0])
		})
	}
}

// checkComplete checks every blob and layer directory of img is present.
func checkComplete(t *testing.T, root string, img *Image) {
	t.Helper()
	if !strings.Contains(strings.Join(img.RepoTags, ","), "big:1") {
		t.Errorf("tags %v", img.RepoTags)
	}
	for i, l := range img.Layers {
		h, _ := v1.NewHash(l)
		b, err := os.ReadFile(filepath.Join(root, "layers", h.Hex, "d", "blob"+string(rune('a'+i))))
		if err != nil || len(b) != 24<<20 {
			t.Errorf("layer %d: %d bytes, %v", i, len(b), err)
		}
		if _, err := os.Stat(filepath.Join(root, "blobs/sha256", h.Hex)); err != nil {
			t.Errorf("layer %d blob: %v", i, err)
		}
	}
	id, _ := v1.NewHash(img.ID)
	if _, err := os.Stat(filepath.Join(root, "blobs/sha256", id.Hex)); err != nil {
		t.Errorf("config blob: %v", err)
	}
}
