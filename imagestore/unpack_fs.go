package imagestore

import (
	"archive/tar"
	"errors"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// resolveFlags confine every path walk of the unpacker: nothing above the
// starting directory, no symlink of any kind, no other mount.
const resolveFlags = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV

// openDir returns an O_PATH descriptor of the directory rel (clean,
// relative, "." for the root) under the layer root. With create, missing
// components are made (0755, root-owned). A component that is a symlink or
// not a directory is an ErrInvalid error naming the entry: a layer never
// needs to write through a symlink of its own.
func (u *unpacker) openDir(hdr *tar.Header, rel string, create bool) (int, error) {
	how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolveFlags}
	fd, err := unix.Openat2(u.root, rel, how)
	if err == nil {
		return fd, nil
	}
	if !errors.Is(err, unix.ENOENT) || !create {
		return -1, u.dirError(hdr, rel, err)
	}
	// Walk down, creating what is missing.
	cur, err := unix.Openat2(u.root, ".", how)
	if err != nil {
		return -1, u.fail(hdr, "open layer root", err)
	}
	for _, c := range strings.Split(rel, "/") {
		next, err := unix.Openat2(cur, c, how)
		if errors.Is(err, unix.ENOENT) {
			// c does not exist (a dangling symlink would be ELOOP), so
			// the directory made here is the node chmod and open reach.
			if err = unix.Mkdirat(cur, c, 0o755); err == nil {
				err = unix.Fchmodat(cur, c, 0o755, 0) // mkdirat's mode is subject to the umask
			}
			if err == nil {
				next, err = unix.Openat2(cur, c, how)
			}
		}
		unix.Close(cur)
		if err != nil {
			return -1, u.dirError(hdr, rel, err)
		}
		cur = next
	}
	return cur, nil
}

// dirError explains why a parent directory could not be opened.
func (u *unpacker) dirError(hdr *tar.Header, rel string, err error) error {
	switch {
	case errors.Is(err, unix.ELOOP), errors.Is(err, unix.EXDEV):
		return entryError(hdr, "path %q goes through a symlink", rel)
	case errors.Is(err, unix.ENOTDIR):
		return entryError(hdr, "path %q goes through something that is not a directory", rel)
	case errors.Is(err, unix.ENOENT):
		return entryError(hdr, "directory %q is not in the layer", rel)
	}
	return u.fail(hdr, "open "+rel, err)
}

// replace removes whatever the layer already has at base (a later entry
// replaces an earlier one), a directory with all it holds.
func (u *unpacker) replace(hdr *tar.Header, pfd int, base string) error {
	var st unix.Stat_t
	err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil
	case err != nil:
		return u.fail(hdr, "stat", err)
	case st.Mode&unix.S_IFMT == unix.S_IFDIR:
		err = removeAllAt(pfd, base)
	default:
		err = unix.Unlinkat(pfd, base, 0)
	}
	if err != nil {
		return u.fail(hdr, "remove earlier entry", err)
	}
	return nil
}

// removeAllAt removes the directory name under dirfd and everything in it,
// never following a symlink.
func removeAllAt(dirfd int, name string) error {
	fd, err := unix.Openat2(dirfd, name, &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolveFlags})
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), name)
	names, err := f.Readdirnames(-1)
	if err == nil {
		for _, n := range names {
			var st unix.Stat_t
			if err = unix.Fstatat(fd, n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				break
			}
			if st.Mode&unix.S_IFMT == unix.S_IFDIR {
				err = removeAllAt(fd, n)
			} else {
				err = unix.Unlinkat(fd, n, 0)
			}
			if err != nil {
				break
			}
		}
	}
	f.Close()
	if err != nil {
		return err
	}
	return unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
}
