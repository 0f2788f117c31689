package imagestore

import (
	"archive/tar"
	"context"
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

// Overlayfs names for what OCI and docker layers spell as .wh. files.
const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."     // aufs bookkeeping (.wh..wh.plnk, ...): skipped
	whiteoutOpaque = ".wh..wh..opq" // "this directory hides everything below it"
	opaqueXattr    = "trusted.overlay.opaque"
	overlayXattrNS = "trusted.overlay." // never taken from a layer
)

// UnpackStats describes what Unpack wrote.
type UnpackStats struct {
	Entries int   // tar entries processed
	Size    int64 // bytes of regular file content: the layer's size as docker counts it
}

// Unpack reads the uncompressed layer tar r and writes its contents into
// dir, an existing directory that should be empty and that no one else
// writes to meanwhile. It creates regular files, directories, symlinks,
// hard links, character and block devices and fifos with their mode (set-id
// and sticky bits included), owner, times and extended attributes (PAX
// SCHILY.xattr.*), and translates whiteouts to overlayfs form: ".wh.NAME"
// becomes a 0/0 character device NAME, ".wh..wh..opq" sets
// trusted.overlay.opaque=y on its directory. A later entry replaces an
// earlier one of the same name, as tar does; missing parent directories are
// created (0755, root-owned).
//
// Unpack never writes outside dir. A leading "/" is stripped from names (as
// docker does); a name or hard-link target that leaves dir through "..", an
// entry whose path goes through a symlink (of this layer: "a" -> "/etc" then
// "a/passwd"), a hard link to something outside the layer or to a
// directory, and a trusted.overlay.* attribute are rejected with an error of
// class errdefs.ErrInvalid naming the entry. Every path is resolved with
// openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS) from a descriptor of dir, so
// no symlink is ever followed, inside dir or out; symlinks themselves are
// written as they are (absolute ones included: they mean something only in
// the container). Other failures keep their class (ErrUnavailable for a full
// disk or a cancelled ctx). On error dir holds a partial tree the caller
// should remove. Must run as root to set owners and create devices.
func Unpack(ctx context.Context, r io.Reader, dir string) (UnpackStats, error) {
	root, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return UnpackStats{}, classify(&os.PathError{Op: "open", Path: dir, Err: err}, "unpack: %w")
	}
	defer unix.Close(root)
	u := &unpacker{root: root, rootPath: dir, dirTimes: map[string]*tar.Header{}}
	u.pool = newFilePool(u, unpackWorkers)
	// No worker may write once Unpack returned: the caller removes dir.
	defer u.pool.close()
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return u.stats, classify(err, "unpack: %w")
		}
		if err := u.pool.failed(); err != nil {
			return u.stats, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return u.stats, readError(err, fmt.Sprintf("unpack: reading layer tar after %d entries", u.stats.Entries))
		}
		u.stats.Entries++
		if err := u.entry(hdr, tr); err != nil {
			return u.stats, err
		}
	}
	if err := u.pool.drain(); err != nil {
		return u.stats, err
	}
	if err := u.finish(); err != nil {
		return u.stats, err
	}
	return u.stats, nil
}

// unpacker is the state of one Unpack.
type unpacker struct {
	root     int    // O_PATH descriptor of the layer directory
	rootPath string // its path, for messages and the root's own times
	stats    UnpackStats
	pool     *filePool              // writes small regular files in parallel
	dirTimes map[string]*tar.Header // directories whose times are set last
}

// entryError is the error for a hostile or malformed entry.
func entryError(hdr *tar.Header, format string, a ...any) error {
	return errdefs.Invalid("layer entry %q: %s", hdr.Name, fmt.Sprintf(format, a...))
}

// cleanName turns a tar name into a clean path relative to the layer root
// ("." for the root itself), or fails if it leaves the root.
func cleanName(s string) (string, bool) {
	p := path.Clean("/" + s) // a leading "/" is stripped, as docker does
	if strings.Contains(s, "\x00") {
		return "", false
	}
	// path.Clean("/"+s) can never begin with "..", so check the raw name:
	// a ".." that would climb above the root is hostile, not to be clamped.
	depth := 0
	for _, c := range strings.Split(s, "/") {
		switch c {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return "", false
			}
		default:
			depth++
		}
	}
	if p == "/" {
		return ".", true
	}
	return p[1:], true
}

// splitName splits a clean relative path into its parent ("." at the top)
// and base name.
func splitName(rel string) (string, string) {
	dir, base := path.Split(rel)
	if dir == "" {
		return ".", base
	}
	return strings.TrimSuffix(dir, "/"), base
}

