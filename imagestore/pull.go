package imagestore

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"

	"github.com/enginefs/enginefs/errdefs"
)

// PullOptions are the choices of one Pull.
type PullOptions struct {
	// Platform picks the image from a multi-platform index. Nil: the
	// store's (WithPlatform), the host's by default.
	Platform *v1.Platform
	// Progress receives docker's progress messages; nil: none.
	Progress ProgressFunc
	// Auth holds the credentials of this pull (docker's X-Registry-Auth);
	// nil or empty: those of the credentials file.
	Auth *authn.AuthConfig
}

// PullResult says what a Pull got.
type PullResult struct {
	Image    *Image
	Ref      string // the reference pulled, familiar ("busybox:latest")
	Digest   string // the digest the reference resolved to (an index's, for a multi-platform image)
	UpToDate bool   // nothing was downloaded: the reference named the image it names now
}

// Pull fetches the image ref names from its registry ("busybox" is
// docker.io/library/busybox:latest; "127.0.0.1:5000/x/y@sha256:<hex>" is
// by digest) and stores it, tagged ref when ref is a tag. Docker v2 and
// OCI manifests are understood; from a manifest list or an OCI index the
// image for opts.Platform is taken. Every blob is checked against its
// digest and every layer against its diff id. Layers are fetched several
// at a time (WithPullJobs), each unpacked as it arrives; a layer or blob
// the store has is not fetched again. The image and its tag appear in one
// transaction once everything is on disk: a pull that fails or is killed
// leaves nothing visible, and its complete blobs and layers are reused by
// the next pull (or collected by Prune).
//
// opts.Progress gets docker's messages as the pull goes ("Pulling fs
// layer", "Downloading" with byte counts, "Pull complete", the final
// "Digest: ..." and "Status: ..."), and an error message if it fails.
//
// Errors: a malformed reference errdefs.ErrInvalid; an unknown repository
// or tag errdefs.ErrNotFound; refused credentials errdefs.ErrPermission;
// a registry that cannot be reached errdefs.ErrUnavailable; content that
// does not match its digest errdefs.ErrInvalid.
func (s *Store) Pull(ctx context.Context, ref string, opts PullOptions) (*PullResult, error) {
	rep := newReporter(opts.Progress)
	res, err := s.pullRef(ctx, ref, opts, rep)
	if err != nil {
		err = s.logRefusal("image "+ref, registryOf(ref), err)
		rep.send(Progress{Error: err.Error(), ErrorDetail: &ErrorDetail{Message: err.Error()}})
		return nil, err
	}
	rep.status("", "Digest: "+res.Digest)
	if res.UpToDate {
		rep.status("", "Status: Image is up to date for "+res.Ref)
	} else {
		rep.status("", "Status: Downloaded newer image for "+res.Ref)
	}
	return res, nil
}

func (s *Store) pullRef(ctx context.Context, ref string, opts PullOptions, rep *reporter) (*PullResult, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return nil, s.errClosed()
	}
	platform := s.platform
	if opts.Platform != nil {
		platform = *opts.Platform
	}
	rr, err := s.regs.reference(r)
	if err != nil {
		return nil, err
	}
	ropts, err := s.remoteOptions(ctx, r.Context().RegistryStr(), opts.Auth)
	if err != nil {
		return nil, err
	}
	familiar := Familiar(r)
	id := ""
	switch r := r.(type) {
	case name.Tag:
		id = r.TagStr()
	case name.Digest:
		id = r.DigestStr()
	}
	rep.status(id, "Pulling from "+r.Context().RepositoryStr())

	s.gc.RLock()
	defer s.gc.RUnlock()
	desc, err := remote.Get(rr, ropts...)
	if err != nil {
		return nil, registryError(err, "pull %s", familiar)
	}
	img, err := pickImage(desc, platform, opts.Platform != nil)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", familiar, err)
	}
	p, err := s.fetchImage(ctx, img, rep)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", familiar, err)
	}
	p.rec.RepoDigests = []string{r.Context().Digest(desc.Digest.String()).Name()}
	tags := map[string]string{}
	s.mu.RLock()
	prev, hadTag := "", false
	if t, ok := r.(name.Tag); ok {
		prev, hadTag = s.refs[refKey(t)]
		tags[refKey(t)] = p.rec.ID
	}
	_, hadImage := s.images[p.rec.ID]
	s.mu.RUnlock()
	if err := s.commit([]*record{p.rec}, tags, p.layers); err != nil {
		return nil, err
	}
	upToDate := hadImage && p.fetched == 0 && (!hadTag && len(tags) == 0 || hadTag && prev == p.rec.ID)
	s.mu.RLock()
	out := s.image(p.rec.ID)
	s.mu.RUnlock()
	return &PullResult{Image: out, Ref: familiar, Digest: desc.Digest.String(), UpToDate: upToDate}, nil
}

