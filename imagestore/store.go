package imagestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	bolt "go.etcd.io/bbolt"
)

// Store is a local image store rooted at a directory:
//
//	ROOT/meta.db                  bbolt: images, tags, unpacked layers
//	ROOT/blobs/sha256/<hex>       manifests, configs and layer blobs, as loaded
//	ROOT/layers/<hex>/            one unpacked layer per diff id <hex>
//	ROOT/empty/                   the lower directory of an image without layers
//	ROOT/tmp/                     work in progress; emptied by New; chattr +T (markTopDir)
//
// Every file and directory reaches its final name by rename after it is
// complete and synced, and an image and its tags become visible in one
// bbolt transaction after all their blobs and layers are in place. So a
// process killed at any moment leaves either the image complete or no trace
// of it but unreferenced blobs and layers (reused by the next load).
//
// One Store at a time may have a root open (New takes bbolt's file lock).
// All methods are safe for concurrent use.
type Store struct {
	root     string
	db       *bolt.DB
	platform v1.Platform
	logf     func(format string, args ...any)
	regs     *registries

	maxLayer   int64 // cap on a layer's unpacked size and its blob's (WithMaxLayerSize)
	maxArchive int64 // cap on an archive's uncompressed size (WithMaxArchiveSize)

	// gc is held shared by everything that writes blobs and layers
	// before committing them (Load, Pull), and exclusively by Prune, so
	// a collection never takes what a transfer is about to commit.
	gc sync.RWMutex

	mu      sync.RWMutex // guards the maps below and closed
	closed  bool
	images  map[string]*entry  // by id "sha256:<hex>"
	refs    map[string]string  // refKey(tag) → image id
	layers  map[string]int64   // diff id → unpacked size, for complete layer dirs
	flights map[string]*flight // diff id → an unpack in progress
}

// entry is an image in memory: its record and its parsed config.
type entry struct {
	rec record
	cfg *v1.ConfigFile
}

// record is an image as stored in the images bucket.
type record struct {
	ID             string   `json:"id"`
	ManifestDigest string   `json:"manifestDigest"`
	Manifest       []byte   `json:"manifest"`
	Config         []byte   `json:"config"`
	Layers         []string `json:"layers"` // diff ids, base first
	Blobs          []string `json:"blobs"`  // layer blob digests, base first
	Size           int64    `json:"size"`
	// RepoDigests are the references by digest the image was pulled or
	// pushed as ("127.0.0.1:5000/x/y@sha256:<hex>"), fully qualified.
	RepoDigests []string `json:"repoDigests,omitempty"`
	// Parent is the id of the image Create built this one on.
	Parent string `json:"parent,omitempty"`
	// CacheKey is the build-cache key given to Create.
	CacheKey string `json:"cacheKey,omitempty"`
}

// flight is a layer being unpacked; done is closed when it ends.
type flight struct{ done chan struct{} }

var (
	bucketImages = []byte("images")
	bucketRefs   = []byte("refs")
	bucketLayers = []byte("layers")
)

// New opens the store at root, creating it if needed. It fails with
// errdefs.ErrBusy when another Store keeps root open longer than the lock
// timeout (WithLockTimeout), and with errdefs.ErrInvalid when meta.db is
// not a store's.
func New(root string, opts ...Option) (*Store, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	for _, d := range []string{"blobs/sha256", "layers", "empty"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, classify(err, "image store: %w")
		}
	}
	if err := os.Chmod(filepath.Join(root, "empty"), 0o755); err != nil {
		return nil, classify(err, "image store: %w")
	}
	db, err := bolt.Open(filepath.Join(root, "meta.db"), 0o600, &bolt.Options{Timeout: o.lockTimeout})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, errdefs.Busy("image store %s is in use by another process", root)
	}
	if err != nil {
		return nil, errdefs.Invalid("image store %s: opening meta.db: %w", root, err)
	}
	s := &Store{
		root:     root,
		db:       db,
		platform: o.platform,
		logf:     o.logf,
		regs:     &registries{cfg: o.registries},

		maxLayer:   o.maxLayer,
		maxArchive: o.maxArchive,
		images:     map[string]*entry{},
		refs:       map[string]string{},
		layers:     map[string]int64{},
		flights:    map[string]*flight{},
	}
	// The lock is ours: whatever tmp holds was left by a dead load.
	tmp := filepath.Join(root, "tmp")
	if err := os.RemoveAll(tmp); err != nil {
		db.Close()
		return nil, classify(err, "image store: clearing tmp: %w")
	}
	if err := os.Mkdir(tmp, 0o700); err != nil {
		db.Close()
		return nil, classify(err, "image store: %w")
	}
	if err := markTopDir(tmp); err != nil {
		db.Close()
		return nil, classify(err, "image store: tmp: %w")
	}
	if err := s.read(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// read loads the database into memory.
func (s *Store) read() error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketImages, bucketRefs, bucketLayers} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketImages).ForEach(func(k, v []byte) error {
			// An unreadable record is skipped, not fatal: one bad image
			// must not keep the daemon from starting.
			var rec record
			if err := json.Unmarshal(v, &rec); err != nil {
				s.logf("image store: skipping unreadable image record %s: %v", k, err)
				return nil
			}
			cfg, err := v1.ParseConfigFile(bytes.NewReader(rec.Config))
			if err != nil {
				s.logf("image store: skipping image %s: bad config: %v", k, err)
				return nil
			}
			s.images[rec.ID] = &entry{rec: rec, cfg: cfg}
			return nil
		}); err != nil {
			return err
		}
		if err := tx.Bucket(bucketRefs).ForEach(func(k, v []byte) error {
			s.refs[string(k)] = string(v)
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bucketLayers).ForEach(func(k, v []byte) error {
			var l layerRecord
			if err := json.Unmarshal(v, &l); err != nil {
				s.logf("image store: skipping unreadable layer record %s: %v", k, err)
				return nil
			}
			s.layers[string(k)] = l.Size
			return nil
		})
	})
	if err != nil {
		return errdefs.Invalid("image store %s: reading meta.db: %w", s.root, err)
	}
	return nil
}

