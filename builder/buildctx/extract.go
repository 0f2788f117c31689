package buildctx

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"golang.org/x/sys/unix"
)

// Default limits of a build context.
const (
	DefaultMaxBytes   = 8 << 30   // 8 GiB of file content
	DefaultMaxEntries = 1_000_000 // tar entries
)

// Limits caps what a client can make the daemon hold for one build
// context. A zero field takes its default.
type Limits struct {
	MaxBytes   int64 // bytes of regular file content (default DefaultMaxBytes)
	MaxEntries int64 // tar entries (default DefaultMaxEntries)
}

// Context is an extracted build context: a private directory with the
// files the client sent, and the tarsum of every entry. Its methods may be
// called from several goroutines, except RemoveIgnored and Remove, which
// change the directory.
type Context struct {
	dir  string
	sums map[string]string // cleaned relative path -> tarsum v1 hex
}

// Dir returns the directory holding the context's files.
func (c *Context) Dir() string { return c.dir }

// Remove deletes the context's directory and everything in it.
func (c *Context) Remove() error {
	if err := os.RemoveAll(c.dir); err != nil {
		return classify(err, "removing build context: %w")
	}
	return nil
}

// Extract unpacks the build context tar r (plain, gzip, bzip2 or zstd,
// recognised by its first bytes) into dir, made if missing, and returns
// the Context. It writes directories, regular files, symlinks (their
// targets as they are: they are only ever resolved inside the context)
// and hard links, with the tar's modes, owners, extended attributes and
// times; a later entry of the same name replaces an earlier one unless
// both are directories; missing parents are made 0755, root-owned. While
// it does, it computes docker's tarsum v1 of every entry, keyed by the
// entry's cleaned path (the first entry of a name wins, as docker's
// FileInfoSums.GetFile does).
//
// A hostile tar cannot write outside dir: every path is opened with
// openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS) from a descriptor of dir.
// These are ErrInvalid errors naming the entry: an absolute name or one
// with a ".." component, a path through a symlink, a hard link to a name
// that is not (yet) a file of the context, a device or fifo, an xz stream,
// and going over lim. A cancelled ctx stops the extraction. On any error
// dir is removed.
func Extract(ctx context.Context, r io.Reader, dir string, lim Limits) (_ *Context, err error) {
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = DefaultMaxBytes
	}
	if lim.MaxEntries <= 0 {
		lim.MaxEntries = DefaultMaxEntries
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, classify(err, "build context: %w")
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	rootfd, err := openDirPath(dir)
	if err != nil {
		return nil, err
	}
	defer unix.Close(rootfd)

	dr, closeDr, _, err := decompress(ctx, ctxReader(ctx, r), false)
	if err != nil {
		return nil, err
	}
	defer closeDr()
	x := &extractor{rootfd: rootfd, lim: lim, sums: map[string]string{}, dirTimes: map[string]*tar.Header{}}
	tr := tar.NewReader(dr)
	for {
		if err := ctx.Err(); err != nil {
			return nil, classify(err, "build context: %w")
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, readErr(err, fmt.Sprintf("build context: reading tar after %d entries", x.entries))
		}
		if err := x.entry(hdr, tr); err != nil {
			return nil, err
		}
	}
	if err := x.finish(); err != nil {
		return nil, err
	}
	return &Context{dir: dir, sums: x.sums}, nil
}

// readErr classes an error met reading a stream: the stream's fault
// (malformed tar, bad compression) is ErrInvalid, the host's keeps its
// class.
func readErr(err error, what string) error {
	var pe *os.PathError
	if errors.As(err, &pe) || errdefs.Class(err) != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return classify(err, "%s: %w", what)
	}
	return errdefs.Invalid("%s: %w", what, err)
}

// ctxReader fails reads once ctx is done.
func ctxReader(ctx context.Context, r io.Reader) io.Reader {
	return readerFunc(func(p []byte) (int, error) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		return r.Read(p)
	})
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// extractor is the state of one Extract.
type extractor struct {
	rootfd   int
	lim      Limits
	entries  int64
	bytes    int64
	sums     map[string]string
	dirTimes map[string]*tar.Header
}

