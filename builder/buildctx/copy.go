package buildctx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"golang.org/x/sys/unix"
)

// CopyOptions are the flags of one COPY or ADD.
type CopyOptions struct {
	// UID and GID own what is copied (default 0:0, root): the --chown
	// identity (see ResolveChown).
	UID, GID int
	// PreserveOwner keeps the source's owners instead (COPY --from
	// without --chown).
	PreserveOwner bool
	// Chmod, if set, is the mode of every copied file and directory
	// (BuildKit's --chmod; symlinks keep theirs). Only the permission,
	// set-id and sticky bits count.
	Chmod *os.FileMode
	// Extract makes a source file that is a tar archive (plain, gzip,
	// bzip2, xz or zstd, recognised by its content) be unpacked into the
	// destination instead of copied: ADD of a local file.
	Extract bool
	// Multiple says the instruction has more than one source (several
	// paths, or a wildcard with several matches): the destination must
	// then end in "/". Copy assumes it when given several sources.
	Multiple bool
	// Cmd is the instruction, "COPY" (the default) or "ADD", for messages.
	Cmd string
}

// CheckDest returns docker's error for a destination that cannot take
// nsrcs sources: more than one source needs a dest ending in "/".
// The builder calls it before probing the cache, as docker does; Copy
// calls it too.
func CheckDest(cmd string, nsrcs int, dest string) error {
	if nsrcs > 1 && !strings.HasSuffix(dest, "/") {
		return errdefs.Invalid("When using %s with more than one source file, the destination must be a directory and end with a /", cmd)
	}
	return nil
}

// maxLinkFds bounds the descriptors Copy keeps to recreate hard links;
// past it, further linked files are copied as separate files.
const maxLinkFds = 4096

// Copy copies srcs, resolved under srcRoot (a Context's Dir, an image's
// root for --from, or a Fetch directory), into the container root file
// system root at dest, an absolute path (WORKDIR already joined) whose
// trailing "/" matters. It does what docker's performCopyForInfo does:
//   - dest is resolved inside root first (symlinks followed, "/" and ".."
//     stopping at root); nothing is ever written outside root;
//   - a directory source copies its contents into dest, which is made
//     (0755, root-owned, parents too) if missing, and then chowned to
//     the identity; an existing dest keeps its owner and mode;
//   - with Extract, a source file that is an archive is unpacked into
//     dest (made if missing) with the archive's owners, modes and times;
//     "/" in its names stops at dest, and a ".." name is ErrInvalid;
//   - another source file goes to dest/<base name of Source.Rel> when
//     dest ends in "/" or is a directory, else to dest itself; missing
//     parents are made 0755 and owned by the identity;
//   - what is copied keeps its mode, mtime (in whole seconds; atime is
//     set to it) and extended attributes (not trusted.overlay.*), gets the
//     identity as owner (or keeps its own with PreserveOwner) and
//     replaces whatever is at its place unless both are directories;
//     symlinks are copied as symlinks, a file hard-linked within one
//     source directory stays hard-linked, sockets are skipped.
//
// A dest that is (or goes through) a file where a directory is needed is
// ErrInvalid; a source gone since it was resolved is ErrNotFound. Errors
// start "failed to copy files: ". On error root holds a partial copy.
func Copy(ctx context.Context, root, srcRoot string, srcs []Source, dest string, opt CopyOptions) error {
	if opt.Cmd == "" {
		opt.Cmd = "COPY"
	}
	if len(srcs) == 0 {
		return errdefs.Invalid("%s failed: no source files were specified", opt.Cmd)
	}
	n := len(srcs)
	if opt.Multiple && n < 2 {
		n = 2
	}
	if err := CheckDest(opt.Cmd, n, dest); err != nil {
		return err
	}
	rootfd, err := openDirPath(root)
	if err != nil {
		return err
	}
	defer unix.Close(rootfd)
	srcfd, err := openDirPath(srcRoot)
	if err != nil {
		return err
	}
	defer unix.Close(srcfd)
	destRel, err := resolveInScope(rootfd, dest, false)
	if err != nil {
		return classify(err, "failed to copy files: %w")
	}
	c := &copier{ctx: ctx, rootfd: rootfd, srcfd: srcfd, opt: opt, links: map[[2]uint64]int{}}
	defer c.closeLinks()
	for _, s := range srcs {
		if err := c.copySource(s, dest, destRel); err != nil {
			return fmt.Errorf("failed to copy files: %w", err)
		}
	}
	return nil
}