// layerRecord is an unpacked layer as stored in the layers bucket.
type layerRecord struct {
	Size int64 `json:"size"`
}

// Close releases the store. Mounts made by Mount stay. Methods called after
// Close fail with errdefs.ErrUnavailable.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.db.Close(); err != nil {
		return classify(err, "image store: close: %w")
	}
	return nil
}

// errClosed is the error of a method called after Close.
func (s *Store) errClosed() error {
	return errdefs.Unavailable("image store %s is closed", s.root)
}

// Get returns the image ref names: a reference ("busybox", "busybox:latest"
// and "docker.io/library/busybox:latest" are one), a digest reference
// ("busybox@sha256:<hex>", matched against the manifest digest), an id
// ("sha256:<hex>" or the 64 bare hex digits), or a unique prefix of at
// least 4 hex digits of an id, with or without "sha256:". A reference is
// tried before an id prefix, as docker does ("abcd" may be either).
//
// A malformed reference, a "sha256:" id too short or not hex, and a prefix
// that matches more than one image are errdefs.ErrInvalid; an image that
// is not there is errdefs.ErrNotFound ("No such image: REF").
func (s *Store) Get(ctx context.Context, ref string) (*Image, error) {
	if err := ctx.Err(); err != nil {
		return nil, classify(err, "image %s: %w", ref)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, s.errClosed()
	}
	id, err := s.resolve(ref)
	if err != nil {
		return nil, err
	}
	return s.image(id), nil
}

// resolve finds the id of the image ref names. Callers hold s.mu.
func (s *Store) resolve(ref string) (string, error) {
	if hex, ok := strings.CutPrefix(ref, "sha256:"); ok {
		if !isHex(hex) || len(hex) < 4 || len(hex) > 64 {
			return "", errdefs.Invalid("invalid image id %q: want sha256: and 4 to 64 hex digits", ref)
		}
		return s.byPrefix(ref, hex)
	}
	if isHex(ref) && len(ref) == 64 {
		return s.byPrefix(ref, ref)
	}
	r, err := ParseReference(ref)
	if err != nil {
		return "", err
	}
	switch r := r.(type) {
	case name.Tag:
		if id, ok := s.refs[refKey(r)]; ok {
			return id, nil
		}
	case name.Digest:
		for id, e := range s.images {
			if e.rec.ManifestDigest == r.DigestStr() {
				return id, nil
			}
		}
	}
	if isHex(ref) && len(ref) >= 4 {
		return s.byPrefix(ref, ref)
	}
	return "", errdefs.NotFound("No such image: %s", ref)
}

// byPrefix finds the one image whose id starts with sha256:hex.
func (s *Store) byPrefix(ref, hex string) (string, error) {
	var found []string
	for id := range s.images {
		if strings.HasPrefix(id, "sha256:"+hex) {
			found = append(found, id)
		}
	}
	switch len(found) {
	case 0:
		return "", errdefs.NotFound("No such image: %s", ref)
	case 1:
		return found[0], nil
	}
	return "", errdefs.Invalid("image id prefix %q is ambiguous: it matches %d images", ref, len(found))
}

