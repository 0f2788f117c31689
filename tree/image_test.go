package tree

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/storage"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/enginefs/enginefs/engine"
)

// appImage is an image built in three steps on a base of one layer: the
// base's layer, an empty CMD, a RUN's layer and a LABEL.
func appImage() *engine.Image {
	t0 := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	return &engine.Image{
		ID: "sha256:" + strings.Repeat("a", 64), RepoTags: []string{"app:1", "app:latest"}, Parent: "sha256:" + strings.Repeat("2", 64),
		Created: t0.Add(3 * time.Minute), Size: 150,
		Layers:     []string{"sha256:l1", "sha256:l2"},
		LayerSizes: []int64{100, 50},
		Config: v1.ConfigFile{
			Architecture: "arm64", Variant: "v8", OS: "linux", Author: "me", DockerVersion: "28.2.2",
			Created: v1.Time{Time: t0.Add(3 * time.Minute)},
			Config: v1.Config{Env: []string{"PATH=/bin"}, Cmd: []string{"sh"}, WorkingDir: "/app", User: "app",
				Labels: map[string]string{"stage": "final"}, ExposedPorts: map[string]struct{}{"80/tcp": {}}, StopSignal: "SIGQUIT"},
			History: []v1.History{
				{Created: v1.Time{Time: t0}, CreatedBy: "/bin/sh -c #(nop) ADD file:abc in / "},
				{Created: v1.Time{Time: t0.Add(time.Minute)}, CreatedBy: `/bin/sh -c #(nop)  CMD ["sh"]`, EmptyLayer: true},
				{Created: v1.Time{Time: t0.Add(2 * time.Minute)}, CreatedBy: "/bin/sh -c make", Comment: "built"},
				{Created: v1.Time{Time: t0.Add(3 * time.Minute)}, CreatedBy: "/bin/sh -c #(nop)  LABEL stage=final", EmptyLayer: true,
					Comment: "the last"},
			},
			RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{}},
		},
	}
}

// TestImageHistory: docker's history is newest first, one item per
// history entry, each non-empty one with its layer's size; the newest
// carries the image's id and tags, the others <missing>.
func TestImageHistory(t *testing.T) {
	t0 := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC).Unix()
	img := appImage()
	want := []image.HistoryResponseItem{
		{ID: img.ID, Created: t0 + 180, CreatedBy: "/bin/sh -c #(nop)  LABEL stage=final", Tags: []string{"app:1", "app:latest"}, Comment: "the last"},
		{ID: "<missing>", Created: t0 + 120, CreatedBy: "/bin/sh -c make", Size: 50, Tags: []string{}, Comment: "built"},
		{ID: "<missing>", Created: t0 + 60, CreatedBy: `/bin/sh -c #(nop)  CMD ["sh"]`, Tags: []string{}},
		{ID: "<missing>", Created: t0, CreatedBy: "/bin/sh -c #(nop) ADD file:abc in / ", Size: 100, Tags: []string{}},
	}
	if got := imageHistory(img); !reflect.DeepEqual(got, want) {
		t.Errorf("history\n%+v\nwant\n%+v", got, want)
	}

	// No history in the config: an item per layer, at the image's time.
	img.Config.History, img.RepoTags = nil, nil
	want = []image.HistoryResponseItem{
		{ID: img.ID, Created: t0 + 180, Size: 50, Tags: []string{}},
		{ID: "<missing>", Created: t0 + 180, Size: 100, Tags: []string{}},
	}
	if got := imageHistory(img); !reflect.DeepEqual(got, want) {
		t.Errorf("history without entries\n%+v\nwant\n%+v", got, want)
	}

	// Nothing at all: the image alone.
	img.LayerSizes = nil
	if got := imageHistory(img); !reflect.DeepEqual(got, []image.HistoryResponseItem{{ID: img.ID, Created: t0 + 180, Tags: []string{}}}) {
		t.Errorf("an empty image's history %+v", got)
	}
}

