package imagestore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/enginefs/enginefs/errdefs"
)

// ImageSpec is what Create makes an image of: a parent, changes that
// become one new layer, and the new image's config.
//
// The changes are exactly one of Dir or Tar, or neither for no layer.
type ImageSpec struct {
	// Parent is the id (or any name Get takes) of the image whose layers
	// come first; it is recorded as the new image's parent. "" for none:
	// FROM scratch, docker import.
	Parent string
	// Dir is a directory in overlayfs upper-directory form (a
	// container's scratch/upper): whiteouts are 0/0 character devices,
	// an opaque directory has trusted.overlay.opaque=y. Nothing may
	// write to it while Create reads it.
	Dir string
	// Exclude lists paths in Dir, relative to it (a leading "/" is
	// ignored), to leave out of the layer: the mount points a runtime
	// made in a container's root file system (an /etc/hosts, a /proc
	// its image lacks), which docker keeps in its init layer. A
	// directory among them is left out only when nothing below it is
	// kept. Ignored for Tar.
	Exclude []string
	// IDMap, when not nil, maps the owners of Dir's nodes to the layer's
	// (Dir was written by a container in a user namespace).
	IDMap func(uid, gid int) (int, int)
	// Tar is a layer tar, plain or gzip-, zstd- or bzip2-compressed (the
	// body of docker import). Create reads it to its end, or until it
	// fails.
	Tar io.Reader
	// Config returns the new image's config JSON, given the layer made:
	// nil when there are no changes (no Dir or Tar, or one with no
	// entries), and then no layer is added, as docker's empty_layer. Its
	// rootfs.diff_ids must be the parent's followed by the new layer's,
	// if any.
	Config func(layer *Layer) ([]byte, error)
	// Tags are references to point at the new image ("x" is
	// "x:latest"); one that pointed elsewhere moves, as with Load.
	Tags []string
	// CacheKey is an opaque build-cache key recorded with the image
	// (see Cached); "" for none.
	CacheKey string
}

// Create makes an image of spec, for docker build, commit and import,
// and returns it.
//
// A Dir is written as docker writes a layer: every node with its mode,
// owner, whole-second modification time and extended attributes (not
// trusted.overlay.* nor security.selinux), hard links within the layer
// as links, whiteouts as .wh.NAME files and opaque directories with a
// .wh..wh..opq entry, each directory's names in byte order; so the same
// tree always gives the same diff id. The layer tar (a Dir's, or Tar
// decompressed) is read once: its sha256 is the diff id, its gzip
// compression is stored as a blob, which is then unpacked and verified
// like any pulled layer (a layer already unpacked is reused). The image's
// manifest is an OCI manifest of the parent's layer blobs (docker layer
// media types turned into their OCI equivalents) and the new one.
//
// The image and its tags appear in one transaction once everything they
// need is on disk; on failure nothing new is visible (a blob or layer
// directory left behind is collected by the next Prune, which waits for
// Create to end). An image with the same config is the same image: it is
// kept as it is, and the tags move to it.
//
// Errors: both Dir and Tar, no Config, a malformed tag, a Tar that is
// not a (supported) layer tar, a Dir holding what a layer cannot express
// (an overlayfs redirect or metacopy), a config that is not JSON or whose
// diff ids do not match the layers errdefs.ErrInvalid; an unknown parent,
// or one removed before the image appears, and a missing Dir
// errdefs.ErrNotFound; a Dir changing while it is read errdefs.ErrBusy; a
// cancelled ctx or a full disk errdefs.ErrUnavailable. Errors from Config
// are returned as they are, wrapped.
func (s *Store) Create(ctx context.Context, spec ImageSpec) (*Image, error) {
	if spec.Dir != "" && spec.Tar != nil {
		return nil, errdefs.Invalid("create image: both a directory and a tar of changes")
	}
	if spec.Config == nil {
		return nil, errdefs.Invalid("create image: no config")
	}
	tags := map[string]string{}
	for _, t := range spec.Tags {
		tag, err := parseTag(t)
		if err != nil {
			return nil, fmt.Errorf("create image: %w", err)
		}
		tags[refKey(tag)] = ""
	}
	if err := ctx.Err(); err != nil {
		return nil, classify(err, "create image: %w")
	}
	s.gc.RLock()
	defer s.gc.RUnlock()

	parent, err := s.parentRecord(spec.Parent)
	if err != nil {
		return nil, err
	}
	var layer *Layer
	switch {
	case spec.Dir != "":
		layer, err = s.layerFromDir(ctx, spec.Dir, spec.Exclude, spec.IDMap)
	case spec.Tar != nil:
		layer, err = s.layerFromTar(ctx, spec.Tar)
	}
	if err != nil {
		if spec.Tar != nil {
			err = s.logRefusal("image import", "archive", err)
		} else {
			err = s.logRefusal("image of "+spec.Dir, "container", err)
		}
		return nil, fmt.Errorf("create image: %w", err)
	}
	config, err := spec.Config(layer)
	if err != nil {
		return nil, fmt.Errorf("create image: config: %w", err)
	}
	rec, err := s.newRecord(ctx, parent, layer, config)
	if err != nil {
		return nil, fmt.Errorf("create image: %w", err)
	}
	rec.CacheKey = spec.CacheKey
	for k := range tags {
		tags[k] = rec.ID
	}
	layers := map[string]int64{}
	if layer != nil {
		layers[layer.DiffID] = layer.Size
	}
	check := func() error {
		if _, ok := s.images[rec.Parent]; rec.Parent != "" && !ok {
			return errdefs.NotFound("create image: parent image %s was removed", rec.Parent)
		}
		return nil
	}
	if err := s.commitIf(check, []*record{rec}, tags, layers); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, ok := s.images[rec.ID]; !ok { // removed already
		return nil, errdefs.NotFound("No such image: %s", rec.ID)
	}
	return s.image(rec.ID), nil
}