// copier is the state of one Copy.
type copier struct {
	ctx    context.Context
	rootfd int // the container root
	srcfd  int // the source root
	opt    CopyOptions
	links  map[[2]uint64]int // source device and inode -> O_PATH descriptor of its copy
}

func (c *copier) closeLinks() {
	for _, fd := range c.links {
		unix.Close(fd)
	}
}

// owner returns who a copy of a node with stat st belongs to.
func (c *copier) owner(st *unix.Stat_t) (int, int) {
	if c.opt.PreserveOwner {
		return int(st.Uid), int(st.Gid)
	}
	return c.opt.UID, c.opt.GID
}

// mode returns the mode bits a copy of a node with stat st gets.
func (c *copier) mode(st *unix.Stat_t) uint32 {
	if c.opt.Chmod != nil {
		return modeBits(*c.opt.Chmod)
	}
	return st.Mode & 0o7777
}

// copySource copies one source.
func (c *copier) copySource(s Source, dest, destRel string) error {
	srcRel, err := resolveInScope(c.srcfd, s.Rel, true)
	if err != nil {
		return errdefs.Invalid("forbidden path outside the build context: %s ()", s.Rel)
	}
	st, err := lstatAt(c.srcfd, srcRel)
	if err != nil {
		return classify(&os.PathError{Op: "stat", Path: s.Rel, Err: err}, "source path not found: %w")
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return c.copyDir(srcRel, dest, destRel)
	}
	if c.opt.Extract && st.Mode&unix.S_IFMT == unix.S_IFREG {
		done, err := c.extractIfArchive(srcRel, dest, destRel)
		if done || err != nil {
			return err
		}
	}
	target := destRel
	// The name as the instruction gave it (a symlink's, not its
	// target's), as docker's filepath.Base(source.path).
	name := filepath.Base(filepath.Clean(s.Rel))
	if strings.HasSuffix(dest, "/") {
		target = joinRel(destRel, name)
	} else if dst, err := lstatAt(c.rootfd, destRel); err == nil && dst.Mode&unix.S_IFMT == unix.S_IFDIR {
		target = joinRel(destRel, name)
	}
	dir, base := splitRel(target)
	var own *owner
	if !c.opt.PreserveOwner {
		own = &owner{c.opt.UID, c.opt.GID}
	}
	if _, err := mkdirAll(c.rootfd, dir, own); err != nil {
		return destErr(dir, err)
	}
	sdir, sbase := splitRel(srcRel)
	spfd, err := openat2(c.srcfd, sdir, unix.O_PATH|unix.O_DIRECTORY, 0, beneath)
	if err != nil {
		return pathErr("open", s.Rel, err)
	}
	defer unix.Close(spfd)
	dpfd, err := openat2(c.rootfd, dir, unix.O_PATH|unix.O_DIRECTORY, 0, beneath)
	if err != nil {
		return destErr(dir, err)
	}
	defer unix.Close(dpfd)
	return c.copyNode(spfd, sbase, dpfd, base, &st, "/"+target)
}

// destErr reports a destination directory that cannot be made or opened.
func destErr(rel string, err error) error {
	if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.EEXIST) {
		return errdefs.Invalid("mkdir %s: not a directory", path.Join("/", rel))
	}
	return pathErr("mkdir", path.Join("/", rel), err)
}