// pickImage returns the image a descriptor names: itself, or from an index
// the image for platform. With explicit set, an image whose config names
// another platform is refused, as docker does for --platform.
func pickImage(desc *remote.Descriptor, platform v1.Platform, explicit bool) (v1.Image, error) {
	switch {
	case desc.MediaType.IsSchema1():
		return nil, errdefs.Invalid("manifest %s is docker schema 1, which is not supported", desc.Digest)
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, registryError(err, "index %s", desc.Digest)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, registryError(err, "index %s", desc.Digest)
		}
		for _, m := range im.Manifests {
			if m.Platform != nil && m.MediaType.IsImage() && m.Platform.Satisfies(platform) {
				img, err := idx.Image(m.Digest)
				if err != nil {
					return nil, registryError(err, "image %s", m.Digest)
				}
				return img, nil
			}
		}
		return nil, errdefs.NotFound("no matching manifest for %s in the manifest list entries", platform)
	case !desc.MediaType.IsImage():
		return nil, errdefs.Invalid("%s is a %s, not an image", desc.Digest, desc.MediaType)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, registryError(err, "image %s", desc.Digest)
	}
	if explicit {
		cfg, err := img.ConfigFile()
		if err != nil {
			return nil, registryError(err, "image config")
		}
		if got := cfg.Platform(); got != nil && !got.Satisfies(platform) {
			return nil, errdefs.NotFound("image %s is for %s, not %s", desc.Digest, got, platform)
		}
	}
	return img, nil
}

// fetched is an image whose blobs and layers are in the store, ready to
// commit.
type fetched struct {
	rec     *record
	layers  map[string]int64 // diff id → unpacked size
	fetched int              // layers downloaded
}

