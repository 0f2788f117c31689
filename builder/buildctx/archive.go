package buildctx

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/enginefs/enginefs/errdefs"
	"golang.org/x/sys/unix"
)

// extractIfArchive unpacks the source file srcRel into dest if it is an
// archive (go-archive's IsArchivePath: it decompresses, and a tar header
// can be read). It reports whether it was one.
func (c *copier) extractIfArchive(srcRel, dest, destRel string) (bool, error) {
	open := func() (*os.File, error) {
		fd, err := openat2(c.srcfd, srcRel, unix.O_RDONLY|unix.O_NOFOLLOW, 0, beneath)
		if err != nil {
			return nil, pathErr("open", srcRel, err)
		}
		return os.NewFile(uintptr(fd), srcRel), nil
	}
	f, err := open()
	if err != nil {
		return false, err
	}
	isArchive := false
	if r, closeR, _, err := decompress(c.ctx, f, true); err == nil {
		_, err = tar.NewReader(r).Next()
		isArchive = err == nil
		closeR()
	}
	f.Close()
	if !isArchive {
		return false, nil
	}
	if f, err = open(); err != nil {
		return true, err
	}
	defer f.Close()
	r, closeR, _, err := decompress(c.ctx, ctxReader(c.ctx, f), true)
	if err != nil {
		return true, err
	}
	defer closeR()
	return true, c.untar(r, dest, destRel)
}

// untar unpacks the tar r into destRel (made 0755, root-owned, if
// missing) as docker's chrootarchive.Untar does: paths resolve as if dest
// were the root (RESOLVE_IN_ROOT from its descriptor), so neither a name
// nor a symlink, of the archive or already there, leads out of it; the
// last component is never followed but replaced, unless it and the entry
// are both directories. Owners, modes, extended attributes (not
// trusted.overlay.*) and times come from the archive; missing parents
// are made 0755, root-owned. A ".." component in a name is ErrInvalid.
func (c *copier) untar(r io.Reader, dest, destRel string) error {
	if _, err := mkdirAll(c.rootfd, destRel, nil); err != nil {
		return destErr(destRel, err)
	}
	destfd, err := openat2(c.rootfd, destRel, unix.O_PATH|unix.O_DIRECTORY, 0, beneath)
	if err != nil {
		return destErr(destRel, err)
	}
	defer unix.Close(destfd)
	u := &untarrer{destfd: destfd, dest: dest}
	tr := tar.NewReader(r)
	for {
		if err := c.ctx.Err(); err != nil {
			return classify(err, "%w")
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return readErr(err, "reading archive")
		}
		if err := u.entry(hdr, tr); err != nil {
			return err
		}
	}
	return u.finish()
}

// untarrer is the state of one untar.
type untarrer struct {
	destfd int
	dest   string
	dirs   []*tar.Header // directories, whose times are set last
}

func (u *untarrer) fail(hdr *tar.Header, op string, err error) error {
	return classify(err, "archive entry %q: %s: %w", hdr.Name, op)
}

// archiveName cleans a name of an archive (a leading "/" stops at dest)
// or fails on a ".." component.
func archiveName(name string) (string, bool) {
	if strings.Contains(name, "\x00") {
		return "", false
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", false
		}
	}
	return strings.TrimPrefix(path.Clean("/"+name), "/"), true
}

// parent opens the parent directory of rel inside dest, making missing
// directories 0755, root-owned.
func (u *untarrer) parent(hdr *tar.Header, dir string) (int, error) {
	fd, err := openat2(u.destfd, dir, unix.O_PATH|unix.O_DIRECTORY, 0, inRoot)
	if err == nil || !errors.Is(err, unix.ENOENT) {
		if err != nil {
			return -1, u.fail(hdr, "open parent", err)
		}
		return fd, nil
	}
	cur := "."
	for _, c := range strings.Split(dir, "/") {
		next := joinRel(cur, c)
		fd, err := openat2(u.destfd, next, unix.O_PATH|unix.O_DIRECTORY, 0, inRoot)
		if errors.Is(err, unix.ENOENT) {
			pfd, perr := openat2(u.destfd, cur, unix.O_PATH|unix.O_DIRECTORY, 0, inRoot)
			if perr != nil {
				return -1, u.fail(hdr, "open parent", perr)
			}
			err = unix.Mkdirat(pfd, c, 0o755)
			if err == nil {
				err = unix.Fchmodat(pfd, c, 0o755, 0)
			}
			unix.Close(pfd)
			if err != nil && !errors.Is(err, unix.EEXIST) {
				return -1, u.fail(hdr, "mkdir parent", err)
			}
			fd, err = openat2(u.destfd, next, unix.O_PATH|unix.O_DIRECTORY, 0, inRoot)
		}
		if err != nil {
			return -1, u.fail(hdr, "open parent", err)
		}
		unix.Close(fd)
		cur = next
	}
	fd, err = openat2(u.destfd, dir, unix.O_PATH|unix.O_DIRECTORY, 0, inRoot)
	if err != nil {
		return -1, u.fail(hdr, "open parent", err)
	}
	return fd, nil
}

