package buildctx

import (
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"golang.org/x/sys/unix"
)

// beneath resolves a path under a directory descriptor without following
// any symlink or leaving the directory: for paths that are already
// resolved (resolveInScope) or that must not contain links at all.
const beneath = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS

// inRoot resolves a path as if the directory descriptor were the root
// (chroot semantics): symlinks are followed, but "/" and ".." stop at it.
const inRoot = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS

// maxLinks bounds symlink expansion, as moby/sys/symlink does.
const maxLinks = 255

// classify wraps err with format (whose last verb is %w, for err) and
// its class (errdefs.HostClass).
func classify(err error, format string, a ...any) error {
	return errdefs.New(errdefs.HostClass(err), format, append(a, err)...)
}

// openDirPath opens an O_PATH descriptor of the directory at p.
func openDirPath(p string) (int, error) {
	fd, err := unix.Open(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, classify(&os.PathError{Op: "open", Path: p, Err: err}, "%w")
	}
	return fd, nil
}

// openat2 is unix.Openat2 retried on EAGAIN (a concurrent rename in the
// tree) and EINTR.
func openat2(dirfd int, name string, flags int, mode uint32, resolve uint64) (int, error) {
	how := &unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Mode: uint64(mode), Resolve: resolve}
	for i := 0; ; i++ {
		fd, err := unix.Openat2(dirfd, name, how)
		if (err == unix.EAGAIN || err == unix.EINTR) && i < 64 {
			continue
		}
		return fd, err
	}
}

// splitRel splits a clean relative path into its parent ("." at the top)
// and its base name.
func splitRel(rel string) (string, string) {
	dir, base := path.Split(rel)
	if dir == "" {
		return ".", base
	}
	return strings.TrimSuffix(dir, "/"), base
}

// joinRel joins a clean relative path ("." for the root) and a name.
func joinRel(dir, name string) string {
	if dir == "." || dir == "" {
		return name
	}
	return dir + "/" + name
}

// lstatAt stats rel (clean, no symlinks in its parents) under rootfd
// without following it.
func lstatAt(rootfd int, rel string) (unix.Stat_t, error) {
	var st unix.Stat_t
	if rel == "." {
		return st, unix.Fstat(rootfd, &st)
	}
	dir, base := splitRel(rel)
	pfd, err := openat2(rootfd, dir, unix.O_PATH|unix.O_DIRECTORY, 0, beneath)
	if err != nil {
		return st, err
	}
	defer unix.Close(pfd)
	return st, unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
}

// readlinkAt reads the symlink rel (clean, no symlinks in its parents).
func readlinkAt(rootfd int, rel string) (string, error) {
	dir, base := splitRel(rel)
	pfd, err := openat2(rootfd, dir, unix.O_PATH|unix.O_DIRECTORY, 0, beneath)
	if err != nil {
		return "", err
	}
	defer unix.Close(pfd)
	return readlinkFd(pfd, base)
}

