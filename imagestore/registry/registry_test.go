package registry_test

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/enginefs/enginefs/imagestore"
	"github.com/enginefs/enginefs/imagestore/registry"
	"github.com/enginefs/enginefs/internal/testenv"
)

// TestServe pulls an image into a store, serves the store, and pulls the
// image back from it with go-containerregistry and into a second store.
func TestServe(t *testing.T) {
	testenv.NeedRoot(t) // unpacking sets owners
	ctx := context.Background()
	src := httptest.NewServer(ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0))))
	defer src.Close()
	srcHost := strings.TrimPrefix(src.URL, "http://")
	img, err := random.Image(4096, 3)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(srcHost + "/team/app:v1")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	s, err := imagestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Pull(ctx, srcHost+"/team/app:v1", imagestore.PullOptions{}); err != nil {
		t.Fatal(err)
	}

	srv := httptest.NewServer(registry.New(s))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	served, _ := name.ParseReference(host + "/team/app:v1")
	got, err := remote.Image(served)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Errorf("the served image does not validate: %v", err)
	}
	want, _ := img.Digest()
	if d, _ := got.Digest(); d != want {
		t.Errorf("served digest %s, want %s", d, want)
	}
	tags, err := remote.List(served.Context())
	if err != nil || len(tags) != 1 || tags[0] != "v1" {
		t.Errorf("tags = %v, %v", tags, err)
	}
	cat, err := remote.Catalog(ctx, served.Context().Registry)
	if err != nil || len(cat) != 1 || cat[0] != "team/app" {
		t.Errorf("catalog = %v, %v", cat, err)
	}
	byDigest, _ := name.ParseReference(host + "/team/app@" + want.String())
	if _, err := remote.Head(byDigest); err != nil {
		t.Errorf("HEAD by digest: %v", err)
	}
	if _, err := remote.Head(mustRef(t, host+"/team/app:nosuch")); err == nil {
		t.Error("an unknown tag is served")
	}

	// Engine to engine.
	s2, err := imagestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	res, err := s2.Pull(ctx, host+"/team/app:v1", imagestore.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := img.ConfigName()
	if res.Image.ID != cfg.String() {
		t.Errorf("second engine has %s, want %s", res.Image.ID, cfg)
	}

	// Read-only.
	resp, err := http.Post(srv.URL+"/v2/team/app/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("push answered %d, want 405", resp.StatusCode)
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
