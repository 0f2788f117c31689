package imagestore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
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
// hostile archive (bad digest, layer escaping its directory, a layer or
// archive over its cap: WithMaxLayerSize, WithMaxArchiveSize) is
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
		err = s.logRefusal("image archive "+path, "archive", err)
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return imgs, nil
}

func (s *Store) load(ctx context.Context, path string) ([]LoadedImage, error) {
	s.gc.RLock()
	defer s.gc.RUnlock()
	a, err := openArchive(ctx, path, s.tmpDir(), archiveLimits{archive: s.maxArchive, member: s.maxLayer})
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
	// Configs and manifests go last: a load refused for a layer leaves
	// no blob of its own behind.
	for i, p := range pending {
		if _, _, err := s.putBlob(ctx, bytes.NewReader(p.config), p.configID); err != nil {
			return nil, err
		}
		if _, _, err := s.putBlob(ctx, bytes.NewReader(recs[i].Manifest), v1.Hash{}); err != nil {
			return nil, err
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

// prepare stores an image's layer blobs and unpacks its layers, and
// returns the record to commit (its config and manifest blobs are for the
// caller to store); layers gets the unpacked size of each layer.
func (s *Store) prepare(ctx context.Context, a *archive, p *pendingImage, layers map[string]int64) (*record, error) {
	rec := &record{ID: p.configID.String(), Config: p.config}
	manifest := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Size: int64(len(p.config)), Digest: p.configID},
	}
	for _, l := range p.layers {
		desc, usize, err := s.loadLayer(ctx, a, l)
		if err != nil {
			return nil, err
		}
		layers[l.diffID.String()] = usize
		rec.Layers = append(rec.Layers, l.diffID.String())
		rec.Blobs = append(rec.Blobs, desc.Digest.String())
		rec.Size += usize
		manifest.Layers = append(manifest.Layers, desc)
	}
	if p.manifest == nil {
		b, err := json.Marshal(manifest)
		if err != nil {
			return nil, errdefs.Invalid("manifest of %s: %w", rec.ID, err)
		}
		p.manifest = b
	}
	rec.Manifest = p.manifest
	rec.ManifestDigest = "sha256:" + sha256Hex(p.manifest)
	return rec, nil
}

// loadLayer makes sure the store has the blob of layer l, as the archive
// has it, and its unpacked content, reading the archive's member once at
// most: it is stored and unpacked in the same pass (streamLayer). It
// returns the blob's descriptor and the layer's unpacked size.
func (s *Store) loadLayer(ctx context.Context, a *archive, l pendingLayer) (v1.Descriptor, int64, error) {
	what := fmt.Sprintf("layer %s (%s)", l.diffID, l.file)
	r, size, err := a.open(l.file)
	if err != nil {
		return v1.Descriptor{}, 0, err
	}
	if l.size >= 0 && size != l.size {
		return v1.Descriptor{}, 0, errdefs.Invalid("layer blob %s: %d bytes in the archive, %d in the manifest", l.file, size, l.size)
	}
	if size > s.maxLayer {
		return v1.Descriptor{}, 0, tooLarge(what, "is", s.maxLayer, flagMaxLayer)
	}
	br := bufio.NewReaderSize(r, 1<<16)
	head, _ := br.Peek(4)
	media := compressionOf(head)
	s.mu.RLock()
	usize, unpacked := s.layers[l.diffID.String()]
	s.mu.RUnlock()
	if unpacked && l.digest != (v1.Hash{}) {
		if d, ok := describeBlob(s.blobPath(l.digest), l.digest); ok {
			return d, usize, nil
		}
	}
	var desc v1.Descriptor
	usize, err = s.layerOnce(ctx, l.diffID, func(ctx context.Context) (int64, error) {
		if exists(s.layerDir(l.diffID)) {
			return dirSize(s.layerDir(l.diffID)) // left by a dead load: complete
		}
		t, err := s.streamLayer(ctx, br, what, nil)
		if err != nil {
			return 0, err
		}
		defer t.cleanup()
		if err := s.keep(t, l.digest, l.diffID, what); err != nil {
			return 0, err
		}
		desc = v1.Descriptor{MediaType: media, Size: t.size, Digest: t.digest}
		return t.stats.Size, nil
	})
	if err != nil {
		return v1.Descriptor{}, 0, err
	}
	if desc.Digest != (v1.Hash{}) {
		return desc, usize, nil
	}
	// The layer was unpacked already (or by another load meanwhile):
	// only the blob is still to store.
	digest, n, err := s.putBlob(ctx, br, l.digest)
	if err != nil {
		return v1.Descriptor{}, 0, fmt.Errorf("%s: %w", what, err)
	}
	return v1.Descriptor{MediaType: media, Size: n, Digest: digest}, usize, nil
}

// describeBlob returns the layer descriptor of the stored blob at p.
func describeBlob(p string, h v1.Hash) (v1.Descriptor, bool) {
	f, err := os.Open(p)
	if err != nil {
		return v1.Descriptor{}, false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return v1.Descriptor{}, false
	}
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	return v1.Descriptor{MediaType: compressionOf(head[:n]), Size: fi.Size(), Digest: h}, true
}
