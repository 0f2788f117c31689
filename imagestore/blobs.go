package imagestore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"

	"github.com/enginefs/enginefs/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// blobPath is where the blob with digest h lives.
func (s *Store) blobPath(h v1.Hash) string {
	return filepath.Join(s.root, "blobs", h.Algorithm, h.Hex)
}

// putBlob copies r into the store and returns its digest and size. When
// want is set the content must have that digest (errdefs.ErrInvalid
// otherwise), and a blob already stored under it is kept without reading r.
// The blob appears under its name only complete and synced.
func (s *Store) putBlob(ctx context.Context, r io.Reader, want v1.Hash) (v1.Hash, int64, error) {
	if want != (v1.Hash{}) {
		if want.Algorithm != "sha256" || len(want.Hex) != 64 || !isHex(want.Hex) {
			return v1.Hash{}, 0, errdefs.Invalid("unsupported digest %s", want)
		}
		if fi, err := os.Stat(s.blobPath(want)); err == nil {
			return want, fi.Size(), nil
		}
	}
	tmp, err := os.CreateTemp(s.tmpDir(), "blob-")
	if err != nil {
		return v1.Hash{}, 0, classify(err, "store blob: %w")
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name()) // a no-op once renamed
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), withContext(ctx, r))
	if err != nil {
		return v1.Hash{}, 0, readError(err, "store blob")
	}
	got := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	if want != (v1.Hash{}) && got != want {
		return v1.Hash{}, 0, errdefs.Invalid("blob %s: content has digest %s", want, got)
	}
	if _, err := os.Stat(s.blobPath(got)); err == nil {
		return got, n, nil // stored already (its digest was unknown beforehand)
	}
	if err := tmp.Chmod(0o444); err != nil {
		return v1.Hash{}, 0, classify(err, "store blob %s: %w", got)
	}
	if err := tmp.Sync(); err != nil {
		return v1.Hash{}, 0, classify(err, "store blob %s: %w", got)
	}
	if err := os.Rename(tmp.Name(), s.blobPath(got)); err != nil {
		return v1.Hash{}, 0, classify(err, "store blob %s: %w", got)
	}
	if err := syncDir(filepath.Dir(s.blobPath(got))); err != nil {
		return v1.Hash{}, 0, classify(err, "store blob %s: %w", got)
	}
	return got, n, nil
}

// readError classes an error met while copying from an archive: the
// archive's fault (truncated, unreadable) unless the host failed.
func readError(err error, what string) error {
	var pe *os.PathError
	if errors.As(err, &pe) || errdefs.Class(err) != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return classify(err, "%s: %w", what)
	}
	return errdefs.Invalid("%s: %w", what, err)
}

// syncDir fsyncs a directory so a rename into it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// withContext returns a reader of r that fails once ctx is done.
func withContext(ctx context.Context, r io.Reader) io.Reader {
	return readerFunc(func(p []byte) (int, error) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		return r.Read(p)
	})
}

// readerFunc is an io.Reader made of a function.
type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