// fetchImage stores the manifest, config and layers of a remote image.
func (s *Store) fetchImage(ctx context.Context, img v1.Image, rep *reporter) (*fetched, error) {
	rawManifest, err := img.RawManifest()
	if err != nil {
		return nil, registryError(err, "manifest")
	}
	m, err := v1.ParseManifest(bytes.NewReader(rawManifest))
	if err != nil {
		return nil, errdefs.Invalid("manifest: %w", err)
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return nil, registryError(err, "config %s", m.Config.Digest)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(rawConfig))
	if err != nil {
		return nil, errdefs.Invalid("config %s: %w", m.Config.Digest, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, errdefs.Invalid("manifest lists %d layers but its config %d diff ids", len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	for _, d := range append([]v1.Hash{m.Config.Digest}, cfg.RootFS.DiffIDs...) {
		if d.Algorithm != "sha256" || len(d.Hex) != 64 || !isHex(d.Hex) {
			return nil, errdefs.Invalid("unsupported digest %q", d)
		}
	}
	for _, l := range m.Layers {
		if l.Digest.Algorithm != "sha256" || len(l.Digest.Hex) != 64 || !isHex(l.Digest.Hex) {
			return nil, errdefs.Invalid("unsupported layer digest %q", l.Digest)
		}
	}
	for _, l := range m.Layers {
		if l.Size > s.maxLayer {
			return nil, tooLarge("layer "+l.Digest.String(), "is", s.maxLayer, flagMaxLayer)
		}
	}
	f := &fetched{
		rec: &record{ID: m.Config.Digest.String(), ManifestDigest: "sha256:" + sha256Hex(rawManifest), Manifest: rawManifest,
			Config: rawConfig, Layers: make([]string, len(m.Layers)), Blobs: make([]string, len(m.Layers))},
		layers: map[string]int64{},
	}
	for _, l := range m.Layers {
		rep.status(shortID(l.Digest.String()), "Pulling fs layer")
	}
	sizes := make([]int64, len(m.Layers))
	downloaded := make([]bool, len(m.Layers))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(pullJobs)
	for i, l := range m.Layers {
		f.rec.Layers[i] = cfg.RootFS.DiffIDs[i].String()
		f.rec.Blobs[i] = l.Digest.String()
		g.Go(func() error {
			size, got, err := s.pullLayer(gctx, img, l, cfg.RootFS.DiffIDs[i], rep)
			sizes[i], downloaded[i] = size, got
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// The config and manifest go last: a pull refused for a layer
	// leaves no blob of its own behind.
	if _, _, err := s.putBlob(ctx, bytes.NewReader(rawConfig), m.Config.Digest); err != nil {
		return nil, err
	}
	if _, _, err := s.putBlob(ctx, bytes.NewReader(rawManifest), v1.Hash{}); err != nil {
		return nil, err
	}
	for i, d := range f.rec.Layers {
		f.layers[d] = sizes[i]
		f.rec.Size += sizes[i]
		if downloaded[i] {
			f.fetched++
		}
	}
	return f, nil
}

// pullLayer makes sure the store has the blob of layer l and its unpacked
// content, fetching what is missing. It returns the unpacked size and
// whether anything was downloaded.
func (s *Store) pullLayer(ctx context.Context, img v1.Image, l v1.Descriptor, diffID v1.Hash, rep *reporter) (int64, bool, error) {
	id := shortID(l.Digest.String())
	blobThere := exists(s.blobPath(l.Digest))
	s.mu.RLock()
	size, unpacked := s.layers[diffID.String()]
	s.mu.RUnlock()
	if blobThere && unpacked {
		rep.status(id, "Already exists")
		return size, false, nil
	}
	if blobThere {
		rep.status(id, "Extracting")
		size, err := s.ensureLayer(ctx, diffID, l.Digest)
		if err == nil {
			rep.status(id, "Pull complete")
		}
		return size, false, err
	}
	layer, err := img.LayerByDigest(l.Digest)
	if err != nil {
		return 0, false, registryError(err, "layer %s", l.Digest)
	}
	got := false
	size, err = s.layerOnce(ctx, diffID, func(ctx context.Context) (int64, error) {
		got = true
		return s.fetchAndUnpack(ctx, layer, l, diffID, rep)
	})
	if err != nil {
		return 0, got, err
	}
	if !exists(s.blobPath(l.Digest)) {
		// Another pull unpacked the same content from another blob.
		got = true
		if err := s.fetchBlob(ctx, layer, l, rep); err != nil {
			return 0, got, err
		}
	}
	rep.status(id, "Pull complete")
	return size, got, nil
}

// fetchBlob downloads a layer blob alone (its content is unpacked already).
func (s *Store) fetchBlob(ctx context.Context, layer v1.Layer, l v1.Descriptor, rep *reporter) error {
	rc, err := layer.Compressed()
	if err != nil {
		return registryError(err, "layer %s", l.Digest)
	}
	defer rc.Close()
	c := rep.counter(shortID(l.Digest.String()), "Downloading", l.Size)
	in := newCapReader(&progressReader{r: rc, c: c}, s.maxLayer, func() error {
		return tooLarge("layer "+l.Digest.String(), "is", s.maxLayer, flagMaxLayer)
	})
	if _, _, err := s.putBlob(ctx, in, l.Digest); err != nil {
		return err
	}
	c.done()
	rep.status(c.id, "Download complete")
	return nil
}

// fetchAndUnpack downloads a layer blob and unpacks it in the same pass
// (streamLayer): the bytes go to the blob file, its digest, and through
// decompression to Unpack and the diff id's digest. Both land under their
// final names only once both digests match.
func (s *Store) fetchAndUnpack(ctx context.Context, layer v1.Layer, l v1.Descriptor, diffID v1.Hash, rep *reporter) (int64, error) {
	id := shortID(l.Digest.String())
	if l.Size > s.maxLayer {
		return 0, tooLarge("layer "+l.Digest.String(), "is", s.maxLayer, flagMaxLayer)
	}
	rc, err := layer.Compressed()
	if err != nil {
		return 0, registryError(err, "layer %s", l.Digest)
	}
	defer rc.Close()
	c := rep.counter(id, "Downloading", l.Size)
	what := "layer " + l.Digest.String()
	t, err := s.streamLayer(ctx, &progressReader{r: rc, c: c}, what, func(err error) error {
		return downloadError(err, l.Digest)
	})
	if err != nil {
		return 0, err
	}
	defer t.cleanup()
	c.done()
	rep.status(id, "Verifying Checksum")
	if t.digest != l.Digest {
		return 0, errdefs.Invalid("%s: content has digest %s", what, t.digest)
	}
	if t.diffID != diffID {
		return 0, errdefs.Invalid("%s: content has diff id %s, its config says %s", what, t.diffID, diffID)
	}
	rep.status(id, "Download complete")
	rep.send(Progress{ID: id, Status: "Extracting", Detail: &ProgressDetail{Current: l.Size, Total: l.Size}, Bar: bar(l.Size, l.Size)})
	if err := s.keep(t, l.Digest, diffID, what); err != nil {
		return 0, err
	}
	return t.stats.Size, nil
}

// downloadError classes the error of reading a blob from a registry.
func downloadError(err error, digest v1.Hash) error {
	if strings.HasPrefix(err.Error(), "error verifying") {
		// go-containerregistry's check of the blob's digest or size,
		// which has no error type of its own.
		return errdefs.Invalid("layer %s: %w", digest, err)
	}
	return registryError(err, "layer %s", digest)
}

// keepBlob moves a complete temporary blob file to its name.
func (s *Store) keepBlob(f *os.File, h v1.Hash) error {
	if err := f.Chmod(0o444); err != nil {
		return classify(err, "store blob %s: %w", h)
	}
	if err := f.Sync(); err != nil {
		return classify(err, "store blob %s: %w", h)
	}
	if err := os.Rename(f.Name(), s.blobPath(h)); err != nil {
		return classify(err, "store blob %s: %w", h)
	}
	if err := syncDir(filepath.Dir(s.blobPath(h))); err != nil {
		return classify(err, "store blob %s: %w", h)
	}
	return nil
}

// keepLayer moves a complete temporary layer directory to its name.
func (s *Store) keepLayer(dir string, diffID v1.Hash) error {
	if err := syncFS(dir); err != nil {
		return classify(err, "layer %s: sync: %w", diffID)
	}
	final := s.layerDir(diffID)
	if err := os.Rename(dir, final); err != nil {
		if exists(final) {
			return nil // another process won; same content
		}
		return classify(err, "layer %s: %w", diffID)
	}
	if err := syncDir(filepath.Dir(final)); err != nil {
		return classify(err, "layer %s: %w", diffID)
	}
	return nil
}

// exists reports whether p exists.
func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// registryOf names the registry a reference is pulled from, for logs.
func registryOf(ref string) string {
	r, err := ParseReference(ref)
	if err != nil {
		return "registry"
	}
	return "registry " + r.Context().RegistryStr()
}
