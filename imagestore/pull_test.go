package imagestore

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/enginefs/enginefs/errdefs"
)

// testRegistry starts go-containerregistry's in-memory registry on
// loopback and returns its host:port. wrap, if set, wraps its handler.
func testRegistry(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// upload pushes img to ref with go-containerregistry.
func upload(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
}

// progressLog collects progress messages.
type progressLog struct {
	mu   sync.Mutex
	msgs []Progress
}

func (p *progressLog) add(m Progress) { p.mu.Lock(); p.msgs = append(p.msgs, m); p.mu.Unlock() }

func (p *progressLog) statuses() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, m := range p.msgs {
		out = append(out, strings.TrimSpace(m.ID+" "+m.Status))
	}
	return out
}

func TestPull(t *testing.T) {
	requireRoot(t)
	host := testRegistry(t, nil)
	img := imageOf(t, "pull", layerOf(t, false, file("a", "1"), dir("d")), layerOf(t, true, file("d/b", "2")))
	upload(t, host+"/x/app:v1", img)
	s, _ := newStore(t)
	ctx := context.Background()

	var log progressLog
	res, err := s.Pull(ctx, host+"/x/app:v1", PullOptions{Progress: log.add})
	if err != nil {
		t.Fatal(err)
	}
	digest, _ := img.Digest()
	if res.Image.ID != imageID(t, img) || res.Digest != digest.String() || res.UpToDate || res.Ref != host+"/x/app:v1" {
		t.Errorf("result = %+v", res)
	}
	got, err := s.Get(ctx, host+"/x/app:v1")
	if err != nil || got.ID != imageID(t, img) || got.ManifestDigest != digest.String() {
		t.Fatalf("get after pull = %+v, %v", got, err)
	}
	if !slices.Equal(got.RepoDigests, []string{host + "/x/app@" + digest.String()}) {
		t.Errorf("repo digests %v", got.RepoDigests)
	}
	st := log.statuses()
	for _, want := range []string{"v1 Pulling from x/app", "Digest: " + digest.String(), "Status: Downloaded newer image for " + host + "/x/app:v1"} {
		if !slices.Contains(st, want) {
			t.Errorf("progress lacks %q: %v", want, st)
		}
	}
	if !slices.ContainsFunc(st, func(s string) bool { return strings.HasSuffix(s, " Pull complete") }) {
		t.Errorf("no Pull complete in %v", st)
	}
	_, merged, _ := mountImageIn(t, s, got)
	if b, err := os.ReadFile(filepath.Join(merged, "d/b")); err != nil || string(b) != "2" {
		t.Errorf("d/b = %q, %v", b, err)
	}

	log = progressLog{}
	res, err = s.Pull(ctx, host+"/x/app:v1", PullOptions{Progress: log.add})
	if err != nil || !res.UpToDate {
		t.Fatalf("second pull: %+v, %v", res, err)
	}
	if st := log.statuses(); !slices.Contains(st, "Status: Image is up to date for "+host+"/x/app:v1") {
		t.Errorf("second pull progress %v", st)
	}

	// By digest: the same image, no new tag.
	if res, err := s.Pull(ctx, host+"/x/app@"+digest.String(), PullOptions{}); err != nil || res.Image.ID != got.ID {
		t.Errorf("pull by digest: %+v, %v", res, err)
	}

	t.Run("unknown", func(t *testing.T) {
		log := progressLog{}
		_, err := s.Pull(ctx, host+"/x/app:nosuch", PullOptions{Progress: log.add})
		if !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("err = %v, want not found", err)
		}
		if len(log.msgs) == 0 || log.msgs[len(log.msgs)-1].ErrorDetail == nil {
			t.Errorf("no error message in the progress: %v", log.msgs)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		_, err := s.Pull(ctx, "127.0.0.1:1/x:y", PullOptions{})
		if !errors.Is(err, errdefs.ErrUnavailable) {
			t.Errorf("err = %v, want unavailable", err)
		}
	})
}

