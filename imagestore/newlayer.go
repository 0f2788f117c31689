package imagestore

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"

	"github.com/enginefs/enginefs/errdefs"
)

// Layer is a layer Create wrote.
type Layer struct {
	DiffID   string // "sha256:<hex>" of the uncompressed tar
	Blob     string // digest of the stored blob (gzip-compressed, as docker pushes layers)
	BlobSize int64  // bytes of the blob
	Size     int64  // unpacked size in bytes, as the store counts it (Image.LayerSizes)
}

// Magic numbers of the compressions docker import accepts beyond gzip
// and zstd.
var (
	bzip2Magic = []byte("BZh")
	xzMagic    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
)

// errAbandoned stops a layer writer whose blob is no longer wanted.
var errAbandoned = errors.New("layer blob abandoned")

// layerFromDir writes the layer of dir, an overlayfs upper directory
// (writeDiffTar), without the paths in exclude, stores it and unpacks
// it. It returns nil for a directory with nothing to write.
func (s *Store) layerFromDir(ctx context.Context, dir string, exclude []string, idmap func(uid, gid int) (int, int)) (*Layer, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, classify(err, "layer from %s: %w", dir)
	}
	names, err := f.Readdirnames(1)
	f.Close()
	if errors.Is(err, io.EOF) || err == nil && len(names) == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, classify(err, "layer from %s: %w", dir)
	}
	return s.storeLayer(ctx, func(w io.Writer) (int, error) {
		return writeDiffTar(ctx, dir, exclude, idmap, w)
	})
}

// layerFromTar stores the layer tar r (plain, gzip, zstd or bzip2) and
// unpacks it. It returns nil for a tar without entries.
func (s *Store) layerFromTar(ctx context.Context, r io.Reader) (*Layer, error) {
	r = newCapReader(r, s.maxArchive, func() error {
		return tooLarge("layer tar", "is", s.maxArchive, flagMaxArchive)
	})
	return s.storeLayer(ctx, func(w io.Writer) (int, error) {
		dr, err := decompressImport(withContext(ctx, r))
		if err != nil {
			return 0, err
		}
		defer dr.Close()
		tee := io.TeeReader(withContext(ctx, dr), w)
		tr := tar.NewReader(tee)
		n := 0
		for {
			_, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return n, readError(err, "layer tar")
			}
			n++
		}
		// The diff id covers what follows the end marker too.
		if _, err := io.Copy(io.Discard, tee); err != nil {
			return n, readError(err, "layer tar")
		}
		return n, nil
	})
}

// storeLayer runs write, which writes a layer tar and returns its number
// of entries, and streams the tar once: its sha256 is the diff id, and
// its gzip compression becomes a blob. Then the layer is unpacked from
// that blob as any other (ensureLayer), so its directory is the verified,
// synced one. A tar without entries is no layer: storeLayer returns nil
// (and leaves its blob for collect).
func (s *Store) storeLayer(ctx context.Context, write func(io.Writer) (int, error)) (*Layer, error) {
	pr, pw := io.Pipe()
	h := sha256.New()
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	cw := &capWriter{left: s.maxLayer, err: func() error {
		return tooLarge("new layer", "unpacks to", s.maxLayer, flagMaxLayer)
	}}
	go func() {
		gz, err := gzip.NewWriterLevel(pw, gzip.BestSpeed)
		cw.w = io.MultiWriter(h, gz)
		if err != nil { // only for a bad level
			pw.CloseWithError(err)
			done <- result{err: err}
			return
		}
		n, err := write(cw)
		if err == nil {
			err = gz.Close()
		}
		pw.CloseWithError(err) // nil: the reader sees EOF
		done <- result{n, err}
	}()
	blob, size, err := s.putBlob(ctx, pr, v1.Hash{})
	pr.CloseWithError(errAbandoned) // a writer still writing stops
	res := <-done
	if cw.over != nil {
		return nil, cw.over // the cause, however the tar reader wrapped it
	}
	if overCap(res.err) {
		var le *limitError
		errors.As(res.err, &le)
		return nil, errdefs.Invalid("%w", le)
	}
	if res.err != nil && !errors.Is(res.err, errAbandoned) {
		return nil, res.err // the cause; putBlob only saw it arrive
	}
	if err != nil {
		return nil, err
	}
	if res.n == 0 {
		return nil, nil
	}
	diffID := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	usize, err := s.ensureLayer(ctx, diffID, blob)
	if err != nil {
		return nil, err
	}
	return &Layer{DiffID: diffID.String(), Blob: blob.String(), BlobSize: size, Size: usize}, nil
}

// decompressImport returns the uncompressed content of r: gzip, zstd
// and plain as decompress takes them, and bzip2, which docker import
// also accepts. xz is refused.
func decompressImport(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	head, _ := br.Peek(len(xzMagic))
	switch {
	case bytes.HasPrefix(head, xzMagic):
		return nil, errdefs.Invalid("xz-compressed layers are not supported")
	case bytes.HasPrefix(head, bzip2Magic) && len(head) > 3 && head[3] >= '1' && head[3] <= '9':
		return io.NopCloser(bzip2.NewReader(br)), nil
	}
	dr, err := decompress(br)
	if err != nil {
		return nil, readError(err, "layer tar")
	}
	return dr, nil
}

// capWriter writes to w and fails, writing nothing more, once more than
// left bytes came through; over keeps that error.
type capWriter struct {
	w    io.Writer
	left int64
	err  func() error
	over error
}

func (c *capWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > c.left {
		c.over = c.err()
		return 0, c.over
	}
	c.left -= int64(len(p))
	return c.w.Write(p)
}