func readlinkFd(dirfd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// errOutside reports a path that leaves its root lexically.
var errOutside = errors.New("path leaves the root")

// resolveInScope resolves p inside the tree at rootfd the way moby's
// symlink.FollowSymlinkInScope does, and returns the result as a clean
// relative path ("." for the root) that contains no symlink: p is first
// cleaned lexically ("a/../b" is "b", whatever "a" is); then each
// component that is a symlink is replaced by its target, an absolute
// target starting again at the root and ".." stopping there. A component
// that does not exist is kept as it is, with what follows it. With strict,
// a p that climbs above the root before any symlink is read is errOutside
// (docker's "forbidden path outside the build context"); otherwise it is
// clamped at the root, like a chroot.
func resolveInScope(rootfd int, p string, strict bool) (string, error) {
	if strict {
		// As filepath.Join(root, p) sees it: leading slashes are separators.
		c := path.Clean(strings.TrimLeft(p, "/"))
		if c == ".." || strings.HasPrefix(c, "../") {
			return "", errOutside
		}
	}
	rest := strings.TrimPrefix(path.Clean("/"+p), "/")
	var done []string // resolved components, none a symlink
	for n := 0; rest != ""; {
		var c string
		c, rest, _ = strings.Cut(rest, "/")
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		rel := strings.Join(append(done, c), "/")
		st, err := lstatAt(rootfd, rel)
		switch {
		case errors.Is(err, unix.ENOENT):
			done = append(done, c)
			continue
		case err != nil:
			return "", &os.PathError{Op: "lstat", Path: "/" + rel, Err: err}
		case st.Mode&unix.S_IFMT != unix.S_IFLNK:
			done = append(done, c)
			continue
		}
		if n++; n > maxLinks {
			return "", &os.PathError{Op: "resolve", Path: "/" + p, Err: unix.ELOOP}
		}
		target, err := readlinkAt(rootfd, rel)
		if err != nil {
			return "", &os.PathError{Op: "readlink", Path: "/" + rel, Err: err}
		}
		if strings.HasPrefix(target, "/") {
			done = done[:0]
		}
		if rest != "" {
			target += "/" + rest
		}
		rest = target
	}
	if len(done) == 0 {
		return ".", nil
	}
	return strings.Join(done, "/"), nil
}

// owner is who a created node belongs to; nil keeps the creator (root).
type owner struct{ uid, gid int }

// mkdirAll makes the directory rel (clean, resolved: no symlinks) under
// rootfd and its missing parents, mode 0755; new ones get own as owner
// (root when nil). It returns whether rel itself existed already. A
// component that exists but is not a directory is ENOTDIR.
func mkdirAll(rootfd int, rel string, own *owner) (existed bool, err error) {
	if rel == "." {
		return true, nil
	}
	fd, err := openat2(rootfd, rel, unix.O_PATH|unix.O_DIRECTORY, 0, beneath)
	if err == nil {
		unix.Close(fd)
		return true, nil
	}
	if !errors.Is(err, unix.ENOENT) {
		return false, err
	}
	cur := "."
	for _, c := range strings.Split(rel, "/") {
		next := joinRel(cur, c)
		fd, err := openat2(rootfd, next, unix.O_PATH|unix.O_DIRECTORY, 0, beneath)
		if err == nil {
			unix.Close(fd)
			cur = next
			continue
		}
		if !errors.Is(err, unix.ENOENT) {
			return false, err
		}
		pfd, err := openat2(rootfd, cur, unix.O_PATH|unix.O_DIRECTORY, 0, beneath)
		if err != nil {
			return false, err
		}
		err = unix.Mkdirat(pfd, c, 0o755)
		if err == nil && own != nil {
			err = unix.Fchownat(pfd, c, own.uid, own.gid, unix.AT_SYMLINK_NOFOLLOW)
		}
		if err == nil {
			// mkdirat's mode is subject to the umask; c was just made by
			// us and is no symlink.
			err = unix.Fchmodat(pfd, c, 0o755, 0)
		}
		unix.Close(pfd)
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return false, err
		}
		cur = next
	}
	return false, nil
}

// removeAt removes name under dirfd, and everything in it if it is a
// directory, never following a symlink. A missing name is no error.
func removeAt(dirfd int, name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return unix.Unlinkat(dirfd, name, 0)
	}
	fd, err := openat2(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY, 0, beneath)
	if err != nil {
		return err
	}
	names, err := readNames(fd)
	if err == nil {
		for _, n := range names {
			if err = removeAt(fd, n); err != nil {
				break
			}
		}
	}
	unix.Close(fd)
	if err != nil {
		return err
	}
	return unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
}

// readNames lists the directory open at fd (O_RDONLY), sorted. It does
// not take ownership of fd.
func readNames(fd int) ([]string, error) {
	dup, err := unix.Dup(fd)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(dup), "dir")
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	return names, nil
}

// Unix epoch, the earliest time docker's archive code sets.
var unixEpoch = time.Unix(0, 0)

// boundTime is go-archive's: a time before the epoch (the zero time
// included) becomes the epoch.
func boundTime(t time.Time) time.Time {
	if t.Before(unixEpoch) {
		return unixEpoch
	}
	return t
}

// setTimes sets atime and mtime of name under dirfd, never following it.
func setTimes(dirfd int, name string, atime, mtime time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(boundTime(atime).UnixNano()), unix.NsecToTimespec(boundTime(mtime).UnixNano())}
	return unix.UtimesNanoAt(dirfd, name, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// modeBits turns an os.FileMode's permission and special bits into the
// st_mode bits chmod takes.
func modeBits(m os.FileMode) uint32 {
	b := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		b |= unix.S_ISUID
	}
	if m&os.ModeSetgid != 0 {
		b |= unix.S_ISGID
	}
	if m&os.ModeSticky != 0 {
		b |= unix.S_ISVTX
	}
	return b
}

// pathErr names a path in a host error, keeping its class.
func pathErr(op, p string, err error) error {
	return classify(&os.PathError{Op: op, Path: p, Err: err}, "%w")
}

// fdPath is a /proc path for a descriptor, for the calls that only take
// paths (xattrs of a node that cannot be opened).
func fdPath(fd int, name string) string {
	return fmt.Sprintf("/proc/self/fd/%d/%s", fd, name)
}
