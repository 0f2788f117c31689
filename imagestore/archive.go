package imagestore

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// archive is an image archive (docker-save or OCI layout, as a tar) opened
// for random access: its index maps each member to its place in a file,
// the archive itself or, for a compressed archive, its spool.
type archive struct {
	path  string
	f     *os.File
	temp  string // the spool to remove on Close, or ""
	files map[string]member
	// ended is whether the tar's end marker was read. archive/tar takes
	// an archive cut at a member boundary for a complete one; a member
	// missing from such an archive is then explained as a truncation.
	ended bool
}

// member is a file in the archive: its data's offset and size, or a link.
type member struct {
	off, size int64
	link      string // symlink or hard link target, already made absolute in the archive
	// stored is the length of the data in f when it differs from size:
	// a spooled member that the spool holds gzip-compressed.
	stored int64
}

// Archive limits.
const (
	// spoolCompressMin is the size from which a plain member of a
	// compressed archive is spooled gzip-compressed: layers, not the
	// small metadata read back whole.
	spoolCompressMin = 1 << 20
)

// archiveLimits are the caps an archive is opened with.
type archiveLimits struct {
	archive int64 // total uncompressed bytes (--max-archive-size)
	member  int64 // bytes of one member (--max-layer-size: a layer is the largest member there is)
}

// openArchive opens and indexes the archive at p. A gzip or zstd
// compressed archive (as `docker save | gzip` makes) is read once, as a
// stream, into a spool in tmpDir that holds its large plain members
// gzip-compressed again: never an uncompressed copy of it. A missing file
// is errdefs.ErrNotFound; an unreadable or truncated archive, or one over
// a cap, errdefs.ErrInvalid.
func openArchive(ctx context.Context, p, tmpDir string, lim archiveLimits) (*archive, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, classify(err, "%w")
	}
	a := &archive{path: p, f: f, files: map[string]member{}}
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	if fi, err := f.Stat(); err == nil && fi.Size() > lim.archive {
		a.Close()
		return nil, tooLarge("archive "+p, "is", lim.archive, flagMaxArchive)
	}
	if compressionOf(head[:n]) != types.OCIUncompressedLayer {
		err = a.spool(ctx, tmpDir, lim)
	} else {
		err = a.index(ctx, lim)
	}
	if err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// Close closes the archive and removes its spool.
func (a *archive) Close() error {
	err := a.f.Close()
	if a.temp != "" {
		os.Remove(a.temp)
	}
	return err
}

// countingReader tracks the offset in the archive, so the index can
// record where each member's data starts. Seek, when its reader has one,
// lets archive/tar skip data without reading it.
type countingReader struct {
	r   io.Reader
	off int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.off += int64(n)
	return n, err
}

// seekingReader is a countingReader of a file, which can seek.
type seekingReader struct {
	countingReader
	f *os.File
}

func (c *seekingReader) Seek(off int64, whence int) (int64, error) {
	n, err := c.f.Seek(off, whence)
	if err == nil {
		c.off = n
	}
	return n, err
}

// index reads the tar headers of a plain archive.
func (a *archive) index(ctx context.Context, lim archiveLimits) error {
	if _, err := a.f.Seek(0, io.SeekStart); err != nil {
		return classify(err, "%w")
	}
	cr := &seekingReader{countingReader: countingReader{r: a.f}, f: a.f}
	err := a.walk(ctx, tar.NewReader(cr), &cr.countingReader, lim, func(name string, hdr *tar.Header, _ io.Reader) error {
		a.files[name] = member{off: cr.off, size: hdr.Size}
		return nil
	})
	if err != nil {
		return err
	}
	// The index stops at the end marker; a file cut in the middle of a
	// member's data is seen only when its data is read. Check the ends.
	fi, err := a.f.Stat()
	if err != nil {
		return classify(err, "%w")
	}
	for n, m := range a.files {
		if m.link == "" && m.off+m.size > fi.Size() {
			return errdefs.Invalid("archive member %q is truncated", n)
		}
	}
	return nil
}

// spool reads a compressed archive as a stream into a spool file in
// tmpDir, the index pointing into it: small members and compressed ones
// as they are, large plain ones (layer tars) gzip-compressed, so the
// spool is about as large as the compressed archive. The uncompressed
// archive is capped at lim.archive as it streams.
func (a *archive) spool(ctx context.Context, tmpDir string, lim archiveLimits) error {
	if _, err := a.f.Seek(0, io.SeekStart); err != nil {
		return classify(err, "%w")
	}
	dr, err := decompress(a.f)
	if err != nil {
		return errdefs.Invalid("decompressing archive: %w", err)
	}
	defer dr.Close()
	tmp, err := os.CreateTemp(tmpDir, "archive-")
	if err != nil {
		return classify(err, "%w")
	}
	src := a.f
	a.temp, a.f = tmp.Name(), tmp
	defer src.Close()
	capped := newCapReader(withContext(ctx, dr), lim.archive, func() error {
		return tooLarge("archive "+a.path, "holds", lim.archive, flagMaxArchive)
	})
	cr := &countingReader{r: capped}
	out := &byteCounter{w: tmp}
	err = a.walk(ctx, tar.NewReader(cr), cr, lim, func(name string, hdr *tar.Header, data io.Reader) error {
		m := member{off: out.n, size: hdr.Size}
		br := bufio.NewReaderSize(data, 1<<16)
		head, _ := br.Peek(4)
		if hdr.Size >= spoolCompressMin && compressionOf(head) == types.OCIUncompressedLayer {
			gz, _ := gzip.NewWriterLevel(out, gzip.BestSpeed) // a valid level: no error
			if _, err := io.Copy(gz, br); err != nil {
				return spoolError(err, name)
			}
			if err := gz.Close(); err != nil {
				return classify(err, "spooling archive: %w")
			}
			m.stored = out.n - m.off
		} else if _, err := io.Copy(out, br); err != nil {
			return spoolError(err, name)
		}
		a.files[name] = m
		return nil
	})
	if err != nil {
		return err
	}
	return nil
}

