package imagestore

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/enginefs/enginefs/errdefs"
)

// Save writes the images refs name (anything Get accepts) to the file at
// path as one archive that is both a docker-save archive (manifest.json
// with RepoTags) and an OCI image layout (oci-layout, index.json, blobs),
// as docker 25 and later write: docker load, podman, skopeo
// (docker-archive: and oci-archive:) and Load read it. An image named by
// a tag carries that tag (RepoTags, and the io.containerd.image.name and
// org.opencontainers.image.ref.name annotations); one named by id carries
// none. Blobs are written as stored, so digests are kept.
//
// path must be absolute and its directory exist; the file appears
// complete or not at all (written beside it and renamed). Errors: an
// unknown ref errdefs.ErrNotFound; a relative path or no refs
// errdefs.ErrInvalid.
func (s *Store) Save(ctx context.Context, refs []string, path string) error {
	if len(refs) == 0 {
		return errdefs.Invalid("save: no image named")
	}
	if !filepath.IsAbs(path) {
		return errdefs.Invalid("save: path %q is not absolute", path)
	}
	s.gc.RLock()
	defer s.gc.RUnlock()
	type saved struct {
		rec record
		tag *name.Tag
	}
	var imgs []saved
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return s.errClosed()
	}
	for _, ref := range refs {
		id, err := s.resolve(ref)
		if err != nil {
			s.mu.RUnlock()
			return fmt.Errorf("save: %w", err)
		}
		sv := saved{rec: s.images[id].rec}
		if r, err := ParseReference(ref); err == nil {
			if t, ok := r.(name.Tag); ok && s.refs[refKey(t)] == id {
				sv.tag = &t
			}
		}
		imgs = append(imgs, sv)
	}
	s.mu.RUnlock()

	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return classify(err, "save: %w")
	}
	defer func() {
		f.Close()
		os.Remove(f.Name()) // a no-op once renamed
	}()
	tw := tar.NewWriter(f)
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}); err != nil {
			return classify(err, "save: %w")
		}
	}
	written := map[string]bool{}
	var manifest tarball.Manifest
	index := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	for _, sv := range imgs {
		m, err := v1.ParseManifest(bytes.NewReader(sv.rec.Manifest))
		if err != nil {
			return errdefs.Invalid("save: image %s: manifest: %w", sv.rec.ID, err)
		}
		blobs := []v1.Hash{m.Config.Digest}
		entry := tarball.Descriptor{Config: "blobs/sha256/" + m.Config.Digest.Hex}
		for _, l := range m.Layers {
			blobs = append(blobs, l.Digest)
			entry.Layers = append(entry.Layers, "blobs/sha256/"+l.Digest.Hex)
		}
		mdigest, err := v1.NewHash(sv.rec.ManifestDigest)
		if err != nil {
			return errdefs.Invalid("save: image %s: %w", sv.rec.ID, err)
		}
		blobs = append(blobs, mdigest)
		for _, h := range blobs {
			if written[h.String()] {
				continue
			}
			if err := s.tarBlob(ctx, tw, h); err != nil {
				return err
			}
			written[h.String()] = true
		}
		mt := m.MediaType
		if mt == "" {
			mt = types.OCIManifestSchema1
		}
		desc := v1.Descriptor{MediaType: mt, Size: int64(len(sv.rec.Manifest)), Digest: mdigest}
		if sv.tag != nil {
			entry.RepoTags = []string{Familiar(*sv.tag)}
			desc.Annotations = map[string]string{
				annotationContainerName: sv.tag.Name(),
				annotationRefName:       sv.tag.TagStr(),
			}
		}
		manifest = append(manifest, entry)
		index.Manifests = append(index.Manifests, desc)
	}
	for _, doc := range []struct {
		name string
		v    any
	}{
		{"manifest.json", manifest},
		{"index.json", index},
		{"oci-layout", map[string]string{"imageLayoutVersion": "1.0.0"}},
	} {
		b, err := json.Marshal(doc.v)
		if err != nil {
			return errdefs.Invalid("save: %s: %w", doc.name, err)
		}
		if err := tw.WriteHeader(fileHeader(doc.name, int64(len(b)))); err != nil {
			return classify(err, "save: %w")
		}
		if _, err := tw.Write(b); err != nil {
			return classify(err, "save: %w")
		}
	}
	if err := tw.Close(); err != nil {
		return classify(err, "save: %w")
	}
	if err := f.Sync(); err != nil {
		return classify(err, "save: %w")
	}
	if err := f.Chmod(0o644); err != nil {
		return classify(err, "save: %w")
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return classify(err, "save: %w")
	}
	return nil
}

// tarBlob writes the blob h as blobs/sha256/<hex>.
func (s *Store) tarBlob(ctx context.Context, tw *tar.Writer, h v1.Hash) error {
	f, err := os.Open(s.blobPath(h))
	if err != nil {
		return classify(err, "save: blob %s: %w", h)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return classify(err, "save: blob %s: %w", h)
	}
	if err := tw.WriteHeader(fileHeader("blobs/sha256/"+h.Hex, fi.Size())); err != nil {
		return classify(err, "save: %w")
	}
	if _, err := io.Copy(tw, withContext(ctx, f)); err != nil {
		return classify(err, "save: blob %s: %w", h)
	}
	return nil
}

// fileHeader is the tar header of an archive member.
func fileHeader(name string, size int64) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
}
