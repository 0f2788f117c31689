package imagestore

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	bolt "go.etcd.io/bbolt"

	"github.com/enginefs/enginefs/errdefs"
)

// UsedBy tells whether a container uses the image id: the container's
// name or id ("" for none) and whether it runs. The store asks before it
// deletes an image, since a container's root file system stacks the
// image's layers.
type UsedBy func(id string) (container string, running bool)

// DeleteResult says what Delete or Prune did, in docker's terms.
type DeleteResult struct {
	Untagged       []string // familiar references removed
	Deleted        []string // image ids removed
	SpaceReclaimed int64    // bytes of blobs and layers removed
}

// Delete removes ref, as docker rmi does. A tag (or digest reference) is
// untagged, and the image goes with its last one; an id removes the image
// with all its tags, and needs force when several repositories name it.
// An image a container uses is never removed: untagging its last tag
// needs force (the image stays, untagged), and so does naming a stopped
// container's image by id; a running container's image cannot be removed
// by id at all (errdefs.ErrBusy). Nor is an image that is another's
// parent (Image.Parent): untagging its last tag leaves it, untagged, and
// naming it by id is errdefs.ErrBusy, forced or not.
//
// With an image go its parents, nearest first, while each is untagged,
// has no other child and no container uses it (the intermediate images of
// a build); Deleted lists them all. Blobs and layers no other image uses
// are removed with the images, unless a pull, load or Create is running
// (Prune collects them then).
func (s *Store) Delete(ctx context.Context, ref string, force bool, usedBy UsedBy) (*DeleteResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, classify(err, "delete %s: %w", ref)
	}
	if usedBy == nil {
		usedBy = func(string) (string, bool) { return "", false }
	}
	s.mu.Lock()
	res, err := s.delete(ref, force, usedBy)
	s.mu.Unlock()
	if err != nil || len(res.Deleted) == 0 {
		return res, err
	}
	if s.gc.TryLock() {
		defer s.gc.Unlock()
		n, err := s.collect()
		res.SpaceReclaimed = n
		if err != nil {
			s.logf("image store: collecting garbage after deleting %s: %v", ref, err)
		}
	}
	return res, nil
}