// parentRecord returns a copy of the record of the image ref names, or
// an empty record for "".
func (s *Store) parentRecord(ref string) (record, error) {
	if ref == "" {
		return record{}, nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return record{}, s.errClosed()
	}
	id, err := s.resolve(ref)
	if err != nil {
		return record{}, fmt.Errorf("create image: parent: %w", err)
	}
	return s.images[id].rec, nil
}

// newRecord checks config against the parent's layers and the new one,
// stores it and a manifest, and returns the record of the image.
func (s *Store) newRecord(ctx context.Context, parent record, layer *Layer, config []byte) (*record, error) {
	if !json.Valid(config) {
		return nil, errdefs.Invalid("config is not JSON")
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(config))
	if err != nil {
		return nil, errdefs.Invalid("config: %w", err)
	}
	want := slices.Clone(parent.Layers)
	if layer != nil {
		want = append(want, layer.DiffID)
	}
	got := make([]string, len(cfg.RootFS.DiffIDs))
	for i, d := range cfg.RootFS.DiffIDs {
		got[i] = d.String()
	}
	if !slices.Equal(got, want) {
		return nil, errdefs.Invalid("config: rootfs.diff_ids are %v, want %v (the parent's layers and the new one)", got, want)
	}
	configID, _, err := s.putBlob(ctx, bytes.NewReader(config), v1.Hash{})
	if err != nil {
		return nil, err
	}
	manifest, err := childManifest(parent, v1.Descriptor{MediaType: types.OCIConfigJSON, Size: int64(len(config)), Digest: configID}, layer)
	if err != nil {
		return nil, err
	}
	digest, _, err := s.putBlob(ctx, bytes.NewReader(manifest), v1.Hash{})
	if err != nil {
		return nil, err
	}
	rec := &record{
		ID:             configID.String(),
		ManifestDigest: digest.String(),
		Manifest:       manifest,
		Config:         config,
		Layers:         want,
		Blobs:          slices.Clone(parent.Blobs),
		Size:           parent.Size,
		Parent:         parent.ID,
	}
	if layer != nil {
		rec.Blobs = append(rec.Blobs, layer.Blob)
		rec.Size += layer.Size
	}
	return rec, nil
}

// ociLayerTypes are the OCI media types of docker's layer media types:
// the blobs are the same, and one manifest should not mix the two.
var ociLayerTypes = map[types.MediaType]types.MediaType{
	types.DockerLayer:             types.OCILayer,
	types.DockerUncompressedLayer: types.OCIUncompressedLayer,
	types.DockerForeignLayer:      types.OCIRestrictedLayer,
}

// childManifest writes the OCI manifest of an image made of the parent's
// layer blobs (their descriptors as the parent's manifest gives them,
// docker media types turned into OCI ones) and the new layer, if any.
func childManifest(parent record, config v1.Descriptor, layer *Layer) ([]byte, error) {
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: config, Layers: []v1.Descriptor{}}
	if parent.ID != "" {
		pm, err := v1.ParseManifest(bytes.NewReader(parent.Manifest))
		if err != nil {
			return nil, errdefs.Invalid("parent image %s: manifest: %w", parent.ID, err)
		}
		if len(pm.Layers) != len(parent.Layers) {
			return nil, errdefs.Invalid("parent image %s: its manifest lists %d layers, its config %d", parent.ID, len(pm.Layers), len(parent.Layers))
		}
		for _, d := range pm.Layers {
			if t, ok := ociLayerTypes[d.MediaType]; ok {
				d.MediaType = t
			}
			m.Layers = append(m.Layers, d)
		}
	}
	if layer != nil {
		h, err := v1.NewHash(layer.Blob)
		if err != nil {
			return nil, errdefs.Invalid("layer blob %q: %w", layer.Blob, err)
		}
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.OCILayer, Size: layer.BlobSize, Digest: h})
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, errdefs.Invalid("manifest: %w", err)
	}
	return b, nil
}
