package imagestore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/enginefs/enginefs/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Load imports the images of the archive at path: a docker-save archive
// (manifest.json, possibly several images, RepoTags) or an OCI image layout
// in a tar (oci-layout, index.json; tags from the annotations, see
// below), either possibly gzip- or zstd-compressed. It returns the
// archive's images in its order, with their tags after the load.
//
// Blobs are stored once by digest, and every digest is verified: the
// blobs' against their descriptors (OCI) or member names, each uncompressed
// layer against its config's diff id. Each layer is unpacked once, keyed by
// diff id; loading an image again unpacks nothing. The archive's images and
// their tags appear together, in one transaction, after everything they
// need is on disk; a load that fails or is killed leaves none of them
// visible. A tag that pointed at another image moves; the other image
// stays, as docker does.
//
// In an OCI layout the tag is the io.containerd.image.name annotation, or
// org.opencontainers.image.ref.name when that is a full reference
// ("busybox:latest"); a bare tag like "latest" names no repository and is
// ignored (containerd does the same). From a multi-platform index, the
// image for the store's platform (WithPlatform) is taken.
//
// Errors: a missing file is errdefs.ErrNotFound; a malformed, truncated or
// hostile archive (bad digest, layer escaping its directory) is
// errdefs.ErrInvalid; a full disk or a cancelled ctx errdefs.ErrUnavailable.
func (s *Store) Load(ctx context.Context, path string) ([]*Image, error) {
	loaded, err := s.LoadTagged(ctx, path)
	if err != nil {
		return nil, err
	}
	out := make([]*Image, len(loaded))
	for i, l := range loaded {
		out[i] = l.Image
	}
	return out, nil
}

// LoadedImage is an image Load stored and the tags the archive gave it
// (its RepoTags are all it has now): what docker load reports.
type LoadedImage struct {
	*Image
	Tags []string // familiar, in the archive's order
}

// LoadTagged is Load that also says which tags each image got from the
// archive.
func (s *Store) LoadTagged(ctx context.Context, path string) ([]LoadedImage, error) {
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return nil, s.errClosed()
	}
	imgs, err := s.load(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return imgs, nil
}

func (s *Store) load(ctx context.Context, path string) ([]LoadedImage, error) {
	s.gc.RLock()
	defer s.gc.RUnlock()
	a, err := openArchive(ctx, path, s.tmpDir())
	if err != nil {
		return nil, err
	}
	defer a.Close()
	pending, err := a.images(s.platform)
	if err != nil {
		return nil, err
	}
	var recs []*record
	tags := map[string]string{}
	named := map[string][]string{}
	layers := map[string]int64{}
	for _, p := range pending {
		rec, err := s.prepare(ctx, a, p, layers)
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec)
		for _, t := range p.tags {
			tags[refKey(t)] = rec.ID
			named[rec.ID] = append(named[rec.ID], Familiar(t))
		}
	}
	if err := s.commit(recs, tags, layers); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []LoadedImage
	seen := map[string]bool{}
	for _, rec := range recs {
		if !seen[rec.ID] {
			seen[rec.ID] = true
			out = append(out, LoadedImage{Image: s.image(rec.ID), Tags: named[rec.ID]})
		}
	}
	return out, nil
}

// tmpDir is where work in progress goes.
func (s *Store) tmpDir() string { return filepath.Join(s.root, "tmp") }

// prepare stores an image's blobs and unpacks its layers, and returns the
// record to commit; layers gets the unpacked size of each layer.
func (s *Store) prepare(ctx context.Context, a *archive, p *pendingImage, layers map[string]int64) (*record, error) {
	if _, _, err := s.putBlob(ctx, bytes.NewReader(p.config), p.configID); err != nil {
		return nil, err
	}
	rec := &record{ID: p.configID.String(), Config: p.config}
	manifest := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Size: int64(len(p.config)), Digest: p.configID},
	}
	for _, l := range p.layers {
		r, err := a.open(l.file)
		if err != nil {
			return nil, err
		}
		if l.size >= 0 && r.Size() != l.size {
			return nil, errdefs.Invalid("layer blob %s: %d bytes in the archive, %d in the manifest", l.file, r.Size(), l.size)
		}
		head := make([]byte, 4)
		n, _ := r.ReadAt(head, 0)
		blob, size, err := s.putBlob(ctx, r, l.digest)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", l.file, err)
		}
		usize, err := s.ensureLayer(ctx, l.diffID, blob)
		if err != nil {
			return nil, err
		}
		layers[l.diffID.String()] = usize
		rec.Layers = append(rec.Layers, l.diffID.String())
		rec.Blobs = append(rec.Blobs, blob.String())
		rec.Size += usize
		manifest.Layers = append(manifest.Layers, v1.Descriptor{MediaType: compressionOf(head[:n]), Size: size, Digest: blob})
	}
	if p.manifest == nil {
		b, err := json.Marshal(manifest)
		if err != nil {
			return nil, errdefs.Invalid("manifest of %s: %w", rec.ID, err)
		}
		p.manifest = b
	}
	digest, _, err := s.putBlob(ctx, bytes.NewReader(p.manifest), v1.Hash{})
	if err != nil {
		return nil, err
	}
	rec.Manifest = p.manifest
	rec.ManifestDigest = digest.String()
	return rec, nil
}