// entry writes one tar entry.
func (u *unpacker) entry(hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	rel, ok := cleanName(hdr.Name)
	if !ok {
		return entryError(hdr, "name leaves the layer")
	}
	for k := range hdr.PAXRecords {
		if x, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok && strings.HasPrefix(x, overlayXattrNS) {
			return entryError(hdr, "attribute %s is reserved for overlayfs", x)
		}
	}
	if rel == "." {
		if hdr.Typeflag != tar.TypeDir {
			return entryError(hdr, "names the layer root but is not a directory")
		}
		return u.rootDir(hdr)
	}
	if err := u.pool.order(hdr, rel); err != nil {
		return err
	}
	dir, base := splitName(rel)
	if strings.HasPrefix(base, whiteoutPrefix) {
		return u.whiteout(hdr, dir, base)
	}
	pfd, err := u.openDir(hdr, dir, true)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)

	switch hdr.Typeflag {
	case tar.TypeDir:
		return u.dir(hdr, pfd, rel, base)
	case tar.TypeReg, tar.TypeRegA:
		u.stats.Size += hdr.Size
		if hdr.Size <= maxPooledFile {
			return u.pool.file(hdr, pfd, base, rel, r)
		}
		return u.file(hdr, pfd, base, r)
	case tar.TypeSymlink:
		if hdr.Linkname == "" {
			return entryError(hdr, "symlink with an empty target")
		}
		if err := u.replace(hdr, pfd, base); err != nil {
			return err
		}
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return u.fail(hdr, "symlink", err)
		}
		return u.attrs(hdr, pfd, base, true)
	case tar.TypeLink:
		return u.hardlink(hdr, pfd, base)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		mode := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		if err := u.replace(hdr, pfd, base); err != nil {
			return err
		}
		dev := int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
		if err := unix.Mknodat(pfd, base, mode|0o600, dev); err != nil {
			return u.fail(hdr, "mknod", err)
		}
		return u.attrs(hdr, pfd, base, true)
	default:
		return entryError(hdr, "unsupported entry type %q", hdr.Typeflag)
	}
}

// rootDir applies a "./" entry to the layer root.
func (u *unpacker) rootDir(hdr *tar.Header) error {
	fd, err := unix.Openat2(u.root, ".", &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolveFlags})
	if err != nil {
		return u.fail(hdr, "open", err)
	}
	defer unix.Close(fd)
	if err := u.fdAttrs(hdr, fd); err != nil {
		return err
	}
	u.dirTimes["."] = hdr
	return nil
}

// dir creates (or keeps, if one is there) a directory and sets its
// attributes; its times are set at the end, after its children are written.
func (u *unpacker) dir(hdr *tar.Header, pfd int, rel, base string) error {
	var st unix.Stat_t
	err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	if err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
		if err := u.replace(hdr, pfd, base); err != nil {
			return err
		}
		err = unix.ENOENT
	}
	if errors.Is(err, unix.ENOENT) {
		err = unix.Mkdirat(pfd, base, 0o700)
	}
	if err != nil {
		return u.fail(hdr, "mkdir", err)
	}
	fd, err := unix.Openat2(pfd, base, &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolveFlags})
	if err != nil {
		return u.fail(hdr, "open", err)
	}
	defer unix.Close(fd)
	if err := u.fdAttrs(hdr, fd); err != nil {
		return err
	}
	u.dirTimes[rel] = hdr
	return nil
}

// file writes a regular file.
func (u *unpacker) file(hdr *tar.Header, pfd int, base string, r io.Reader) error {
	how := &unix.OpenHow{
		Flags:   unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Mode:    0o600,
		Resolve: resolveFlags,
	}
	// O_EXCL never follows a symlink: whatever is there already is
	// replaced, then the file made anew.
	fd, err := unix.Openat2(pfd, base, how)
	if errors.Is(err, unix.EEXIST) {
		if err := u.replace(hdr, pfd, base); err != nil {
			return err
		}
		fd, err = unix.Openat2(pfd, base, how)
	}
	if err != nil {
		return u.fail(hdr, "create", err)
	}
	f := os.NewFile(uintptr(fd), hdr.Name)
	defer f.Close()
	n, err := io.Copy(f, r)
	if err != nil {
		return readError(err, fmt.Sprintf("layer entry %q: copying content", hdr.Name))
	}
	if n != hdr.Size {
		return entryError(hdr, "%d bytes of content, the header says %d", n, hdr.Size)
	}
	if err := u.fdAttrs(hdr, fd); err != nil {
		return err
	}
	return u.times(hdr, pfd, base)
}

// hardlink links base to the entry named by hdr.Linkname, which must be
// inside the layer and reachable without symlinks.
func (u *unpacker) hardlink(hdr *tar.Header, pfd int, base string) error {
	target, ok := cleanName(hdr.Linkname)
	if !ok || target == "." {
		return entryError(hdr, "hard link target %q leaves the layer", hdr.Linkname)
	}
	tdir, tbase := splitName(target)
	tfd, err := u.openDir(hdr, tdir, false)
	if err != nil {
		return err
	}
	defer unix.Close(tfd)
	var st unix.Stat_t
	if err := unix.Fstatat(tfd, tbase, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return entryError(hdr, "hard link target %q is not in the layer", hdr.Linkname)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return entryError(hdr, "hard link target %q is a directory", hdr.Linkname)
	}
	var cur unix.Stat_t
	if unix.Fstatat(pfd, base, &cur, unix.AT_SYMLINK_NOFOLLOW) == nil && cur.Dev == st.Dev && cur.Ino == st.Ino {
		return nil // already that file (a link to itself, or a repeated entry)
	}
	if err := u.replace(hdr, pfd, base); err != nil {
		return err
	}
	if err := unix.Linkat(tfd, tbase, pfd, base, 0); err != nil {
		return u.fail(hdr, "link", err)
	}
	return nil
}