// spoolError classes an error copying a member into the spool.
func spoolError(err error, name string) error {
	if overCap(err) {
		return err
	}
	return readError(err, fmt.Sprintf("archive member %q", name))
}

// walk reads the tar headers of tr, which reads through cr, checks each
// member against the caps and calls file for each regular file (data is
// its content; reading it is optional); it records links itself.
func (a *archive) walk(ctx context.Context, tr *tar.Reader, cr *countingReader, lim archiveLimits, file func(name string, hdr *tar.Header, data io.Reader) error) error {
	var end int64 // where the last member's padded data ends
	for {
		if err := ctx.Err(); err != nil {
			return classify(err, "%w")
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			a.ended = cr.off >= end+2*512
			return nil
		}
		if overCap(err) {
			return err
		}
		if err != nil {
			return errdefs.Invalid("not a readable tar archive (truncated?): %w", err)
		}
		end = cr.off + (hdr.Size+511)/512*512
		name := archiveName(hdr.Name)
		switch hdr.Typeflag {
		case tar.TypeGNUSparse:
			return errdefs.Invalid("archive member %q: sparse files are not supported", hdr.Name)
		case tar.TypeReg, tar.TypeRegA:
			if hasSparse(hdr) {
				return errdefs.Invalid("archive member %q: sparse files are not supported", hdr.Name)
			}
			if hdr.Size > lim.member {
				// No member but a layer blob may be large, and a blob
				// is no larger than what it unpacks to.
				return tooLarge(fmt.Sprintf("archive member %q", name), "is", lim.member, flagMaxLayer)
			}
			if err := file(name, hdr, tr); err != nil {
				return err
			}
		case tar.TypeSymlink:
			target := hdr.Linkname
			if !path.IsAbs(target) {
				target = path.Join(path.Dir(name), target)
			}
			a.files[name] = member{link: archiveName(target)}
		case tar.TypeLink:
			a.files[name] = member{link: archiveName(hdr.Linkname)}
		}
	}
}

func hasSparse(hdr *tar.Header) bool {
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// archiveName cleans a member name: no leading "/" or "./".
func archiveName(s string) string {
	return strings.TrimPrefix(path.Clean("/"+s), "/")
}

// open returns the content of member name and its size, following links
// in the archive. A missing member is errdefs.ErrInvalid: the archive is
// incomplete.
func (a *archive) open(name string) (io.Reader, int64, error) {
	orig := name
	for range 16 {
		m, ok := a.files[archiveName(name)]
		if !ok {
			return nil, 0, errdefs.Invalid("archive has no file %q%s", orig, a.truncated())
		}
		if m.link != "" {
			name = m.link
			continue
		}
		if m.stored == 0 {
			return io.NewSectionReader(a.f, m.off, m.size), m.size, nil
		}
		zr, err := gzip.NewReader(io.NewSectionReader(a.f, m.off, m.stored))
		if err != nil {
			return nil, 0, classify(err, "archive spool: %w")
		}
		return io.LimitReader(zr, m.size), m.size, nil
	}
	return nil, 0, errdefs.Invalid("archive member %q: too many links", orig)
}

// maxMetadata bounds the size of a manifest, index or config read into
// memory.
const maxMetadata = 16 << 20

// readFile reads a small member (manifest, index, config) into memory.
func (a *archive) readFile(name string) ([]byte, error) {
	r, size, err := a.open(name)
	if err != nil {
		return nil, err
	}
	if size > maxMetadata {
		return nil, errdefs.Invalid("archive member %q: %d bytes is too large for metadata", name, size)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, readError(err, "reading "+name)
	}
	return b, nil
}

// truncated explains a missing member by a missing end marker.
func (a *archive) truncated() string {
	if a.ended {
		return ""
	}
	return " (it has no end-of-archive marker: truncated?)"
}

// has reports whether the archive holds name.
func (a *archive) has(name string) bool {
	_, ok := a.files[archiveName(name)]
	return ok
}

// sha256Hex returns the hex sha256 digest of b.
func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// digestInName returns the hex digest a member's name claims for its
// content ("blobs/sha256/<hex>", "sha256:<hex>", "<hex>.json"), or "".
func digestInName(name string) string {
	base := filepath.Base(name)
	switch {
	case strings.HasPrefix(name, "blobs/sha256/"):
	case strings.HasPrefix(base, "sha256:"):
		base = strings.TrimPrefix(base, "sha256:")
	case strings.HasSuffix(base, ".json"):
		base = strings.TrimSuffix(base, ".json")
	default:
		return ""
	}
	if len(base) == 64 && isHex(base) {
		return base
	}
	return ""
}

// checkNamedDigest fails when content b does not have the digest its name
// claims.
func checkNamedDigest(name string, b []byte) error {
	if want := digestInName(name); want != "" && sha256Hex(b) != want {
		return errdefs.Invalid("archive member %q: content has digest sha256:%s", name, sha256Hex(b))
	}
	return nil
}
