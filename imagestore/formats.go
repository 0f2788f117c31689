package imagestore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// OCI annotations that name an image in an image layout's index.json.
const (
	annotationRefName       = "org.opencontainers.image.ref.name"
	annotationContainerName = "io.containerd.image.name"
)

// pendingImage is an image read from an archive's metadata, before its
// blobs are stored.
type pendingImage struct {
	config   []byte
	configID v1.Hash // digest of config: the image id
	cfg      *v1.ConfigFile
	manifest []byte // nil for docker-save: Load writes one
	layers   []pendingLayer
	tags     []name.Tag
}

// pendingLayer is a layer blob in an archive.
type pendingLayer struct {
	file   string  // member name
	digest v1.Hash // the blob's digest when known beforehand, else zero
	size   int64   // the blob's size when known beforehand, else -1
	diffID v1.Hash // from the config
}

// images reads the archive's metadata: manifest.json for a docker-save
// archive (docker 25 and later write an OCI layout beside it: manifest.json
// wins, as in docker), else oci-layout and index.json. Anything else is
// errdefs.ErrInvalid.
func (a *archive) images(platform v1.Platform) ([]*pendingImage, error) {
	var imgs []*pendingImage
	var err error
	switch {
	case a.has("manifest.json"):
		imgs, err = a.dockerImages()
		if err == nil && a.has("oci-layout") && a.has("index.json") {
			// Docker 25 and later write an OCI layout beside
			// manifest.json: keep its manifests, so digests survive.
			if oci, oerr := a.ociImages(platform); oerr == nil {
				for _, img := range imgs {
					for _, o := range oci {
						if o.configID == img.configID && len(o.layers) == len(img.layers) {
							img.manifest = o.manifest
							break
						}
					}
				}
			}
		}
	case a.has("oci-layout") && a.has("index.json"):
		imgs, err = a.ociImages(platform)
	default:
		return nil, errdefs.Invalid("not an image archive: no manifest.json (docker save) or oci-layout and index.json (OCI)%s", a.truncated())
	}
	if err != nil {
		return nil, err
	}
	if len(imgs) == 0 {
		return nil, errdefs.Invalid("the archive holds no image")
	}
	return imgs, nil
}

// dockerImages reads a docker-save archive.
func (a *archive) dockerImages() ([]*pendingImage, error) {
	b, err := a.readFile("manifest.json")
	if err != nil {
		return nil, err
	}
	var m tarball.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, errdefs.Invalid("manifest.json: %w", err)
	}
	var imgs []*pendingImage
	for i, d := range m {
		img, err := a.readConfig(d.Config, v1.Hash{})
		if err != nil {
			return nil, err
		}
		if len(d.Layers) != len(img.cfg.RootFS.DiffIDs) {
			return nil, errdefs.Invalid("manifest.json image %d: %d layers but its config lists %d diff ids", i, len(d.Layers), len(img.cfg.RootFS.DiffIDs))
		}
		for j, l := range d.Layers {
			pl := pendingLayer{file: archiveName(l), size: -1, diffID: img.cfg.RootFS.DiffIDs[j]}
			if hex := digestInName(pl.file); hex != "" && strings.HasPrefix(pl.file, "blobs/") {
				pl.digest = v1.Hash{Algorithm: "sha256", Hex: hex}
			}
			img.layers = append(img.layers, pl)
		}
		for _, t := range d.RepoTags {
			tag, err := parseTag(t)
			if err != nil {
				return nil, fmt.Errorf("manifest.json RepoTags: %w", err)
			}
			img.tags = append(img.tags, tag)
		}
		imgs = append(imgs, img)
	}
	return imgs, nil
}

// readConfig reads and checks an image config; want is its digest when
// known (OCI), else the digest its member name claims is checked, if any.
func (a *archive) readConfig(file string, want v1.Hash) (*pendingImage, error) {
	b, err := a.readFile(file)
	if err != nil {
		return nil, err
	}
	if err := checkNamedDigest(archiveName(file), b); err != nil {
		return nil, err
	}
	id := v1.Hash{Algorithm: "sha256", Hex: sha256Hex(b)}
	if want != (v1.Hash{}) && want != id {
		return nil, errdefs.Invalid("config %s: content has digest %s", want, id)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(b))
	if err != nil {
		return nil, errdefs.Invalid("config %s: %w", id, err)
	}
	for _, d := range cfg.RootFS.DiffIDs {
		if d.Algorithm != "sha256" || len(d.Hex) != 64 || !isHex(d.Hex) {
			return nil, errdefs.Invalid("config %s: bad diff id %q", id, d)
		}
	}
	return &pendingImage{config: b, configID: id, cfg: cfg}, nil
}

