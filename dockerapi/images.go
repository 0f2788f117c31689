package dockerapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path"
	"strings"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/go-units"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

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

// imageDir resolves what a name means (a tag, a digest reference, an id or
// an id prefix) with images/ctl's resolve and returns the image's
// directory, images/by-id/<hex>.
func (s *Server) imageDir(ctx context.Context, name string) (string, error) {
	id, err := s.command(ctx, "images/ctl", verbs.Line(verbs.ImageResolve{Ref: name}))
	if err != nil {
		return "", err
	}
	return "images/by-id/" + strings.TrimPrefix(strings.TrimSpace(id), "sha256:"), nil
}

func (s *Server) imageList(ctx context.Context) ([]image.Summary, error) {
	var list []image.Summary
	return list, s.readJSON(ctx, "images/list", &list)
}

// imageFilters are the filters of GET /images/json.
var imageFilters = map[string]bool{"reference": true, "dangling": true, "label": true, "before": true, "since": true}

// listImages is GET /images/json: images/list, filtered.
func (s *Server) listImages(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	f, err := filters.FromJSON(r.URL.Query().Get("filters"))
	if err != nil {
		return errdefs.Invalid("%v", err)
	}
	if err := f.Validate(imageFilters); err != nil {
		return errdefs.Invalid("%v", err)
	}
	list, err := s.imageList(ctx)
	if err != nil {
		return err
	}
	created := map[string]int64{}
	for _, k := range []string{"before", "since"} {
		for _, ref := range f.Get(k) {
			dir, err := s.imageDir(ctx, ref)
			if err != nil {
				return err
			}
			id := "sha256:" + path.Base(dir)
			for _, img := range list {
				if img.ID == id {
					created[k] = img.Created
				}
			}
		}
	}
	out := []image.Summary{}
	parents := map[string]bool{}
	for _, img := range list {
		parents[img.ParentID] = true
	}
	all := boolValue(r, "all")
	for _, img := range list {
		// As dockerd: an untagged image that is another's parent is an
		// intermediate image of a build, shown with all only and never
		// dangling.
		intermediate := len(img.RepoTags) == 0 && parents[img.ID]
		if intermediate && !all {
			continue
		}
		if f.Contains("dangling") {
			want, err := f.GetBoolOrDefault("dangling", false)
			if err != nil {
				return errdefs.Invalid("%v", err)
			}
			if want != (len(img.RepoTags) == 0 && !intermediate) {
				continue
			}
		}
		if f.Contains("label") && !f.MatchKVList("label", img.Labels) {
			continue
		}
		if t, ok := created["before"]; ok && img.Created >= t {
			continue
		}
		if t, ok := created["since"]; ok && img.Created <= t {
			continue
		}
		if refs := f.Get("reference"); len(refs) > 0 {
			// As dockerd, only the tags that match are listed.
			if img.RepoTags = matchReference(refs, img.RepoTags); len(img.RepoTags) == 0 {
				continue
			}
			img.RepoDigests = matchReference(refs, img.RepoDigests)
		}
		out = append(out, img)
	}
	return writeJSON(w, http.StatusOK, out)
}

// matchReference applies the reference filter to tags: a pattern matches
// a tag or its repository (path.Match, as docker's). It returns the tags
// that match.
func matchReference(patterns, tags []string) []string {
	out := []string{}
	for _, t := range tags {
		repo, _, digest := strings.Cut(t, "@")
		if !digest {
			repo = t[:strings.LastIndex(t, ":")]
		}
		for _, pat := range patterns {
			m1, _ := path.Match(pat, t)
			m2, _ := path.Match(pat, repo)
			if m1 || m2 || sameImage(pat, t) {
				out = append(out, t)
				break
			}
		}
	}
	return out
}

// imageGet serves GET /images/{name}/json, /history and /get (names may
// hold slashes).
func (s *Server) imageGet(w http.ResponseWriter, r *http.Request) error {
	rest := r.PathValue("rest")
	i := strings.LastIndex(rest, "/")
	if i <= 0 {
		return errdefs.NotFound("page not found")
	}
	name, op := rest[:i], rest[i+1:]
	ctx := r.Context()
	switch op {
	case "json", "history":
		dir, err := s.imageDir(ctx, name)
		if err != nil {
			return err
		}
		file := "inspect"
		if op == "history" {
			file = "history"
		}
		data, err := s.read(ctx, dir+"/"+file)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, err = w.Write(data)
		return err
	case "get":
		return s.saveImages(w, r, []string{name})
	}
	return errdefs.NotFound("page not found")
}

// imagePost serves POST /images/{name}/tag and /push.
func (s *Server) imagePost(w http.ResponseWriter, r *http.Request) error {
	rest := r.PathValue("rest")
	i := strings.LastIndex(rest, "/")
	if i <= 0 {
		return errdefs.NotFound("page not found")
	}
	name, op := rest[:i], rest[i+1:]
	switch op {
	case "tag":
		return s.tagImage(w, r, name)
	case "push":
		return s.pushImage(w, r, name)
	}
	return errdefs.NotFound("page not found")
}

// tagImage is POST /images/{name}/tag?repo=&tag=: images/ctl's tag.
func (s *Server) tagImage(w http.ResponseWriter, r *http.Request, name string) error {
	q := r.URL.Query()
	repo, tag := q.Get("repo"), q.Get("tag")
	if repo == "" {
		return errdefs.Invalid("tag: repo is required (the repository to tag the image in)")
	}
	dst := repo
	if tag != "" {
		dst += ":" + tag
	}
	if _, err := s.command(r.Context(), "images/ctl", verbs.Line(verbs.ImageTag{Src: name, Dst: dst})); err != nil {
		return err
	}
	w.WriteHeader(http.StatusCreated)
	return nil
}

