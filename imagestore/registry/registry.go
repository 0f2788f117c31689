// Package registry serves an image store as a read-only registry that
// speaks the OCI distribution spec (docker's registry v2 API), so that
// another engine, docker, podman or skopeo can pull from it. Manifests and
// blobs are read from the store's own files, not copied.
//
// Entry point: New returns the http.Handler. Repositories are named by
// their path without the registry host the image was pulled from
// (127.0.0.1:5000/x/y is served as x/y; busybox as busybox or
// library/busybox). Pushes are refused (405, UNSUPPORTED).
package registry

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/enginefs/enginefs/errdefs"
)

// Store is what the registry reads: *imagestore.Store.
type Store interface {
	Repositories(ctx context.Context) ([]string, error)
	Tags(ctx context.Context, repo string) ([]string, error)
	Manifest(ctx context.Context, repo, reference string) ([]byte, types.MediaType, string, error)
	OpenBlob(ctx context.Context, digest string) (*os.File, error)
}

// New returns a handler serving s under /v2/.
func New(s Store) http.Handler { return &server{s: s} }

type server struct{ s Store }

// regError is a distribution-spec error answer.
type regError struct {
	status  int
	code    string
	message string
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	if e := s.serve(w, r); e != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(e.status)
		if r.Method != http.MethodHead {
			json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": e.code, "message": e.message}}})
		}
	}
}

func (s *server) serve(w http.ResponseWriter, r *http.Request) *regError {
	p := r.URL.Path
	if !strings.HasPrefix(p, "/v2/") && p != "/v2" {
		return &regError{http.StatusNotFound, "NOT_FOUND", "not a registry path"}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return &regError{http.StatusMethodNotAllowed, "UNSUPPORTED", "this registry is read-only"}
	}
	rest := strings.TrimPrefix(strings.TrimPrefix(p, "/v2"), "/")
	ctx := r.Context()
	switch {
	case rest == "":
		return writeJSON(w, r, map[string]any{})
	case rest == "_catalog":
		repos, err := s.s.Repositories(ctx)
		if err != nil {
			return fromError(err, "NAME_UNKNOWN")
		}
		return writeJSON(w, r, map[string]any{"repositories": repos})
	}
	for _, kind := range []string{"/manifests/", "/blobs/", "/tags/"} {
		i := strings.LastIndex(rest, kind)
		if i <= 0 {
			continue
		}
		repo, arg := rest[:i], rest[i+len(kind):]
		switch kind {
		case "/manifests/":
			return s.manifest(w, r, repo, arg)
		case "/blobs/":
			return s.blob(w, r, arg)
		case "/tags/":
			if arg != "list" {
				break
			}
			tags, err := s.s.Tags(ctx, repo)
			if err != nil {
				return fromError(err, "NAME_UNKNOWN")
			}
			return writeJSON(w, r, map[string]any{"name": repo, "tags": tags})
		}
	}
	return &regError{http.StatusNotFound, "NOT_FOUND", "unknown registry path " + p}
}

func (s *server) manifest(w http.ResponseWriter, r *http.Request, repo, ref string) *regError {
	data, mt, digest, err := s.s.Manifest(r.Context(), repo, ref)
	if err != nil {
		return fromError(err, "MANIFEST_UNKNOWN")
	}
	h := w.Header()
	h.Set("Content-Type", string(mt))
	h.Set("Docker-Content-Digest", digest)
	h.Set("Content-Length", strconv.Itoa(len(data)))
	if r.Method == http.MethodHead {
		return nil
	}
	w.Write(data)
	return nil
}

func (s *server) blob(w http.ResponseWriter, r *http.Request, digest string) *regError {
	f, err := s.s.OpenBlob(r.Context(), digest)
	if err != nil {
		return fromError(err, "BLOB_UNKNOWN")
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fromError(err, "BLOB_UNKNOWN")
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Docker-Content-Digest", digest)
	w.Header().Set("Cache-Control", "max-age=31536000")
	http.ServeContent(w, r, "", fi.ModTime(), f) // ranges and HEAD included
	return nil
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, r *http.Request, v any) *regError {
	b, err := json.Marshal(v)
	if err != nil {
		return &regError{http.StatusInternalServerError, "UNKNOWN", err.Error()}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	if r.Method != http.MethodHead {
		w.Write(b)
	}
	return nil
}

// fromError maps a store error to the spec's answer; code is the one for
// "not found".
func fromError(err error, code string) *regError {
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		return &regError{http.StatusNotFound, code, err.Error()}
	case errors.Is(err, errdefs.ErrInvalid):
		c := "NAME_INVALID"
		if code == "BLOB_UNKNOWN" {
			c = "DIGEST_INVALID"
		}
		return &regError{http.StatusBadRequest, c, err.Error()}
	}
	return &regError{http.StatusInternalServerError, "UNKNOWN", err.Error()}
}