// copyDir copies the contents of the source directory srcRel into dest.
func (c *copier) copyDir(srcRel, dest, destRel string) error {
	existed, err := mkdirAll(c.rootfd, destRel, nil)
	if err != nil {
		return destErr(destRel, err)
	}
	dfd, err := openat2(c.rootfd, destRel, unix.O_RDONLY|unix.O_DIRECTORY, 0, beneath)
	if err != nil {
		return destErr(destRel, err)
	}
	defer unix.Close(dfd)
	sfd, err := openat2(c.srcfd, srcRel, unix.O_RDONLY|unix.O_DIRECTORY, 0, beneath)
	if err != nil {
		return pathErr("open", srcRel, err)
	}
	defer unix.Close(sfd)
	if !existed {
		// docker's fixPermissions chowns the destination root only when
		// the copy made it.
		if !c.opt.PreserveOwner {
			if err := unix.Fchown(dfd, c.opt.UID, c.opt.GID); err != nil {
				return pathErr("chown", dest, err)
			}
		}
		if c.opt.Chmod != nil {
			if err := unix.Fchmod(dfd, modeBits(*c.opt.Chmod)); err != nil {
				return pathErr("chmod", dest, err)
			}
		}
	}
	return c.copyTree(sfd, dfd, path.Join("/", destRel))
}

// copyTree copies the entries of the directory open at sfd into the one
// open at dfd (both O_RDONLY), recursively, in lexical order.
func (c *copier) copyTree(sfd, dfd int, where string) error {
	names, err := readNames(sfd)
	if err != nil {
		return pathErr("readdir", where, err)
	}
	for _, name := range names {
		if err := c.ctx.Err(); err != nil {
			return classify(err, "%w")
		}
		var st unix.Stat_t
		if err := unix.Fstatat(sfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return pathErr("lstat", name, err)
		}
		if err := c.copyNode(sfd, name, dfd, name, &st, path.Join(where, name)); err != nil {
			return err
		}
	}
	return nil
}

// copyNode copies the node sname under spfd, whose stat is st, to dname
// under dpfd, replacing what is there unless both are directories.
// where names the destination in messages.
func (c *copier) copyNode(spfd int, sname string, dpfd int, dname string, st *unix.Stat_t, where string) error {
	typ := st.Mode & unix.S_IFMT
	if typ == unix.S_IFSOCK {
		return nil
	}
	var cur unix.Stat_t
	if err := unix.Fstatat(dpfd, dname, &cur, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		if !(typ == unix.S_IFDIR && cur.Mode&unix.S_IFMT == unix.S_IFDIR) {
			if err := removeAt(dpfd, dname); err != nil {
				return pathErr("remove", where, err)
			}
		}
	}
	uid, gid := c.owner(st)
	mtime := time.Unix(st.Mtim.Unix()).Truncate(time.Second)
	switch typ {
	case unix.S_IFDIR:
		if err := unix.Mkdirat(dpfd, dname, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			return pathErr("mkdir", where, err)
		}
		sfd, err := openat2(spfd, sname, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0, beneath)
		if err != nil {
			return pathErr("open", sname, err)
		}
		defer unix.Close(sfd)
		dfd, err := openat2(dpfd, dname, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0, beneath)
		if err != nil {
			return pathErr("open", where, err)
		}
		defer unix.Close(dfd)
		if err := c.copyTree(sfd, dfd, where); err != nil {
			return err
		}
		if err := c.fdAttrs(sfd, dfd, uid, gid, c.mode(st), where); err != nil {
			return err
		}
	case unix.S_IFREG:
		linked, err := c.relink(st, dpfd, dname)
		if err != nil {
			return pathErr("link", where, err)
		}
		if linked {
			return nil
		}
		sfd, err := openat2(spfd, sname, unix.O_RDONLY|unix.O_NOFOLLOW, 0, beneath)
		if err != nil {
			return pathErr("open", sname, err)
		}
		in := os.NewFile(uintptr(sfd), sname)
		defer in.Close()
		dfd, err := openat2(dpfd, dname, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW, 0o600, beneath)
		if err != nil {
			return pathErr("create", where, err)
		}
		out := os.NewFile(uintptr(dfd), where)
		defer out.Close()
		if _, err := io.Copy(out, in); err != nil {
			return classify(err, "copying %s: %w", where)
		}
		if err := c.fdAttrs(sfd, dfd, uid, gid, c.mode(st), where); err != nil {
			return err
		}
		c.remember(st, dpfd, dname)
	case unix.S_IFLNK:
		target, err := readlinkFd(spfd, sname)
		if err != nil {
			return pathErr("readlink", sname, err)
		}
		if err := unix.Symlinkat(target, dpfd, dname); err != nil {
			return pathErr("symlink", where, err)
		}
		if err := unix.Fchownat(dpfd, dname, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return pathErr("chown", where, err)
		}
	default: // character and block devices, fifos
		if err := unix.Mknodat(dpfd, dname, typ|0o600, int(st.Rdev)); err != nil {
			return pathErr("mknod", where, err)
		}
		if err := unix.Fchownat(dpfd, dname, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return pathErr("chown", where, err)
		}
		// dname was just made by us and is no symlink.
		if err := unix.Fchmodat(dpfd, dname, c.mode(st), 0); err != nil {
			return pathErr("chmod", where, err)
		}
	}
	if err := setTimes(dpfd, dname, mtime, mtime); err != nil {
		return pathErr("set times", where, err)
	}
	return nil
}

