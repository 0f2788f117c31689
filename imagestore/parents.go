package imagestore

import (
	"context"
	"slices"

	"github.com/enginefs/enginefs/errdefs"
)

// Cached returns the image Create made with the build-cache key key on
// the image parent ("" for images made from nothing, FROM scratch): the
// newest by its config's creation time (ties by id), since a rebuild
// that did not hit the cache may have made another. An image made
// without a key is never a cache hit.
//
// Errors: no such image, or an unknown parent, errdefs.ErrNotFound.
func (s *Store) Cached(ctx context.Context, parent, key string) (*Image, error) {
	if err := ctx.Err(); err != nil {
		return nil, classify(err, "build cache: %w")
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, s.errClosed()
	}
	pid := ""
	if parent != "" {
		id, err := s.resolve(parent)
		if err != nil {
			return nil, err
		}
		pid = id
	}
	best := ""
	if key != "" {
		for id, e := range s.images {
			if e.rec.Parent != pid || e.rec.CacheKey != key {
				continue
			}
			if best == "" {
				best = id
				continue
			}
			b := s.images[best]
			if c := e.cfg.Created.Time.Compare(b.cfg.Created.Time); c > 0 || c == 0 && id > best {
				best = id
			}
		}
	}
	if best == "" {
		return nil, errdefs.NotFound("no cached image for key %q on %q", key, parent)
	}
	return s.image(best), nil
}

// Children returns the ids of the images whose parent is the image id
// (an id as Image.ID gives it), sorted; none for an unknown id or a
// closed store.
func (s *Store) Children(id string) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil
	}
	return s.children(id)
}

// children returns the ids of the images whose parent is id, sorted.
// Callers hold s.mu.
func (s *Store) children(id string) []string {
	var out []string
	for cid, e := range s.images {
		if id != "" && e.rec.Parent == id {
			out = append(out, cid)
		}
	}
	slices.Sort(out)
	return out
}

// referenced reports whether a tag or a repo digest names the image id.
// Callers hold s.mu.
func (s *Store) referenced(id string) bool {
	if e := s.images[id]; e != nil && len(e.rec.RepoDigests) > 0 {
		return true
	}
	for _, v := range s.refs {
		if v == id {
			return true
		}
	}
	return false
}
