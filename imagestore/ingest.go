package imagestore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/enginefs/enginefs/errdefs"
)

// streamed is a layer blob read once by streamLayer: a temporary blob file
// and a temporary unpacked directory, both complete, neither under its
// name yet. The caller checks the digests, then keeps (keepBlob,
// keepLayer) or drops them; cleanup removes what was not kept.
type streamed struct {
	blob   *os.File
	digest v1.Hash // of the blob file's content
	size   int64   // bytes of the blob file
	dir    string
	diffID v1.Hash // of the uncompressed tar
	stats  UnpackStats
}

// cleanup removes the temporary blob and directory (no-ops once renamed).
func (t *streamed) cleanup() {
	t.blob.Close()
	os.Remove(t.blob.Name())
	os.RemoveAll(t.dir)
}

// streamLayer reads the layer blob src once. Its bytes go, as they are,
// to a temporary blob file and the blob's digest; decompressed, the same
// bytes go through the diff id's digest and Unpack into a temporary
// directory. So no copy reaches the disk but the blob as it was sent and
// the unpacked files. The blob's bytes and the uncompressed tar are both
// capped by the store's layer cap (what names the layer in the refusal).
// srcErr classes an error reading src (a cut download); nil: readError's
// archive classes.
//
// On error nothing is left behind.
func (s *Store) streamLayer(ctx context.Context, src io.Reader, what string, srcErr func(error) error) (*streamed, error) {
	if srcErr == nil {
		srcErr = func(err error) error { return readError(err, what) }
	}
	blob, err := os.CreateTemp(s.tmpDir(), "blob-")
	if err != nil {
		return nil, classify(err, "%s: %w", what)
	}
	dir, err := os.MkdirTemp(s.tmpDir(), "layer-")
	if err != nil {
		blob.Close()
		os.Remove(blob.Name())
		return nil, classify(err, "%s: %w", what)
	}
	t := &streamed{blob: blob, dir: dir}
	ok := false
	defer func() {
		if !ok {
			t.cleanup()
		}
	}()
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, classify(err, "%s: %w", what)
	}
	tooBig := func() error { return tooLarge(what, "unpacks to", s.maxLayer, flagMaxLayer) }

	type result struct {
		stats UnpackStats
		diff  string
		err   error
	}
	pr, pw := io.Pipe()
	done := make(chan result, 1)
	go func() {
		var res result
		defer func() { done <- res }()
		r, err := decompress(pr)
		if err != nil {
			res.err = errdefs.Invalid("%s: %w", what, err)
			pr.CloseWithError(res.err)
			return
		}
		h := sha256.New()
		tee := io.TeeReader(newCapReader(r, s.maxLayer, tooBig), h)
		res.stats, res.err = Unpack(ctx, tee, dir)
		if res.err == nil {
			// The diff id covers the tar's padding after its end marker.
			if _, err := io.Copy(io.Discard, tee); err != nil {
				res.err = readError(err, what)
			}
		}
		r.Close()
		if res.err != nil {
			pr.CloseWithError(res.err)
			return
		}
		io.Copy(io.Discard, pr) // whatever follows the compressed stream (capped below)
		res.diff = hex.EncodeToString(h.Sum(nil))
	}()

	bh := sha256.New()
	counted := &byteCounter{w: io.MultiWriter(blob, bh)}
	in := &errRecorder{r: newCapReader(withContext(ctx, src), s.maxLayer, func() error {
		return tooLarge(what, "is", s.maxLayer, flagMaxLayer)
	})}
	_, cerr := io.Copy(io.MultiWriter(counted, pw), in)
	pw.CloseWithError(cerr)
	res := <-done
	switch {
	case overCap(in.err):
		return nil, in.err
	case overCap(res.err):
		return nil, tooBig() // not the unpacker's wrapping of it
	case in.err != nil && (res.err == nil || errdefs.Class(res.err) == errdefs.ErrInvalid):
		// The unpacker saw a cut or bad stream: the source's error says why.
		return nil, srcErr(in.err)
	case res.err != nil:
		return nil, res.err
	case cerr != nil:
		return nil, classify(cerr, "%s: %w", what)
	}
	t.digest = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(bh.Sum(nil))}
	t.size = counted.n
	t.diffID = v1.Hash{Algorithm: "sha256", Hex: res.diff}
	t.stats = res.stats
	ok = true
	return t, nil
}

// keep checks the digests of a streamed layer against what is expected
// (zero hashes: anything) and moves the blob and the directory to their
// names. A blob already stored is kept as it is.
func (s *Store) keep(t *streamed, wantBlob, wantDiff v1.Hash, what string) error {
	if wantBlob != (v1.Hash{}) && t.digest != wantBlob {
		return errdefs.Invalid("%s: content has digest %s", what, t.digest)
	}
	if wantDiff != (v1.Hash{}) && t.diffID != wantDiff {
		return errdefs.Invalid("%s: content has diff id %s, its config says %s", what, t.diffID, wantDiff)
	}
	if !exists(s.blobPath(t.digest)) {
		if err := s.keepBlob(t.blob, t.digest); err != nil {
			return err
		}
	}
	return s.keepLayer(t.dir, t.diffID)
}

// byteCounter counts the bytes written through it.
type byteCounter struct {
	w io.Writer
	n int64
}

func (c *byteCounter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// errRecorder remembers the first error other than io.EOF its reader
// returned, so a failure downstream can be explained by its cause.
type errRecorder struct {
	r   io.Reader
	err error
}

func (e *errRecorder) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && e.err == nil {
		e.err = err
	}
	return n, err
}