// contextName checks a tar name and returns it cleaned and relative ("."
// for the root).
func contextName(name string) (string, error) {
	if name == "" || strings.Contains(name, "\x00") {
		return "", errors.New("empty or malformed name")
	}
	if strings.HasPrefix(name, "/") {
		return "", errors.New("absolute name")
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", errors.New(`name with a ".." component`)
		}
	}
	return path.Clean(name), nil
}

func entryErr(hdr *tar.Header, format string, a ...any) error {
	return errdefs.Invalid("build context entry %q: %s", hdr.Name, fmt.Sprintf(format, a...))
}

func (x *extractor) fail(hdr *tar.Header, op string, err error) error {
	return classify(err, "build context entry %q: %s: %w", hdr.Name, op)
}

// entry writes one tar entry and records its tarsum.
func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	if x.entries++; x.entries > x.lim.MaxEntries {
		return errdefs.Invalid("build context exceeds %d entries", x.lim.MaxEntries)
	}
	rel, err := contextName(hdr.Name)
	if err != nil {
		return entryErr(hdr, "%v", err)
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeRegA, tar.TypeDir, tar.TypeSymlink, tar.TypeLink:
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return entryErr(hdr, "devices and fifos are not allowed in a build context")
	default:
		return entryErr(hdr, "unsupported entry type %q", hdr.Typeflag)
	}
	if hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeRegA {
		if x.bytes += hdr.Size; hdr.Size < 0 || x.bytes > x.lim.MaxBytes {
			return errdefs.Invalid("build context exceeds %d bytes", x.lim.MaxBytes)
		}
	}
	sum := sha256.New()
	writeV1Header(sum, hdr, true)
	if err := x.write(hdr, rel, io.TeeReader(r, sum)); err != nil {
		return err
	}
	// The tarsum covers the whole content, even of an entry not written.
	if _, err := io.Copy(sum, r); err != nil {
		return readErr(err, fmt.Sprintf("build context entry %q", hdr.Name))
	}
	key := path.Join(".", path.Join("/", hdr.Name))
	if _, ok := x.sums[key]; !ok {
		x.sums[key] = hex.EncodeToString(sum.Sum(nil))
	}
	return nil
}

// write creates the entry's node.
func (x *extractor) write(hdr *tar.Header, rel string, r io.Reader) error {
	if rel == "." {
		// The context root itself: docker skips it (Unpack's "." case).
		return nil
	}
	dir, base := splitRel(rel)
	if _, err := mkdirAll(x.rootfd, dir, nil); err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			return entryErr(hdr, "its parent %q is a symlink or not a directory", dir)
		}
		return x.fail(hdr, "mkdir parents", err)
	}
	pfd, err := openat2(x.rootfd, dir, unix.O_PATH|unix.O_DIRECTORY, 0, beneath)
	if err != nil {
		return x.fail(hdr, "open parent", err)
	}
	defer unix.Close(pfd)

	var st unix.Stat_t
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		if !(hdr.Typeflag == tar.TypeDir && st.Mode&unix.S_IFMT == unix.S_IFDIR) {
			if hdr.Typeflag == tar.TypeLink && path.Clean(hdr.Linkname) == rel {
				return nil // a link to itself: nothing to do
			}
			if err := removeAt(pfd, base); err != nil {
				return x.fail(hdr, "remove earlier entry", err)
			}
		}
	}

	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			return x.fail(hdr, "mkdir", err)
		}
		fd, err := openat2(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY, 0, beneath)
		if err != nil {
			return x.fail(hdr, "open", err)
		}
		defer unix.Close(fd)
		if err := x.fdAttrs(hdr, fd); err != nil {
			return err
		}
		x.dirTimes[rel] = hdr
		return nil
	case tar.TypeReg, tar.TypeRegA:
		fd, err := openat2(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW, 0o600, beneath)
		if err != nil {
			return x.fail(hdr, "create", err)
		}
		f := os.NewFile(uintptr(fd), rel)
		defer f.Close()
		n, err := io.Copy(f, r)
		if err != nil {
			return readErr(err, fmt.Sprintf("build context entry %q", hdr.Name))
		}
		if n != hdr.Size {
			return entryErr(hdr, "%d bytes of content, the header says %d", n, hdr.Size)
		}
		if err := x.fdAttrs(hdr, fd); err != nil {
			return err
		}
		return x.times(hdr, pfd, base)
	case tar.TypeSymlink:
		if hdr.Linkname == "" {
			return entryErr(hdr, "symlink with an empty target")
		}
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return x.fail(hdr, "symlink", err)
		}
		if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return x.fail(hdr, "chown", err)
		}
		return x.times(hdr, pfd, base)
	default: // tar.TypeLink
		return x.hardlink(hdr, pfd, base)
	}
}