// whiteout translates .wh. entries.
func (u *unpacker) whiteout(hdr *tar.Header, dir, base string) error {
	if base != whiteoutOpaque && strings.HasPrefix(base, whiteoutMeta) {
		return nil
	}
	pfd, err := u.openDir(hdr, dir, true)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	if base == whiteoutOpaque {
		fd, err := unix.Openat2(pfd, ".", &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolveFlags})
		if err != nil {
			return u.fail(hdr, "open", err)
		}
		defer unix.Close(fd)
		if err := unix.Fsetxattr(fd, opaqueXattr, []byte("y"), 0); err != nil {
			return u.fail(hdr, "set "+opaqueXattr, err)
		}
		return nil
	}
	target := strings.TrimPrefix(base, whiteoutPrefix)
	if target == "" || target == "." || target == ".." {
		return entryError(hdr, "whiteout of %q", target)
	}
	if err := u.replace(hdr, pfd, target); err != nil {
		return err
	}
	if err := unix.Mknodat(pfd, target, unix.S_IFCHR, 0); err != nil {
		return u.fail(hdr, "mknod whiteout", err)
	}
	if err := unix.Fchownat(pfd, target, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return u.fail(hdr, "chown", err)
	}
	return nil
}

// fdAttrs sets owner, mode and xattrs through an open descriptor (regular
// files and directories).
func (u *unpacker) fdAttrs(hdr *tar.Header, fd int) error {
	if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
		return u.fail(hdr, "chown", err)
	}
	// After chown, which clears the set-id bits.
	if err := unix.Fchmod(fd, uint32(hdr.Mode&0o7777)); err != nil {
		return u.fail(hdr, "chmod", err)
	}
	for k, v := range hdr.PAXRecords {
		if x, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			if err := unix.Fsetxattr(fd, x, []byte(v), 0); err != nil && !errors.Is(err, unix.EOPNOTSUPP) {
				return u.fail(hdr, "set attribute "+x, err)
			}
		}
	}
	return nil
}

// attrs sets owner, mode, xattrs and times of a node that cannot be opened
// for that (symlink, device, fifo), by name under the parent descriptor:
// never following the node, and reaching it for xattrs through
// /proc/self/fd/PARENT/NAME, whose only link to follow is the parent's
// magic link.
func (u *unpacker) attrs(hdr *tar.Header, pfd int, base string, withTimes bool) error {
	if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return u.fail(hdr, "chown", err)
	}
	if hdr.Typeflag != tar.TypeSymlink {
		// The node was just created by us and is not a symlink, so the
		// following fchmodat cannot leave it.
		if err := unix.Fchmodat(pfd, base, uint32(hdr.Mode&0o7777), 0); err != nil {
			return u.fail(hdr, "chmod", err)
		}
	}
	for k, v := range hdr.PAXRecords {
		if x, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			p := fmt.Sprintf("/proc/self/fd/%d/%s", pfd, base)
			if err := unix.Lsetxattr(p, x, []byte(v), 0); err != nil && !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EPERM) {
				return u.fail(hdr, "set attribute "+x, err)
			}
		}
	}
	if withTimes {
		return u.times(hdr, pfd, base)
	}
	return nil
}

// times sets access and modification times, not following a symlink.
func (u *unpacker) times(hdr *tar.Header, pfd int, base string) error {
	if err := unix.UtimesNanoAt(pfd, base, timespecs(hdr), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return u.fail(hdr, "set times", err)
	}
	return nil
}

func timespecs(hdr *tar.Header) []unix.Timespec {
	atime := hdr.AccessTime
	if atime.IsZero() {
		atime = hdr.ModTime
	}
	return []unix.Timespec{ts(atime), ts(hdr.ModTime)}
}

func ts(t time.Time) unix.Timespec {
	if t.IsZero() {
		t = time.Unix(0, 0)
	}
	return unix.NsecToTimespec(t.UnixNano())
}

// finish sets directory times, now that nothing more is created in them.
func (u *unpacker) finish() error {
	for rel, hdr := range u.dirTimes {
		if rel == "." {
			if err := unix.UtimesNano(u.rootPath, timespecs(hdr)); err != nil {
				return u.fail(hdr, "set times", err)
			}
			continue
		}
		dir, base := splitName(rel)
		pfd, err := u.openDir(hdr, dir, false)
		if err != nil {
			return err
		}
		err = u.times(hdr, pfd, base)
		unix.Close(pfd)
		if err != nil {
			return err
		}
	}
	return nil
}

// fail wraps a host error about an entry. Errors a well-formed layer
// cannot cause (ELOOP, ENOTDIR, EXDEV...) come from the entry, and so are
// ErrInvalid; the rest keep their class.
func (u *unpacker) fail(hdr *tar.Header, op string, err error) error {
	return classify(err, "layer entry %q: %s: %w", hdr.Name, op)
}
