package imagestore

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// archive is an image archive (docker-save or OCI layout, as a tar) opened
// for random access: its index maps each member to its place in the file.
type archive struct {
	path  string
	f     *os.File
	temp  string // a decompressed copy to remove on Close, or ""
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
}

// openArchive opens and indexes the archive at p. A gzip or zstd
// compressed archive (as `docker save | gzip` makes) is first decompressed
// into tmpDir. A missing file is errdefs.ErrNotFound; an unreadable or
// truncated archive errdefs.ErrInvalid.
func openArchive(ctx context.Context, p, tmpDir string) (*archive, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, classify(err, "%w")
	}
	a := &archive{path: p, f: f, files: map[string]member{}}
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	if compressionOf(head[:n]) != types.OCIUncompressedLayer {
		if err := a.decompress(ctx, tmpDir); err != nil {
			a.Close()
			return nil, err
		}
	}
	if err := a.index(ctx); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// decompress replaces a.f by a decompressed copy in tmpDir.
func (a *archive) decompress(ctx context.Context, tmpDir string) error {
	if _, err := a.f.Seek(0, io.SeekStart); err != nil {
		return classify(err, "%w")
	}
	r, err := decompress(a.f)
	if err != nil {
		return errdefs.Invalid("decompressing archive: %w", err)
	}
	defer r.Close()
	tmp, err := os.CreateTemp(tmpDir, "archive-")
	if err != nil {
		return classify(err, "%w")
	}
	src := a.f
	a.temp, a.f = tmp.Name(), tmp
	defer src.Close()
	if _, err := io.Copy(tmp, withContext(ctx, r)); err != nil {
		return readError(err, "decompressing archive")
	}
	return nil
}

// Close closes the archive and removes its decompressed copy.
func (a *archive) Close() error {
	err := a.f.Close()
	if a.temp != "" {
		os.Remove(a.temp)
	}
	return err
}

// countingReader tracks the offset in the archive file, so the index can
// record where each member's data starts. Seek lets archive/tar skip data
// without reading it.
type countingReader struct {
	f   *os.File
	off int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.f.Read(p)
	c.off += int64(n)
	return n, err
}

func (c *countingReader) Seek(off int64, whence int) (int64, error) {
	n, err := c.f.Seek(off, whence)
	if err == nil {
		c.off = n
	}
	return n, err
}

// index reads the tar headers.
func (a *archive) index(ctx context.Context) error {
	if _, err := a.f.Seek(0, io.SeekStart); err != nil {
		return classify(err, "%w")
	}
	cr := &countingReader{f: a.f}
	tr := tar.NewReader(cr)
	var end int64 // where the last member's padded data ends
	for {
		if err := ctx.Err(); err != nil {
			return classify(err, "%w")
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			a.ended = cr.off >= end+2*512
			break
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
			a.files[name] = member{off: cr.off, size: hdr.Size}
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

// open returns the content of member name, following links in the archive.
// A missing member is errdefs.ErrInvalid: the archive is incomplete.
func (a *archive) open(name string) (*io.SectionReader, error) {
	orig := name
	for range 16 {
		m, ok := a.files[archiveName(name)]
		if !ok {
			return nil, errdefs.Invalid("archive has no file %q%s", orig, a.truncated())
		}
		if m.link == "" {
			return io.NewSectionReader(a.f, m.off, m.size), nil
		}
		name = m.link
	}
	return nil, errdefs.Invalid("archive member %q: too many links", orig)
}

// maxMetadata bounds the size of a manifest, index or config read into
// memory.
const maxMetadata = 16 << 20

// readFile reads a small member (manifest, index, config) into memory.
func (a *archive) readFile(name string) ([]byte, error) {
	r, err := a.open(name)
	if err != nil {
		return nil, err
	}
	if r.Size() > maxMetadata {
		return nil, errdefs.Invalid("archive member %q: %d bytes is too large for metadata", name, r.Size())
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
