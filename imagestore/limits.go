package imagestore

import (
	"errors"
	"fmt"
	"io"

	"github.com/docker/go-units"

	"github.com/enginefs/enginefs/errdefs"
)

// Caps on what a client controls: a registry's layers, an archive given
// to Load, a tar given to Create. A client can make a small download
// unpack to anything (a gzip stream of zeros grows a thousandfold), so
// the store counts the bytes as they stream and stops at the cap, before
// they reach the disk.
const (
	// DefaultMaxLayerSize is the default cap on a layer's unpacked
	// (uncompressed tar) size, and on a layer blob's size: 32 GiB.
	DefaultMaxLayerSize int64 = 32 << 30
	// DefaultMaxArchiveSize is the default cap on an archive's total
	// uncompressed size (Load) or a tar's (Create's Tar): 64 GiB.
	DefaultMaxArchiveSize int64 = 64 << 30
)

// The daemon flags that set the caps, named in refusals so an operator
// knows what to change.
const (
	flagMaxLayer   = "--max-layer-size"
	flagMaxArchive = "--max-archive-size"
)

// WithMaxLayerSize caps a layer's unpacked size, in bytes: a layer whose
// uncompressed tar is longer (or whose blob is larger) is refused with
// errdefs.ErrInvalid, and nothing of it is kept. Default
// DefaultMaxLayerSize; n <= 0 keeps the default.
func WithMaxLayerSize(n int64) Option {
	return func(o *options) {
		if n > 0 {
			o.maxLayer = n
		}
	}
}

// WithMaxArchiveSize caps an archive's total uncompressed size, in bytes
// (Load; and the tar Create is given, as docker import's): a larger one
// is refused with errdefs.ErrInvalid, and nothing of it is kept. Default
// DefaultMaxArchiveSize; n <= 0 keeps the default.
func WithMaxArchiveSize(n int64) Option {
	return func(o *options) {
		if n > 0 {
			o.maxArchive = n
		}
	}
}

// Size is a byte count written as docker writes sizes ("32GiB", "512m",
// "1048576"): a flag value (it has pflag.Value's methods) for the caps.
type Size int64

// String formats the size ("32GiB").
func (z *Size) String() string { return formatSize(int64(*z)) }

// Set parses s ("64GiB", "1g", "1048576"); the size must be positive.
func (z *Size) Set(s string) error {
	n, err := units.RAMInBytes(s)
	if err != nil || n <= 0 {
		return fmt.Errorf("bad size %q: want a positive size such as 32GiB", s)
	}
	*z = Size(n)
	return nil
}

// Type names the flag's kind in usage text.
func (z *Size) Type() string { return "size" }

// formatSize writes n bytes in the largest binary unit that divides it.
func formatSize(n int64) string {
	for _, u := range []struct {
		shift uint
		name  string
	}{{40, "TiB"}, {30, "GiB"}, {20, "MiB"}, {10, "KiB"}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d %s", n>>u.shift, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// limitError is the refusal of input over a cap.
type limitError struct {
	what  string // "layer sha256:…", "archive /x.tar"
	verb  string // "unpacks to", "is"
	limit int64
	flag  string
}

func (e *limitError) Error() string {
	return fmt.Sprintf("%s %s more than %s (%s)", e.what, e.verb, formatSize(e.limit), e.flag)
}

// tooLarge returns the errdefs.ErrInvalid refusal of what over limit.
func tooLarge(what, verb string, limit int64, flag string) error {
	return errdefs.Invalid("%w", &limitError{what: what, verb: verb, limit: limit, flag: flag})
}

// overCap reports whether err is (or wraps) a refusal by a cap.
func overCap(err error) bool {
	var le *limitError
	return errors.As(err, &le)
}

// logRefusal logs, once per refused operation, input a cap refused:
// what was refused, from which client (a registry, "archive"), and why.
// It returns err, marked as logged when it was (errdefs.MarkLogged).
func (s *Store) logRefusal(what, client string, err error) error {
	if err != nil && overCap(err) {
		s.logf("refused %s from %s: %v", what, client, err)
		return errdefs.MarkLogged(err)
	}
	return err
}

// capReader reads r and fails with err once more than limit bytes came
// through: the bytes past the cap are never handed on.
type capReader struct {
	r     io.Reader
	left  int64 // bytes still allowed
	err   func() error
	total int64
}

// newCapReader caps r at limit bytes; over it, reads fail with tooErr().
func newCapReader(r io.Reader, limit int64, tooErr func() error) *capReader {
	return &capReader{r: r, left: limit, err: tooErr}
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, c.err()
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1] // one byte past the cap tells a longer stream
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	c.total += int64(n)
	if c.left < 0 {
		return 0, c.err()
	}
	return n, err
}