// hardlink links base to an earlier file of the context.
func (x *extractor) hardlink(hdr *tar.Header, pfd int, base string) error {
	target, err := contextName(hdr.Linkname)
	if err != nil || target == "." {
		return entryErr(hdr, "hard link target %q is outside the context", hdr.Linkname)
	}
	st, err := lstatAt(x.rootfd, target)
	if err != nil || st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return entryErr(hdr, "hard link target %q is not a file of the context", hdr.Linkname)
	}
	tdir, tbase := splitRel(target)
	tfd, err := openat2(x.rootfd, tdir, unix.O_PATH|unix.O_DIRECTORY, 0, beneath)
	if err != nil {
		return entryErr(hdr, "hard link target %q is not a file of the context", hdr.Linkname)
	}
	defer unix.Close(tfd)
	if err := unix.Linkat(tfd, tbase, pfd, base, 0); err != nil {
		return x.fail(hdr, "link", err)
	}
	return nil
}

// fdAttrs sets owner, mode and extended attributes through a descriptor.
func (x *extractor) fdAttrs(hdr *tar.Header, fd int) error {
	if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
		return x.fail(hdr, "chown", err)
	}
	// After chown, which clears the set-id bits.
	if err := unix.Fchmod(fd, uint32(hdr.Mode&0o7777)); err != nil {
		return x.fail(hdr, "chmod", err)
	}
	for k, v := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, paxXattr); ok && !strings.HasPrefix(name, overlayXattrs) {
			if err := unix.Fsetxattr(fd, name, []byte(v), 0); err != nil && !bestEffortXattr(err) {
				return x.fail(hdr, "set attribute "+name, err)
			}
		}
	}
	return nil
}

// times sets atime and mtime as go-archive does: atime is the later of
// the two.
func (x *extractor) times(hdr *tar.Header, pfd int, base string) error {
	if err := setTimes(pfd, base, latest(hdr.AccessTime, hdr.ModTime), hdr.ModTime); err != nil {
		return x.fail(hdr, "set times", err)
	}
	return nil
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// finish sets directory times, now that nothing more is made in them.
func (x *extractor) finish() error {
	for rel, hdr := range x.dirTimes {
		dir, base := splitRel(rel)
		pfd, err := openat2(x.rootfd, dir, unix.O_PATH|unix.O_DIRECTORY, 0, beneath)
		if err != nil {
			return x.fail(hdr, "open parent", err)
		}
		err = x.times(hdr, pfd, base)
		unix.Close(pfd)
		if err != nil {
			return err
		}
	}
	return nil
}

// overlayXattrs is overlayfs's namespace, never copied or unpacked.
const overlayXattrs = "trusted.overlay."

// bestEffortXattr says whether a failure to set an attribute is one that
// docker (BestEffortXattrs) and the kernel's file systems make normal.
func bestEffortXattr(err error) bool {
	return errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EPERM)
}