// TestImageInspect: docker's image inspect document of an image.
func TestImageInspect(t *testing.T) {
	img := appImage()
	got, err := imageInspect(img)
	if err != nil {
		t.Fatal(err)
	}
	want := &image.InspectResponse{
		ID: img.ID, Parent: img.Parent, RepoTags: []string{"app:1", "app:latest"}, RepoDigests: []string{},
		Comment: "the last", Created: "2024-01-02T03:07:05Z", DockerVersion: "28.2.2", Author: "me",
		Config: &dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{
			User: "app", ExposedPorts: map[string]struct{}{"80/tcp": {}}, Env: []string{"PATH=/bin"}, Cmd: []string{"sh"},
			WorkingDir: "/app", Labels: map[string]string{"stage": "final"}, StopSignal: "SIGQUIT",
		}},
		Architecture: "arm64", Variant: "v8", Os: "linux", Size: 150,
		GraphDriver: storage.DriverData{Name: "overlay2", Data: map[string]string{}},
		RootFS:      image.RootFS{Type: "layers", Layers: []string{"sha256:l1", "sha256:l2"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("inspect\n%+v\n%+v\nwant\n%+v\n%+v", got, got.Config, want, want.Config)
	}
	// An image of nothing: lists are [], no time.
	got, err = imageInspect(&engine.Image{ID: "sha256:0"})
	if err != nil || got.RepoTags == nil || got.RepoDigests == nil || got.RootFS.Layers == nil || got.Created != "" || got.Comment != "" {
		t.Errorf("an empty image's inspect %+v, %v", got, err)
	}
}

// TestDeleteReply: docker's report of rmi and image prune, which the
// bridge reads back line by line.
func TestDeleteReply(t *testing.T) {
	res := &engine.DeleteResult{Untagged: []string{"app:1", "app@sha256:ab"}, Deleted: []string{"sha256:1", "sha256:2"}, SpaceReclaimed: 2000000}
	if got, want := deleteReply(res, false), "Untagged: app:1\nUntagged: app@sha256:ab\nDeleted: sha256:1\nDeleted: sha256:2"; got != want {
		t.Errorf("rmi reply %q, want %q", got, want)
	}
	if got, want := deleteReply(res, true), "Untagged: app:1\nUntagged: app@sha256:ab\nDeleted: sha256:1\nDeleted: sha256:2\nTotal reclaimed space: 2MB"; got != want {
		t.Errorf("prune reply %q, want %q", got, want)
	}
	if got := deleteReply(&engine.DeleteResult{}, true); got != "Total reclaimed space: 0B" {
		t.Errorf("an empty prune's reply %q", got)
	}
	if got := deleteReply(&engine.DeleteResult{}, false); got != "" {
		t.Errorf("an empty rmi's reply %q", got)
	}
}

// TestTagPaths: references and the tag directories of images/.
func TestTagPaths(t *testing.T) {
	for _, tc := range []struct{ ref, repo, tag string }{
		{"busybox:latest", "busybox", "latest"},
		{"busybox", "busybox", ""},
		{"127.0.0.1:5000/x/y:v1", "127.0.0.1:5000/x/y", "v1"},
		{"127.0.0.1:5000/x/y", "127.0.0.1:5000/x/y", ""},
		{"localhost:5000/app", "localhost:5000/app", ""},
	} {
		if repo, tag := splitTag(tc.ref); repo != tc.repo || tag != tc.tag {
			t.Errorf("splitTag(%q) = %q, %q; want %q, %q", tc.ref, repo, tag, tc.repo, tc.tag)
		}
	}
	for path, want := range map[string]string{
		"busybox/latest": "busybox:latest", "127.0.0.1:5000/x/y/v1": "127.0.0.1:5000/x/y:v1", "latest": "latest",
	} {
		if got := familiarTag(path); got != want {
			t.Errorf("familiarTag(%q) = %q, want %q", path, got, want)
		}
	}
}