// delete does Delete's bookkeeping. s.mu is held.
func (s *Store) delete(ref string, force bool, usedBy UsedBy) (*DeleteResult, error) {
	if s.closed {
		return nil, s.errClosed()
	}
	id, err := s.resolve(ref)
	if err != nil {
		return nil, err
	}
	e := s.images[id]
	var tags []string // ref keys naming id
	for k, v := range s.refs {
		if v == id {
			tags = append(tags, k)
		}
	}
	slices.Sort(tags)
	short := shortID(id)
	user, running := usedBy(id)
	hasChildren := len(s.children(id)) > 0
	res := &DeleteResult{}

	var named string // the tag key or repo digest ref names, if it names one
	if r, err := ParseReference(ref); err == nil {
		switch r := r.(type) {
		case name.Tag:
			if s.refs[refKey(r)] == id {
				named = refKey(r)
			}
		case name.Digest:
			named = r.Name()
		}
	}
	if named != "" {
		// As docker: the digest references of a repository go with its
		// last tag.
		drop := []string{named}
		repo := repoOf(named)
		if !slices.ContainsFunc(tags, func(k string) bool { return k != named && repoOf(k) == repo }) {
			for _, d := range e.rec.RepoDigests {
				if d != named && repoOf(d) == repo {
					drop = append(drop, d)
				}
			}
		}
		others := 0
		for _, k := range append(slices.Clone(tags), e.rec.RepoDigests...) {
			if !slices.Contains(drop, k) {
				others++
			}
		}
		if others > 0 || (user != "" && force) {
			return res, s.untag(id, drop, res)
		}
		if user != "" {
			return nil, errdefs.Busy("conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s", ref, user, short)
		}
		if hasChildren {
			// As docker: the image stays, untagged, for its children.
			return res, s.untag(id, drop, res)
		}
	} else {
		switch {
		case hasChildren:
			return nil, errdefs.Busy("conflict: unable to delete %s (cannot be forced) - image has dependent child images", short)
		case user != "" && running:
			return nil, errdefs.Busy("conflict: unable to delete %s (cannot be forced) - image is being used by running container %s", short, user)
		case user != "" && !force:
			return nil, errdefs.Busy("conflict: unable to delete %s (must be forced) - image is being used by stopped container %s", short, user)
		case user != "":
			// Forced, but the container needs the layers: untag only.
			return res, s.untag(id, tags, res)
		case len(tags) > 1 && !force:
			return nil, errdefs.Busy("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", short)
		}
	}
	gone := append([]string{id}, s.danglingParents(id, usedBy)...)
	err = s.db.Update(func(tx *bolt.Tx) error {
		for _, k := range tags {
			if err := tx.Bucket(bucketRefs).Delete([]byte(k)); err != nil {
				return err
			}
		}
		for _, g := range gone {
			if err := tx.Bucket(bucketImages).Delete([]byte(g)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, classify(err, "delete %s: %w", ref)
	}
	for _, k := range tags {
		delete(s.refs, k)
		res.Untagged = append(res.Untagged, familiarKey(k))
	}
	for _, d := range e.rec.RepoDigests {
		res.Untagged = append(res.Untagged, familiarKey(d))
	}
	for _, g := range gone {
		delete(s.images, g)
	}
	res.Deleted = append(res.Deleted, gone...)
	return res, nil
}

// danglingParents returns the parents of image id that go with it,
// nearest first: as docker's rmi prunes them, each while it is untagged,
// has no child but the one going, and no container uses it. s.mu is
// held.
func (s *Store) danglingParents(id string, usedBy UsedBy) []string {
	var out []string
	child := id
	for p := s.images[id].rec.Parent; p != ""; {
		e, ok := s.images[p]
		if !ok || s.referenced(p) || !slices.Equal(s.children(p), []string{child}) {
			break
		}
		if u, _ := usedBy(p); u != "" {
			break
		}
		out = append(out, p)
		child, p = p, e.rec.Parent
	}
	return out
}

// untag removes tags (ref keys) or repo digests from image id. s.mu is
// held.
func (s *Store) untag(id string, keys []string, res *DeleteResult) error {
	e := s.images[id]
	digests := slices.DeleteFunc(slices.Clone(e.rec.RepoDigests), func(d string) bool { return slices.Contains(keys, d) })
	rec := e.rec
	rec.RepoDigests = digests
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, k := range keys {
			if err := tx.Bucket(bucketRefs).Delete([]byte(k)); err != nil {
				return err
			}
		}
		v, err := jsonRecord(&rec)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketImages).Put([]byte(id), v)
	})
	if err != nil {
		return classify(err, "untag: %w")
	}
	for _, k := range keys {
		delete(s.refs, k)
		res.Untagged = append(res.Untagged, familiarKey(k))
	}
	e.rec.RepoDigests = digests
	return nil
}

// repoOf is the repository of a ref key or repo digest.
func repoOf(k string) string {
	if r, err := name.ParseReference(k); err == nil {
		return r.Context().Name()
	}
	return k
}

// familiarKey turns a stored ref key or repo digest into docker's short
// form.
func familiarKey(k string) string {
	if r, err := name.ParseReference(k); err == nil {
		return Familiar(r)
	}
	return k
}

// Prune removes the images no tag names (dangling), or with all every
// image, that no container uses and that are no other image's parent, as
// docker image prune does, and again until none is left: so an abandoned
// chain of build intermediates goes, leaf first, but the intermediates
// under a kept image stay, and no image is left whose parent is gone.
// Then it removes every blob and unpacked layer no image references, and
// whatever interrupted transfers left. It waits for running pulls, loads
// and Creates to end.
func (s *Store) Prune(ctx context.Context, all bool, usedBy UsedBy) (*DeleteResult, error) {
	return s.prune(ctx, func(e *entry, tagged bool) bool { return all || !tagged }, usedBy)
}

// PruneCache removes the build cache nothing needs, as docker builder
// prune does: the images a build made (they have a cache key) that no tag
// names, no container uses and no other image has as its parent, again
// until none is left; then what Prune collects. The intermediates under
// a kept image stay: they are its history.
func (s *Store) PruneCache(ctx context.Context, usedBy UsedBy) (*DeleteResult, error) {
	return s.prune(ctx, func(e *entry, tagged bool) bool { return !tagged && e.rec.CacheKey != "" }, usedBy)
}

