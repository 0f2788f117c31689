package dockerapi

import (
	"context"
	"io"
	"net/http"
	"os"
	"path"
	"strings"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/storage"
	"github.com/docker/docker/api/types/volume"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"

	"github.com/enginefs/enginefs/errdefs"
)

// imageEntry is an element of images/list.
type imageEntry struct {
	ID       string `json:"Id"`
	RepoTags []string
	Created  int64
	Size     int64
}

// imageConfig is the part of an image's config file (images/<repo>/<tag>/config,
// the OCI image config) that docker's inspect shows.
type imageConfig struct {
	Architecture string                          `json:"architecture"`
	OS           string                          `json:"os"`
	Created      time.Time                       `json:"created"`
	Author       string                          `json:"author"`
	Config       dockerspec.DockerOCIImageConfig `json:"config"`
	RootFS       struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

// familiar writes a reference as docker shows it: without docker.io/library/
// and with :latest when it has no tag or digest.
func familiar(ref string) string {
	for _, p := range []string{"docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/"} {
		if r, ok := strings.CutPrefix(ref, p); ok {
			ref = r
			break
		}
	}
	if !strings.Contains(ref, "@") && !strings.Contains(ref[strings.LastIndex(ref, "/")+1:], ":") {
		ref += ":latest"
	}
	return ref
}

// sameImage reports whether two references name the same repository and tag.
func sameImage(a, b string) bool { return a != "" && b != "" && familiar(a) == familiar(b) }

// tagDir is the tree directory of a familiar tag: images/<repo path>/<tag>.
func tagDir(tag string) string {
	i := strings.LastIndex(tag, ":")
	return "images/" + tag[:i] + "/" + tag[i+1:]
}

func (s *Server) imageList(ctx context.Context) ([]imageEntry, error) {
	var list []imageEntry
	return list, s.readJSON(ctx, "images/list", &list)
}

// findImage finds the image a name means: a tag, an id or an id prefix.
func findImage(list []imageEntry, name string) (imageEntry, error) {
	hex := strings.TrimPrefix(name, "sha256:")
	for _, img := range list {
		for _, t := range img.RepoTags {
			if sameImage(t, name) {
				return img, nil
			}
		}
	}
	if len(hex) >= 4 && strings.Trim(hex, "0123456789abcdef") == "" {
		var found []imageEntry
		for _, img := range list {
			if strings.HasPrefix(strings.TrimPrefix(img.ID, "sha256:"), hex) {
				found = append(found, img)
			}
		}
		if len(found) == 1 {
			return found[0], nil
		}
		if len(found) > 1 {
			return imageEntry{}, errdefs.Invalid("image id prefix %q is ambiguous", name)
		}
	}
	return imageEntry{}, errdefs.NotFound("No such image: %s", name)
}

// config reads an image's config through its first tag (the tree reaches
// an image's files by tag only); an untagged image has none.
func (s *Server) config(ctx context.Context, img imageEntry) (*imageConfig, error) {
	if len(img.RepoTags) == 0 {
		return nil, nil
	}
	var cfg imageConfig
	if err := s.readJSON(ctx, tagDir(img.RepoTags[0])+"/config", &cfg); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// listImages is GET /images/json (filters: reference, dangling, label).
func (s *Server) listImages(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	f, err := filters.FromJSON(r.URL.Query().Get("filters"))
	if err != nil {
		return errdefs.Invalid("%v", err)
	}
	if err := f.Validate(map[string]bool{"reference": true, "dangling": true, "label": true}); err != nil {
		return errdefs.Invalid("%v", err)
	}
	list, err := s.imageList(ctx)
	if err != nil {
		return err
	}
	out := []image.Summary{}
	for _, img := range list {
		sum, err := s.summary(ctx, img)
		if err != nil {
			return err
		}
		if f.Contains("dangling") && f.ExactMatch("dangling", "true") != (len(img.RepoTags) == 0) {
			continue
		}
		if f.Contains("label") && !f.MatchKVList("label", sum.Labels) {
			continue
		}
		if refs := f.Get("reference"); len(refs) > 0 {
			ok := false
			for _, pat := range refs {
				for _, t := range img.RepoTags {
					repo := t[:strings.LastIndex(t, ":")]
					m1, _ := path.Match(pat, t)
					m2, _ := path.Match(pat, repo)
					ok = ok || m1 || m2 || sameImage(pat, t)
				}
			}
			if !ok {
				continue
			}
		}
		out = append(out, sum)
	}
	return writeJSON(w, http.StatusOK, out)
}

// summary is docker's image summary of a list entry.
func (s *Server) summary(ctx context.Context, img imageEntry) (image.Summary, error) {
	sum := image.Summary{
		ID: img.ID, RepoTags: img.RepoTags, RepoDigests: []string{}, Created: img.Created,
		Size: img.Size, SharedSize: 0, Containers: -1, Labels: map[string]string{},
	}
	if sum.RepoTags == nil {
		sum.RepoTags = []string{}
	}
	cfg, err := s.config(ctx, img)
	if err != nil {
		return sum, err
	}
	if cfg != nil && cfg.Config.Labels != nil {
		sum.Labels = cfg.Config.Labels
	}
	return sum, nil
}

// imageByName serves GET /images/{name}/json; names may hold slashes.
func (s *Server) imageByName(w http.ResponseWriter, r *http.Request) error {
	name, ok := strings.CutSuffix(r.PathValue("rest"), "/json")
	if !ok || name == "" {
		return errdefs.NotFound("page not found")
	}
	ctx := r.Context()
	list, err := s.imageList(ctx)
	if err != nil {
		return err
	}
	img, err := findImage(list, name)
	if err != nil {
		return err
	}
	cfg, err := s.config(ctx, img)
	if err != nil {
		return err
	}
	out := image.InspectResponse{
		ID: img.ID, RepoTags: img.RepoTags, RepoDigests: []string{}, Size: img.Size,
		Created:     time.Unix(img.Created, 0).UTC().Format(time.RFC3339Nano),
		GraphDriver: storage.DriverData{Name: "overlay", Data: map[string]string{}},
		RootFS:      image.RootFS{Type: "layers"},
		Config:      &dockerspec.DockerOCIImageConfig{},
	}
	if out.RepoTags == nil {
		out.RepoTags = []string{}
	}
	if cfg != nil {
		out.Architecture, out.Os, out.Author = cfg.Architecture, cfg.OS, cfg.Author
		out.Created = cfg.Created.UTC().Format(time.RFC3339Nano)
		out.Config = &cfg.Config
		out.RootFS.Layers = cfg.RootFS.DiffIDs
	}
	return writeJSON(w, http.StatusOK, out)
}

// loadImages is POST /images/load: the body, a docker-save (or OCI)
// archive, is written to a file the daemon can read and loaded with `load
// PATH` on images/ctl; the reply's lines are docker's stream messages.
func (s *Server) loadImages(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	f, err := os.CreateTemp(s.tmp, "load-*.tar")
	if err != nil {
		return errdefs.Unavailable("docker load: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = io.Copy(f, r.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return errdefs.Invalid("docker load: reading the archive: %w", err)
	}
	reply, err := s.command(ctx, "images/ctl", "load "+f.Name())
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	for _, line := range strings.Split(reply, "\n") {
		if line != "" {
			if err := writeJSONBody(w, map[string]string{"stream": line + "\n"}); err != nil {
				return err
			}
		}
	}
	return nil
}

// systemDF is GET /system/df: containers from containers/list, images from
// images/list; volumes and the build cache are empty.
func (s *Server) systemDF(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var ctrs []listEntry
	if err := s.readJSON(ctx, "containers/list", &ctrs); err != nil {
		return err
	}
	list, err := s.imageList(ctx)
	if err != nil {
		return err
	}
	du := types.DiskUsage{
		Images: []*image.Summary{}, Containers: []*container.Summary{},
		Volumes: []*volume.Volume{}, BuildCache: []*build.CacheRecord{},
	}
	uses := map[string]int64{}
	for _, c := range ctrs {
		sum := c.Summary
		uses[sum.ImageID]++
		if sum.Labels == nil {
			sum.Labels = map[string]string{}
		}
		sum.Ports, sum.Mounts = []container.Port{}, []container.MountPoint{}
		du.Containers = append(du.Containers, &sum)
	}
	for _, img := range list {
		sum, err := s.summary(ctx, img)
		if err != nil {
			return err
		}
		sum.Containers = uses[img.ID]
		du.LayersSize += img.Size
		du.Images = append(du.Images, &sum)
	}
	return writeJSON(w, http.StatusOK, du)
}