// TestPullPlatform checks the choice from an index.
func TestPullPlatform(t *testing.T) {
	requireRoot(t)
	host := testRegistry(t, nil)
	host1 := imageOf(t, "host", layerOf(t, false, file("which", "host")))
	other := imageOf(t, "other", layerOf(t, false, file("which", "other")))
	idx := indexOf(t, map[string]v1.Image{"linux/" + runtime.GOARCH: host1, "linux/s390x": other})
	r, _ := name.ParseReference(host + "/multi:latest")
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	s, _ := newStore(t)
	ctx := context.Background()
	res, err := s.Pull(ctx, host+"/multi", PullOptions{})
	if err != nil || res.Image.ID != imageID(t, host1) {
		t.Fatalf("pull for the host: %+v, %v", res, err)
	}
	idxDigest, _ := idx.Digest()
	if res.Digest != idxDigest.String() {
		t.Errorf("digest %s, want the index's %s", res.Digest, idxDigest)
	}
	res, err = s.Pull(ctx, host+"/multi", PullOptions{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}})
	if err != nil || res.Image.ID != imageID(t, other) {
		t.Fatalf("pull for s390x: %+v, %v", res, err)
	}
	_, err = s.Pull(ctx, host+"/multi", PullOptions{Platform: &v1.Platform{OS: "linux", Architecture: "mips"}})
	if !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "linux/mips") {
		t.Errorf("pull for mips: %v", err)
	}
}

// TestPullCorrupt serves a layer blob that does not match its digest and
// checks the pull fails leaving no image, no blob and no layer.
func TestPullCorrupt(t *testing.T) {
	requireRoot(t)
	img := imageOf(t, "corrupt", layerOf(t, false, file("a", strings.Repeat("x", 1<<16))))
	layers, _ := img.Layers()
	bad, _ := layers[0].Digest()
	host := testRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+bad.String()) {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				body := rec.Body.Bytes()
				body[len(body)/2] ^= 0xff
				w.WriteHeader(rec.Code)
				w.Write(body)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	upload(t, host+"/bad:latest", img)
	s, root := newStore(t)
	_, err := s.Pull(context.Background(), host+"/bad", PullOptions{})
	if !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("err = %v, want invalid", err)
	}
	t.Log(err)
	if imgs, _ := s.List(context.Background()); len(imgs) != 0 {
		t.Errorf("images after a failed pull: %v", imgs)
	}
	if exists(filepath.Join(root, "blobs/sha256", bad.Hex)) {
		t.Error("the corrupt blob was kept")
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "layers")); len(ents) != 0 {
		t.Errorf("layers after a failed pull: %v", ents)
	}
	if tmp := tmpEntries(t, root); len(tmp) != 0 {
		t.Errorf("tmp after a failed pull: %v", tmp)
	}
}

