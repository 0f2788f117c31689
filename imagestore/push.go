package imagestore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/enginefs/enginefs/errdefs"
)

// Push sends the image tagged ref to the registry ref names, under that
// tag, as it is stored: the same manifest, config and layer blobs, so its
// digest on the registry is its ManifestDigest. Blobs the registry has are
// not sent again. progress gets docker's push messages ("Preparing",
// "Pushing" with byte counts, "Pushed", "Layer already exists", and the
// final "TAG: digest: sha256:... size: N"), and an error message if it
// fails. It returns the manifest digest.
//
// Errors: a malformed or digest ref errdefs.ErrInvalid; no local image
// tagged ref errdefs.ErrNotFound; refused credentials
// errdefs.ErrPermission; an unreachable registry errdefs.ErrUnavailable.
func (s *Store) Push(ctx context.Context, ref string, progress ProgressFunc) (string, error) {
	return s.PushWith(ctx, ref, PushOptions{Progress: progress})
}

// PushOptions are the choices of one PushWith.
type PushOptions struct {
	// Progress receives docker's push messages; nil: none.
	Progress ProgressFunc
	// Auth holds the credentials of this push (docker's X-Registry-Auth);
	// nil or empty: those of the credentials file.
	Auth *authn.AuthConfig
}

// PushWith is Push with options: the same, with the credentials of
// opts.Auth when it has some.
func (s *Store) PushWith(ctx context.Context, ref string, opts PushOptions) (string, error) {
	rep := newReporter(opts.Progress)
	digest, err := s.push(ctx, ref, opts.Auth, rep)
	if err != nil {
		rep.send(Progress{Error: err.Error(), ErrorDetail: &ErrorDetail{Message: err.Error()}})
		return "", err
	}
	return digest, nil
}

func (s *Store) push(ctx context.Context, ref string, auth *authn.AuthConfig, rep *reporter) (string, error) {
	tag, err := parseTag(ref)
	if err != nil {
		return "", err
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return "", s.errClosed()
	}
	id, ok := s.refs[refKey(tag)]
	var rec record
	if ok {
		rec = s.images[id].rec
	}
	s.mu.RUnlock()
	if !ok {
		return "", errdefs.NotFound("An image does not exist locally with the tag: %s", Familiar(tag.Context().Tag(tag.TagStr())))
	}
	rr, err := s.regs.reference(tag)
	if err != nil {
		return "", err
	}
	ropts, err := s.remoteOptions(ctx, tag.Context().RegistryStr(), auth)
	if err != nil {
		return "", err
	}
	repo := tag.Context()
	rep.status("", "The push refers to repository ["+pushName(repo)+"]")
	s.gc.RLock()
	defer s.gc.RUnlock()
	img, err := s.storedImage(rec, rep)
	if err != nil {
		return "", err
	}
	for _, b := range rec.Blobs {
		rep.status(shortID(b), "Preparing")
	}
	if err := remote.Write(rr, img, ropts...); err != nil {
		return "", registryError(err, "push %s", Familiar(tag))
	}
	for _, b := range rec.Blobs {
		if !img.(*pushImage).core.sent(b) {
			rep.status(shortID(b), "Layer already exists")
		}
	}
	rep.status("", fmt.Sprintf("%s: digest: %s size: %d", tag.TagStr(), rec.ManifestDigest, len(rec.Manifest)))
	pushed := rec
	pushed.RepoDigests = []string{repo.Digest(rec.ManifestDigest).Name()}
	if err := s.commit([]*record{&pushed}, nil, nil); err != nil {
		return "", err
	}
	return rec.ManifestDigest, nil
}

// pushName is the repository as docker names it in "The push refers to
// repository [...]": docker.io/library/busybox, 127.0.0.1:5000/x.
func pushName(r name.Repository) string {
	if r.RegistryStr() == name.DefaultRegistry {
		return "docker.io/" + r.RepositoryStr()
	}
	return r.Name()
}

// pushImage is a stored image as go-containerregistry's v1.Image, read
// from the store's blobs.
type pushImage struct {
	v1.Image
	core *storeImageCore
}

// storedImage returns the stored image of rec as a v1.Image whose layer
// reads report to rep.
func (s *Store) storedImage(rec record, rep *reporter) (v1.Image, error) {
	core := &storeImageCore{s: s, rec: rec, rep: rep, opened: map[string]bool{}}
	m, err := v1.ParseManifest(bytes.NewReader(rec.Manifest))
	if err != nil {
		return nil, errdefs.Invalid("image %s: manifest: %w", rec.ID, err)
	}
	core.manifest = m
	img, err := partial.CompressedToImage(core)
	if err != nil {
		return nil, errdefs.Invalid("image %s: %w", rec.ID, err)
	}
	return &pushImage{Image: img, core: core}, nil
}

// storeImageCore implements partial.CompressedImageCore over the store.
type storeImageCore struct {
	s        *Store
	rec      record
	manifest *v1.Manifest
	rep      *reporter

	mu     sync.Mutex
	opened map[string]bool // layer blobs read
}

var _ partial.CompressedImageCore = (*storeImageCore)(nil)

func (c *storeImageCore) RawConfigFile() ([]byte, error) { return c.rec.Config, nil }
func (c *storeImageCore) RawManifest() ([]byte, error)   { return c.rec.Manifest, nil }

func (c *storeImageCore) MediaType() (types.MediaType, error) {
	if c.manifest.MediaType != "" {
		return c.manifest.MediaType, nil
	}
	return types.OCIManifestSchema1, nil
}

func (c *storeImageCore) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == c.manifest.Config.Digest {
		return &storeBlob{c: c, desc: c.manifest.Config}, nil
	}
	for _, l := range c.manifest.Layers {
		if l.Digest == h {
			return &storeBlob{c: c, desc: l, layer: true}, nil
		}
	}
	return nil, errdefs.NotFound("image %s has no blob %s", c.rec.ID, h)
}

// sent reports whether the layer blob with digest d was read (pushed).
func (c *storeImageCore) sent(d string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.opened[d]
}

// storeBlob is a blob of a stored image.
type storeBlob struct {
	c     *storeImageCore
	desc  v1.Descriptor
	layer bool
}

func (b *storeBlob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *storeBlob) Size() (int64, error)                { return b.desc.Size, nil }
func (b *storeBlob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }

func (b *storeBlob) Compressed() (io.ReadCloser, error) {
	f, err := os.Open(b.c.s.blobPath(b.desc.Digest))
	if err != nil {
		return nil, classify(err, "blob %s: %w", b.desc.Digest)
	}
	if !b.layer {
		return f, nil
	}
	d := b.desc.Digest.String()
	b.c.mu.Lock()
	b.c.opened[d] = true
	b.c.mu.Unlock()
	cnt := b.c.rep.counter(shortID(d), "Pushing", b.desc.Size)
	return &pushReader{f: f, pr: progressReader{r: f, c: cnt}}, nil
}

// pushReader reports a layer's upload and says "Pushed" at its end.
type pushReader struct {
	f    *os.File
	pr   progressReader
	once sync.Once
}

func (r *pushReader) Read(p []byte) (int, error) {
	n, err := r.pr.Read(p)
	if err == io.EOF {
		r.once.Do(func() {
			r.pr.c.done()
			r.pr.c.r.status(r.pr.c.id, "Pushed")
		})
	}
	return n, err
}

func (r *pushReader) Close() error { return r.f.Close() }
