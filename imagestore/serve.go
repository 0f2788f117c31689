package imagestore

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/enginefs/enginefs/errdefs"
)

// This file is what a registry front end (imagestore/registry) needs to
// serve the store: repositories by their path alone (the registry host
// dropped, "busybox" and "library/busybox" both naming Docker Hub's), tags,
// manifests and blobs, straight from the store's files.

// repoPath is a tag's repository path without its registry, as served:
// Docker Hub's official images without "library/".
func repoPath(t name.Tag) string {
	f := Familiar(t)
	f = f[:strings.LastIndex(f, ":")]
	if reg := t.Context().RegistryStr(); reg != name.DefaultRegistry {
		f = strings.TrimPrefix(f, reg+"/")
	}
	return f
}

// matchRepo reports whether a served repository path names t's repository.
func matchRepo(t name.Tag, repo string) bool {
	p := repoPath(t)
	return p == repo || (t.Context().RegistryStr() == name.DefaultRegistry && "library/"+p == repo)
}

// Repositories lists the repository paths the store serves, sorted.
func (s *Store) Repositories(ctx context.Context) ([]string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, s.errClosed()
	}
	var out []string
	for k := range s.refs {
		if t, err := name.NewTag(k); err == nil && !slices.Contains(out, repoPath(t)) {
			out = append(out, repoPath(t))
		}
	}
	slices.Sort(out)
	return out, nil
}

// Tags lists the tags of a served repository; a repository with none is
// errdefs.ErrNotFound.
func (s *Store) Tags(ctx context.Context, repo string) ([]string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, s.errClosed()
	}
	var out []string
	for k := range s.refs {
		if t, err := name.NewTag(k); err == nil && matchRepo(t, repo) && !slices.Contains(out, t.TagStr()) {
			out = append(out, t.TagStr())
		}
	}
	if len(out) == 0 {
		return nil, errdefs.NotFound("repository %s is not known", repo)
	}
	slices.Sort(out)
	return out, nil
}

// Manifest returns the manifest that reference (a tag or a digest)
// names in a served repository, its media type and its digest. A
// Docker Hub image is found before one of another registry with the same
// path. Unknown ones are errdefs.ErrNotFound.
func (s *Store) Manifest(ctx context.Context, repo, reference string) ([]byte, types.MediaType, string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, "", "", s.errClosed()
	}
	var e *entry
	if strings.HasPrefix(reference, "sha256:") {
		for _, c := range s.images {
			if c.rec.ManifestDigest == reference {
				e = c
				break
			}
		}
	} else {
		var keys []string
		for k := range s.refs {
			keys = append(keys, k)
		}
		slices.Sort(keys) // index.docker.io/... sorts after hosts with digits: prefer it below
		for _, k := range keys {
			t, err := name.NewTag(k)
			if err != nil || t.TagStr() != reference || !matchRepo(t, repo) {
				continue
			}
			e = s.images[s.refs[k]]
			if t.Context().RegistryStr() == name.DefaultRegistry {
				break
			}
		}
	}
	if e == nil {
		return nil, "", "", errdefs.NotFound("manifest %s:%s is not known", repo, reference)
	}
	m, err := v1.ParseManifest(bytes.NewReader(e.rec.Manifest))
	if err != nil {
		return nil, "", "", errdefs.Invalid("image %s: manifest: %w", e.rec.ID, err)
	}
	mt := m.MediaType
	if mt == "" {
		mt = types.OCIManifestSchema1
	}
	return slices.Clone(e.rec.Manifest), mt, e.rec.ManifestDigest, nil
}

// OpenBlob opens the blob with the given digest ("sha256:<hex>"), if an
// image of the store references it (its config, manifest or a layer);
// errdefs.ErrNotFound otherwise. The caller closes the file.
func (s *Store) OpenBlob(ctx context.Context, digest string) (*os.File, error) {
	h, err := v1.NewHash(digest)
	if err != nil || h.Algorithm != "sha256" || len(h.Hex) != 64 || !isHex(h.Hex) {
		return nil, errdefs.Invalid("invalid digest %q", digest)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, s.errClosed()
	}
	known := false
	for id, e := range s.images {
		if id == digest || e.rec.ManifestDigest == digest || slices.Contains(e.rec.Blobs, digest) {
			known = true
			break
		}
	}
	if !known {
		return nil, errdefs.NotFound("blob %s is not known", digest)
	}
	f, err := os.Open(s.blobPath(h))
	if err != nil {
		return nil, classify(err, "blob %s: %w", digest)
	}
	return f, nil
}