// TestPushSaveDelete pushes a pulled image to another repository, saves
// it and loads the archive elsewhere, then deletes and prunes.
func TestPushSaveDelete(t *testing.T) {
	requireRoot(t)
	host := testRegistry(t, nil)
	shared := layerOf(t, false, file("shared", "s"))
	img := imageOf(t, "one", shared, layerOf(t, false, file("own", "1")))
	img2 := imageOf(t, "two", shared)
	upload(t, host+"/one:latest", img)
	upload(t, host+"/two:latest", img2)
	s, root := newStore(t)
	ctx := context.Background()
	for _, r := range []string{host + "/one", host + "/two"} {
		if _, err := s.Pull(ctx, r, PullOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Tag(ctx, host+"/one", host+"/copy:v2"); err != nil {
		t.Fatal(err)
	}
	var log progressLog
	digest, err := s.Push(ctx, host+"/copy:v2", log.add)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if digest != want.String() {
		t.Errorf("pushed digest %s, want %s", digest, want)
	}
	if st := log.statuses(); !slices.Contains(st, "v2: digest: "+digest+" size: "+strconv.Itoa(mustRaw(t, img))) {
		t.Errorf("push progress %v", st)
	}
	r, _ := name.ParseReference(host + "/copy:v2")
	if d, err := remote.Head(r); err != nil || d.Digest.String() != digest {
		t.Errorf("registry has %v, %v", d, err)
	}
	if _, err := s.Push(ctx, host+"/nosuch:v1", nil); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("push of an unknown tag: %v", err)
	}

	archive := filepath.Join(t.TempDir(), "saved.tar")
	if err := s.Save(ctx, []string{host + "/one", host + "/two:latest"}, archive); err != nil {
		t.Fatal(err)
	}
	s2, _ := newStore(t)
	loaded, err := s2.Load(ctx, archive)
	if err != nil || len(loaded) != 2 {
		t.Fatalf("load of the saved archive: %v, %v", loaded, err)
	}
	if got, err := s2.Get(ctx, host+"/one:latest"); err != nil || got.ID != imageID(t, img) || got.ManifestDigest != want.String() {
		t.Errorf("loaded %+v, %v", got, err)
	}

	// rm: a tag of an image with two tags only untags.
	res, err := s.Delete(ctx, host+"/copy:v2", false, nil)
	// As docker, the repository's digest reference goes with its last tag.
	if err != nil || !slices.Equal(res.Untagged, []string{host + "/copy:v2", host + "/copy@" + digest}) || len(res.Deleted) != 0 {
		t.Fatalf("rm copy:v2 = %+v, %v", res, err)
	}
	// An image used by a container stays.
	used := func(id string) (string, bool) {
		if id == imageID(t, img) {
			return "web", false
		}
		return "", false
	}
	if _, err := s.Delete(ctx, host+"/one", false, used); !errors.Is(err, errdefs.ErrBusy) {
		t.Errorf("rm of a used image: %v", err)
	}
	if _, err := s.Delete(ctx, imageID(t, img), false, used); !errors.Is(err, errdefs.ErrBusy) {
		t.Errorf("rm by id of a used image: %v", err)
	}
	res, err = s.Delete(ctx, host+"/one", false, nil)
	if err != nil || !slices.Equal(res.Deleted, []string{imageID(t, img)}) {
		t.Fatalf("rm one = %+v, %v", res, err)
	}
	ownLayer, _ := img.ConfigFile()
	if exists(filepath.Join(root, "layers", ownLayer.RootFS.DiffIDs[1].Hex)) {
		t.Error("the deleted image's own layer is still unpacked")
	}
	if !exists(filepath.Join(root, "layers", ownLayer.RootFS.DiffIDs[0].Hex)) {
		t.Error("the shared layer was removed with one of its images")
	}
	if _, err := s.Get(ctx, host+"/two"); err != nil {
		t.Errorf("two after rm one: %v", err)
	}
	// Garbage from a dead transfer is collected by prune.
	junk := filepath.Join(root, "blobs/sha256", strings.Repeat("ab", 32))
	if err := os.WriteFile(junk, []byte("junk"), 0o444); err != nil {
		t.Fatal(err)
	}
	res, err = s.Prune(ctx, false, nil)
	if err != nil || len(res.Deleted) != 0 || res.SpaceReclaimed < 4 || exists(junk) {
		t.Errorf("prune = %+v, %v; junk there: %v", res, err, exists(junk))
	}
	res, err = s.Prune(ctx, true, nil)
	if err != nil || len(res.Deleted) != 1 {
		t.Errorf("prune -a = %+v, %v", res, err)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "blobs/sha256")); len(ents) != 0 {
		t.Errorf("blobs after prune -a: %v", ents)
	}
}

func mustRaw(t *testing.T, img v1.Image) int {
	b, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}

// mountImageIn mounts img of s in a temporary directory, unmounted at
// cleanup.
func mountImageIn(t *testing.T, s *Store, img *Image) (string, string, string) {
	t.Helper()
	base := t.TempDir()
	merged, scratch := filepath.Join(base, "merged"), filepath.Join(base, "scratch")
	if err := s.Mount(context.Background(), img, merged, scratch); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Unmount(merged) })
	return base, merged, scratch
}