// deleteReport reads the reply of images/ctl's rm and prune, docker's
// "Untagged: REF" and "Deleted: ID" lines (and prune's "Total reclaimed
// space: SIZE").
func deleteReport(reply string) ([]image.DeleteResponse, uint64) {
	out := []image.DeleteResponse{}
	var space uint64
	for _, line := range strings.Split(reply, "\n") {
		k, v, _ := strings.Cut(line, ": ")
		switch k {
		case "Untagged":
			out = append(out, image.DeleteResponse{Untagged: v})
		case "Deleted":
			out = append(out, image.DeleteResponse{Deleted: v})
		case "Total reclaimed space":
			if n, err := units.FromHumanSize(v); err == nil && n > 0 {
				space = uint64(n)
			}
		}
	}
	return out, space
}

// removeImage is DELETE /images/{name}?force=: images/ctl's rm, whose reply
// says what was untagged and deleted.
func (s *Server) removeImage(w http.ResponseWriter, r *http.Request) error {
	rm := verbs.ImageRm{Ref: r.PathValue("rest"), Force: boolValue(r, "force")}
	reply, err := s.command(r.Context(), "images/ctl", verbs.Line(rm))
	if err != nil {
		return err
	}
	out, _ := deleteReport(reply)
	return writeJSON(w, http.StatusOK, out)
}

// pruneImages is POST /images/prune: images/ctl's prune; the filter
// dangling=false (docker image prune -a) prunes every unused image.
func (s *Server) pruneImages(w http.ResponseWriter, r *http.Request) error {
	f, err := filters.FromJSON(r.URL.Query().Get("filters"))
	if err != nil {
		return errdefs.Invalid("%v", err)
	}
	if err := f.Validate(map[string]bool{"dangling": true}); err != nil {
		return errdefs.Invalid("%v (image prune takes the dangling filter only)", err)
	}
	dangling, err := f.GetBoolOrDefault("dangling", true)
	if err != nil {
		return errdefs.Invalid("%v", err)
	}
	reply, err := s.command(r.Context(), "images/ctl", verbs.Line(verbs.ImagePrune{All: !dangling}))
	if err != nil {
		return err
	}
	out, space := deleteReport(reply)
	return writeJSON(w, http.StatusOK, image.PruneReport{ImagesDeleted: out, SpaceReclaimed: space})
}

// saveImages streams the archive of the images from the tree's
// images/save: GET /images/{name}/get and GET /images/get?names=.
func (s *Server) saveImages(w http.ResponseWriter, r *http.Request, names []string) error {
	if len(names) == 0 {
		return errdefs.Invalid("no image named (names=)")
	}
	ctx := r.Context()
	h, err := s.tree.Open(ctx, "images/save", os.O_RDWR)
	if err != nil {
		return err
	}
	defer h.Close()
	if _, err := h.WriteAt(ctx, []byte(verbs.Line(verbs.ArchiveSave{Refs: names})+"\n"), 0); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	buf := make([]byte, 1<<20)
	for off := int64(0); ; {
		n, err := h.ReadAt(ctx, buf, off)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			off += int64(n)
		}
		if errors.Is(err, io.EOF) || err == nil && n == 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// saveNamed is GET /images/get?names=.
func (s *Server) saveNamed(w http.ResponseWriter, r *http.Request) error {
	return s.saveImages(w, r, r.URL.Query()["names"])
}

// loadImages is POST /images/load: the body, a docker-save (or OCI)
// archive, goes to the tree's images/load; the reply's lines are docker's
// stream messages.
func (s *Server) loadImages(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	h, err := s.tree.Open(ctx, "images/load", os.O_RDWR)
	if err != nil {
		return err
	}
	defer h.Close()
	// A body cut short (the client went away, a chunked body ended early)
	// is dropped, not loaded at the close.
	abort := func(err error) error {
		_ = fs.TruncateHandle(context.WithoutCancel(ctx), h, 0)
		return err
	}
	buf := make([]byte, 1<<20)
	off := int64(0)
	for {
		n, rerr := r.Body.Read(buf)
		if n > 0 {
			if _, err := h.WriteAt(ctx, buf[:n], off); err != nil {
				return abort(err)
			}
			off += int64(n)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return abort(errdefs.Invalid("docker load: reading the archive: %w", rerr))
		}
	}
	if r.ContentLength > 0 && off != r.ContentLength {
		return abort(errdefs.Invalid("docker load: the archive ended after %d of %d bytes", off, r.ContentLength))
	}
	replyb, err := fs.ReadHandle(ctx, h)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if err != nil {
		// dockerd streams a failed load as 200 and an error message,
		// which the CLI prints and exits 1 on.
		msg := err.Error()
		return writeJSONBody(w, loadError{Error: msg, ErrorDetail: loadErrorDetail{Message: msg}})
	}
	reply := string(replyb)
	for _, line := range strings.Split(reply, "\n") {
		if line != "" {
			if err := writeJSONBody(w, map[string]string{"stream": line + "\n"}); err != nil {
				return err
			}
		}
	}
	return nil
}

// loadError is the last message of a failed load's stream, dockerd's
// jsonmessage with an errorDetail.
type loadError struct {
	ErrorDetail loadErrorDetail `json:"errorDetail"`
	Error       string          `json:"error"`
}

type loadErrorDetail struct {
	Message string `json:"message"`
}