// fdAttrs sets owner, mode and (from srcfd, if not -1) extended
// attributes of the node open at dfd.
func (c *copier) fdAttrs(srcfd, dfd, uid, gid int, mode uint32, where string) error {
	if err := unix.Fchown(dfd, uid, gid); err != nil {
		return pathErr("chown", where, err)
	}
	// After chown, which clears the set-id bits.
	if err := unix.Fchmod(dfd, mode); err != nil {
		return pathErr("chmod", where, err)
	}
	if srcfd >= 0 {
		if err := copyXattrs(srcfd, dfd); err != nil {
			return pathErr("set attributes", where, err)
		}
	}
	return nil
}

// copyXattrs copies the extended attributes of srcfd to dfd, except
// overlayfs's own; attributes the destination cannot take are skipped.
func copyXattrs(srcfd, dfd int) error {
	size, err := unix.Flistxattr(srcfd, nil)
	if err != nil || size == 0 {
		return nil
	}
	buf := make([]byte, size)
	size, err = unix.Flistxattr(srcfd, buf)
	if err != nil {
		return nil
	}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:size]), "\x00"), "\x00") {
		if name == "" || strings.HasPrefix(name, overlayXattrs) {
			continue
		}
		n, err := unix.Fgetxattr(srcfd, name, nil)
		if err != nil {
			continue
		}
		val := make([]byte, n)
		if n, err = unix.Fgetxattr(srcfd, name, val); err != nil {
			continue
		}
		if err := unix.Fsetxattr(dfd, name, val[:n], 0); err != nil && !bestEffortXattr(err) {
			return err
		}
	}
	return nil
}

// relink makes dname under dpfd a hard link to the earlier copy of the
// same source file, if there is one and st says the file has other
// links; it reports whether it did.
func (c *copier) relink(st *unix.Stat_t, dpfd int, dname string) (bool, error) {
	if st.Nlink < 2 {
		return false, nil
	}
	fd, ok := c.links[[2]uint64{st.Dev, st.Ino}]
	if !ok {
		return false, nil
	}
	if err := unix.Linkat(fd, "", dpfd, dname, unix.AT_EMPTY_PATH); err != nil {
		return false, nil // copy it as a file of its own
	}
	return true, nil
}

// remember keeps a descriptor of a copied file that has other links, for
// relink.
func (c *copier) remember(st *unix.Stat_t, dpfd int, dname string) {
	if st.Nlink < 2 || len(c.links) >= maxLinkFds {
		return
	}
	fd, err := openat2(dpfd, dname, unix.O_PATH|unix.O_NOFOLLOW, 0, beneath)
	if err == nil {
		c.links[[2]uint64{st.Dev, st.Ino}] = fd
	}
}