// readBlob reads a small blob of an OCI layout and checks its digest.
func (a *archive) readBlob(d v1.Descriptor) ([]byte, error) {
	if d.Digest.Algorithm != "sha256" || !isHex(d.Digest.Hex) {
		return nil, errdefs.Invalid("unsupported digest %q", d.Digest)
	}
	b, err := a.readFile("blobs/sha256/" + d.Digest.Hex)
	if err != nil {
		return nil, err
	}
	if got := sha256Hex(b); got != d.Digest.Hex {
		return nil, errdefs.Invalid("blob %s: content has digest sha256:%s", d.Digest, got)
	}
	return b, nil
}

// ociImages reads an OCI image layout: every image index.json lists, and
// from each (nested) index the image for platform.
func (a *archive) ociImages(platform v1.Platform) ([]*pendingImage, error) {
	b, err := a.readFile("index.json")
	if err != nil {
		return nil, err
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(b))
	if err != nil {
		return nil, errdefs.Invalid("index.json: %w", err)
	}
	var imgs []*pendingImage
	for _, d := range idx.Manifests {
		img, err := a.ociDescriptor(d, platform, 0)
		if err != nil {
			return nil, err
		}
		if img == nil {
			continue
		}
		tag, err := ociTag(d.Annotations)
		if err != nil {
			return nil, err
		}
		if tag != nil {
			img.tags = append(img.tags, *tag)
		}
		imgs = append(imgs, img)
	}
	return imgs, nil
}

// ociTag returns the tag an index.json entry's annotations give the image:
// io.containerd.image.name (a full reference) if set, else
// org.opencontainers.image.ref.name when it is a reference with a
// repository ("busybox:latest", "example.com/x/y:v1"). A ref.name that is
// only a tag ("latest", "v1"), or a bare word, names no repository and is
// ignored, as containerd does; so is a digest reference.
func ociTag(ann map[string]string) (*name.Tag, error) {
	s := ann[annotationContainerName]
	if s == "" {
		s = ann[annotationRefName]
		if !strings.ContainsAny(s, ":/") {
			return nil, nil
		}
	}
	if s == "" || strings.Contains(s, "@") {
		return nil, nil
	}
	tag, err := parseTag(s)
	if err != nil {
		return nil, fmt.Errorf("index.json annotation: %w", err)
	}
	return &tag, nil
}

// ociDescriptor reads the image a descriptor names, choosing from an index
// the manifest for platform. Descriptors of other media types (artifacts,
// attestations) give nil.
func (a *archive) ociDescriptor(d v1.Descriptor, platform v1.Platform, depth int) (*pendingImage, error) {
	if depth > 4 {
		return nil, errdefs.Invalid("index %s: nested too deep", d.Digest)
	}
	switch d.MediaType {
	case types.OCIManifestSchema1, types.DockerManifestSchema2:
		return a.ociImage(d)
	case types.OCIImageIndex, types.DockerManifestList:
	default:
		return nil, nil
	}
	b, err := a.readBlob(d)
	if err != nil {
		return nil, err
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(b))
	if err != nil {
		return nil, errdefs.Invalid("index %s: %w", d.Digest, err)
	}
	for _, c := range idx.Manifests {
		if c.Platform != nil && c.Platform.OS == platform.OS && c.Platform.Architecture == platform.Architecture &&
			(platform.Variant == "" || c.Platform.Variant == platform.Variant) {
			return a.ociDescriptor(c, platform, depth+1)
		}
	}
	return nil, errdefs.Invalid("index %s has no image for %s", d.Digest, platform)
}

// ociImage reads an image manifest and its config.
func (a *archive) ociImage(d v1.Descriptor) (*pendingImage, error) {
	mb, err := a.readBlob(d)
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(mb))
	if err != nil {
		return nil, errdefs.Invalid("manifest %s: %w", d.Digest, err)
	}
	if c := m.Config.Digest; c.Algorithm != "sha256" || !isHex(c.Hex) || len(c.Hex) != 64 {
		return nil, errdefs.Invalid("manifest %s: unsupported config digest %q", d.Digest, c)
	}
	img, err := a.readConfig("blobs/sha256/"+m.Config.Digest.Hex, m.Config.Digest)
	if err != nil {
		return nil, err
	}
	img.manifest = mb
	if len(m.Layers) != len(img.cfg.RootFS.DiffIDs) {
		return nil, errdefs.Invalid("manifest %s: %d layers but its config lists %d diff ids", d.Digest, len(m.Layers), len(img.cfg.RootFS.DiffIDs))
	}
	for i, l := range m.Layers {
		if l.Digest.Algorithm != "sha256" || !isHex(l.Digest.Hex) || len(l.Digest.Hex) != 64 {
			return nil, errdefs.Invalid("manifest %s: unsupported layer digest %q", d.Digest, l.Digest)
		}
		img.layers = append(img.layers, pendingLayer{
			file:   "blobs/sha256/" + l.Digest.Hex,
			digest: l.Digest,
			size:   l.Size,
			diffID: img.cfg.RootFS.DiffIDs[i],
		})
	}
	return img, nil
}