// entry writes one archive entry.
func (u *untarrer) entry(hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	rel, ok := archiveName(hdr.Name)
	if !ok {
		return errdefs.Invalid("archive entry %q: name leaves the destination", hdr.Name)
	}
	if rel == "" {
		return nil // the destination itself, which exists as a directory
	}
	dir, base := splitRel(rel)
	pfd, err := u.parent(hdr, dir)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	var cur unix.Stat_t
	if err := unix.Fstatat(pfd, base, &cur, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		if !(hdr.Typeflag == tar.TypeDir && cur.Mode&unix.S_IFMT == unix.S_IFDIR) {
			if err := removeAt(pfd, base); err != nil {
				return u.fail(hdr, "remove", err)
			}
		}
	}
	mode := uint32(hdr.Mode & 0o7777)
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			return u.fail(hdr, "mkdir", err)
		}
		u.dirs = append(u.dirs, hdr)
	case tar.TypeReg, tar.TypeRegA:
		fd, err := openat2(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW, 0o600, beneath)
		if err != nil {
			return u.fail(hdr, "create", err)
		}
		f := os.NewFile(uintptr(fd), base)
		_, err = io.Copy(f, r)
		f.Close()
		if err != nil {
			return readErr(err, fmt.Sprintf("archive entry %q", hdr.Name))
		}
	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return u.fail(hdr, "symlink", err)
		}
	case tar.TypeLink:
		target, ok := archiveName(hdr.Linkname)
		if !ok || target == "" {
			return errdefs.Invalid("archive entry %q: hard link target %q leaves the destination", hdr.Name, hdr.Linkname)
		}
		tfd, err := openat2(u.destfd, target, unix.O_PATH|unix.O_NOFOLLOW, 0, inRoot)
		if err != nil {
			return u.fail(hdr, "hard link target "+hdr.Linkname, err)
		}
		err = unix.Linkat(tfd, "", pfd, base, unix.AT_EMPTY_PATH)
		unix.Close(tfd)
		if err != nil {
			return u.fail(hdr, "link", err)
		}
		return nil // the node, with its attributes, is the target's
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		typ := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		dev := int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
		if err := unix.Mknodat(pfd, base, typ|0o600, dev); err != nil {
			return u.fail(hdr, "mknod", err)
		}
	default:
		return errdefs.Invalid("archive entry %q: unhandled tar header type %d", hdr.Name, hdr.Typeflag)
	}
	if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return u.fail(hdr, "chown", err)
	}
	for k, v := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, paxXattr); ok && !strings.HasPrefix(name, overlayXattrs) {
			if err := unix.Lsetxattr(fdPath(pfd, base), name, []byte(v), 0); err != nil && !bestEffortXattr(err) {
				return u.fail(hdr, "set attribute "+name, err)
			}
		}
	}
	if hdr.Typeflag != tar.TypeSymlink {
		// After chown, which clears the set-id bits; base was made here
		// and is no symlink.
		if err := unix.Fchmodat(pfd, base, mode, 0); err != nil {
			return u.fail(hdr, "chmod", err)
		}
	}
	if hdr.Typeflag != tar.TypeDir {
		if err := setTimes(pfd, base, latest(hdr.AccessTime, hdr.ModTime), hdr.ModTime); err != nil {
			return u.fail(hdr, "set times", err)
		}
	}
	return nil
}

// finish sets directory times, now that nothing more is made in them.
func (u *untarrer) finish() error {
	for _, hdr := range u.dirs {
		rel, _ := archiveName(hdr.Name)
		dir, base := splitRel(rel)
		pfd, err := openat2(u.destfd, dir, unix.O_PATH|unix.O_DIRECTORY, 0, inRoot)
		if err != nil {
			return u.fail(hdr, "open parent", err)
		}
		err = setTimes(pfd, base, latest(hdr.AccessTime, hdr.ModTime), hdr.ModTime)
		unix.Close(pfd)
		if err != nil {
			return u.fail(hdr, "set times", err)
		}
	}
	return nil
}