// prune is Prune with the images that may go chosen by may.
func (s *Store) prune(ctx context.Context, may func(e *entry, tagged bool) bool, usedBy UsedBy) (*DeleteResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, classify(err, "prune: %w")
	}
	if usedBy == nil {
		usedBy = func(string) (string, bool) { return "", false }
	}
	s.gc.Lock()
	defer s.gc.Unlock()
	res := &DeleteResult{}
	s.mu.Lock()
	for {
		ids := s.pruneCandidates(may, usedBy)
		if len(ids) == 0 {
			break
		}
		deleted := 0
		for _, id := range ids {
			if _, ok := s.images[id]; !ok {
				continue // gone with a child already
			}
			r, err := s.delete(id, true, usedBy)
			if err != nil {
				s.mu.Unlock()
				return res, err
			}
			res.Untagged = append(res.Untagged, r.Untagged...)
			res.Deleted = append(res.Deleted, r.Deleted...)
			deleted += len(r.Deleted)
		}
		if deleted == 0 {
			break
		}
	}
	s.mu.Unlock()
	n, err := s.collect()
	res.SpaceReclaimed = n
	return res, err
}

// pruneCandidates returns, sorted, the images prune may remove now:
// unused, childless, and chosen by may. s.mu is held.
func (s *Store) pruneCandidates(may func(e *entry, tagged bool) bool, usedBy UsedBy) []string {
	tagged, parents := map[string]bool{}, map[string]bool{}
	for _, id := range s.refs {
		tagged[id] = true
	}
	for _, e := range s.images {
		if e.rec.Parent != "" {
			parents[e.rec.Parent] = true
		}
	}
	var ids []string
	for id, e := range s.images {
		if parents[id] || !may(e, tagged[id]) {
			continue
		}
		if u, _ := usedBy(id); u == "" {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// collect removes the blobs and layer directories no image references and
// empties tmp; it returns the bytes freed. s.gc is held exclusively, so no
// transfer is writing.
func (s *Store) collect() (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, s.errClosed()
	}
	blobs, layers := map[string]bool{}, map[string]bool{}
	for id, e := range s.images {
		blobs[strings.TrimPrefix(id, "sha256:")] = true
		blobs[strings.TrimPrefix(e.rec.ManifestDigest, "sha256:")] = true
		for _, b := range e.rec.Blobs {
			blobs[strings.TrimPrefix(b, "sha256:")] = true
		}
		for _, l := range e.rec.Layers {
			layers[strings.TrimPrefix(l, "sha256:")] = true
		}
	}
	var freed int64
	bdir := filepath.Join(s.root, "blobs", "sha256")
	ents, err := os.ReadDir(bdir)
	if err != nil {
		return 0, classify(err, "collect: %w")
	}
	for _, d := range ents {
		if blobs[d.Name()] {
			continue
		}
		if fi, err := d.Info(); err == nil {
			freed += fi.Size()
		}
		if err := os.Remove(filepath.Join(bdir, d.Name())); err != nil {
			return freed, classify(err, "collect: %w")
		}
	}
	ldir := filepath.Join(s.root, "layers")
	ents, err = os.ReadDir(ldir)
	if err != nil {
		return freed, classify(err, "collect: %w")
	}
	var gone []string
	for _, d := range ents {
		if layers[d.Name()] {
			continue
		}
		if n, err := dirSize(filepath.Join(ldir, d.Name())); err == nil {
			freed += n
		}
		if err := os.RemoveAll(filepath.Join(ldir, d.Name())); err != nil {
			return freed, classify(err, "collect: %w")
		}
		gone = append(gone, "sha256:"+d.Name())
	}
	for k := range s.layers {
		if !layers[strings.TrimPrefix(k, "sha256:")] {
			gone = append(gone, k)
		}
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		for _, k := range gone {
			if err := tx.Bucket(bucketLayers).Delete([]byte(k)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return freed, classify(err, "collect: %w")
	}
	for _, k := range gone {
		delete(s.layers, k)
	}
	tmp, err := os.ReadDir(s.tmpDir())
	if err == nil {
		for _, d := range tmp {
			os.RemoveAll(filepath.Join(s.tmpDir(), d.Name()))
		}
	}
	return freed, nil
}