// List returns every image, newest first (ties by id).
func (s *Store) List(ctx context.Context) ([]*Image, error) {
	if err := ctx.Err(); err != nil {
		return nil, classify(err, "list images: %w")
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, s.errClosed()
	}
	imgs := make([]*Image, 0, len(s.images))
	for id := range s.images {
		imgs = append(imgs, s.image(id))
	}
	slices.SortFunc(imgs, func(a, b *Image) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return imgs, nil
}

// Tag points the tag dst at the image src names (anything Get accepts).
// A tag that pointed elsewhere moves; its old image stays, as docker does.
// A malformed or digest dst is errdefs.ErrInvalid; an unknown src
// errdefs.ErrNotFound.
func (s *Store) Tag(ctx context.Context, src, dst string) error {
	tag, err := parseTag(dst)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return classify(err, "tag %s: %w", dst)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.errClosed()
	}
	id, err := s.resolve(src)
	if err != nil {
		return err
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRefs).Put([]byte(refKey(tag)), []byte(id))
	}); err != nil {
		return classify(err, "tag %s: %w", dst)
	}
	s.refs[refKey(tag)] = id
	return nil
}

// image builds the Image of a known id, a copy the caller may change.
// Callers hold s.mu.
func (s *Store) image(id string) *Image {
	e := s.images[id]
	var tags []string
	for k, v := range s.refs {
		if v != id {
			continue
		}
		if t, err := name.NewTag(k); err == nil {
			tags = append(tags, Familiar(t))
		}
	}
	slices.Sort(tags)
	var digests []string
	for _, d := range e.rec.RepoDigests {
		if r, err := name.NewDigest(d); err == nil {
			digests = append(digests, Familiar(r))
		}
	}
	img := &Image{
		RepoDigests:    digests,
		Blobs:          slices.Clone(e.rec.Blobs),
		LayerSizes:     make([]int64, len(e.rec.Layers)),
		ID:             id,
		RepoTags:       tags,
		Created:        e.cfg.Created.Time,
		Size:           e.rec.Size,
		Config:         *e.cfg.DeepCopy(),
		Manifest:       slices.Clone(e.rec.Manifest),
		Layers:         slices.Clone(e.rec.Layers),
		ManifestDigest: e.rec.ManifestDigest,
		Parent:         e.rec.Parent,
		CacheKey:       e.rec.CacheKey,
	}
	for i, l := range e.rec.Layers {
		img.LayerSizes[i] = s.layers[l]
	}
	return img
}

// commit makes images and their tags visible in one transaction. Their
// blobs and layer directories must be in place. An image already there is
// kept as it is (its id is its config's digest, so it is the same image);
// tags move to the new images. Layer sizes are recorded for the layers
// given.
func (s *Store) commit(recs []*record, tags map[string]string, layers map[string]int64) error {
	return s.commitIf(nil, recs, tags, layers)
}

// commitIf is commit that first calls check, if set, under the lock the
// commit takes, and commits nothing if check fails: so what check finds
// (a parent image still there) holds when the images appear.
func (s *Store) commitIf(check func() error, recs []*record, tags map[string]string, layers map[string]int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.errClosed()
	}
	if check != nil {
		if err := check(); err != nil {
			return err
		}
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		ib, rb, lb := tx.Bucket(bucketImages), tx.Bucket(bucketRefs), tx.Bucket(bucketLayers)
		for diffID, size := range layers {
			v, err := json.Marshal(layerRecord{Size: size})
			if err != nil {
				return err
			}
			if err := lb.Put([]byte(diffID), v); err != nil {
				return err
			}
		}
		for _, rec := range recs {
			if old := ib.Get([]byte(rec.ID)); old != nil {
				// The same image: keep its record, adding new repo digests.
				var prev record
				if err := json.Unmarshal(old, &prev); err != nil {
					return err
				}
				merged := mergeDigests(prev.RepoDigests, rec.RepoDigests)
				if len(merged) == len(prev.RepoDigests) {
					continue
				}
				prev.RepoDigests = merged
				*rec = prev
			}
			v, err := json.Marshal(rec)
			if err != nil {
				return err
			}
			if err := ib.Put([]byte(rec.ID), v); err != nil {
				return err
			}
		}
		for k, id := range tags {
			if err := rb.Put([]byte(k), []byte(id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return classify(err, "image store: commit: %w")
	}
	for _, rec := range recs {
		if e, ok := s.images[rec.ID]; ok {
			e.rec.RepoDigests = mergeDigests(e.rec.RepoDigests, rec.RepoDigests)
			continue
		}
		cfg, err := v1.ParseConfigFile(bytes.NewReader(rec.Config))
		if err != nil { // checked by the caller already
			return errdefs.Invalid("image %s: config: %w", rec.ID, err)
		}
		s.images[rec.ID] = &entry{rec: *rec, cfg: cfg}
	}
	for k, id := range tags {
		s.refs[k] = id
	}
	for diffID, size := range layers {
		s.layers[diffID] = size
	}
	return nil
}

// mergeDigests adds the repo digests of add missing from have.
func mergeDigests(have, add []string) []string {
	out := slices.Clone(have)
	for _, d := range add {
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// jsonRecord encodes an image record for the images bucket.
func jsonRecord(r *record) ([]byte, error) { return json.Marshal(r) }
