package volume

import (
	"errors"
	"io"
	iofs "io/fs"
	"os"
	"strings"
	"syscall"
	"time"
)

// populate fills an empty volume at dst with what the image has at dest in
// the container's root filesystem, as docker does the first time a volume
// is mounted: contents, modes, owners, symbolic links and times. Both sides
// are opened as os.Roots, so a symbolic link in the image (or in the
// volume) never leads the copy out of either.
func populate(rootfs, dest, dst string) error {
	to, err := os.OpenRoot(dst)
	if err != nil {
		return err
	}
	defer to.Close()
	if empty, err := isEmpty(to); err != nil || !empty {
		return err
	}
	image, err := os.OpenRoot(rootfs)
	if err != nil {
		return err
	}
	defer image.Close()
	rel := strings.TrimPrefix(dest, "/")
	fi, err := image.Stat(rel)
	if errors.Is(err, os.ErrNotExist) || (err == nil && !fi.IsDir()) {
		return nil // nothing to copy
	}
	if err != nil {
		return err
	}
	from, err := image.OpenRoot(rel)
	if err != nil {
		return err
	}
	defer from.Close()
	type dirTimes struct {
		name  string
		mtime time.Time
	}
	var dirs []dirTimes
	err = iofs.WalkDir(from.FS(), ".", func(name string, d iofs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := from.Lstat(name)
		if err != nil {
			return err
		}
		switch {
		case name == ".":
			dirs = append(dirs, dirTimes{".", info.ModTime()})
		case info.IsDir():
			// os.Root's Mkdir takes permission bits only, and the
			// daemon's umask applies: the mode is set below.
			if err := to.Mkdir(name, 0o700); err != nil {
				return err
			}
			dirs = append(dirs, dirTimes{name, info.ModTime()})
		case info.Mode()&os.ModeSymlink != 0:
			target, err := from.Readlink(name)
			if err == nil {
				err = to.Symlink(target, name)
			}
			if err != nil {
				return err
			}
		case info.Mode().IsRegular():
			if err := copyFile(from, to, name); err != nil {
				return err
			}
		default:
			return nil // devices, fifos, sockets: not in volumes
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			if err := to.Lchown(name, int(st.Uid), int(st.Gid)); err != nil {
				return err
			}
		}
		if info.Mode()&os.ModeSymlink != 0 {
			return nil
		}
		// The image's mode exactly, after the chown (which clears setuid
		// and setgid).
		if err := to.Chmod(name, info.Mode()&(os.ModePerm|os.ModeSetuid|os.ModeSetgid|os.ModeSticky)); err != nil {
			return err
		}
		if info.IsDir() {
			return nil
		}
		return to.Chtimes(name, info.ModTime(), info.ModTime())
	})
	if err != nil {
		return err
	}
	// Directory times last: filling a directory changes its mtime.
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = to.Chtimes(dirs[i].name, dirs[i].mtime, dirs[i].mtime)
	}
	return nil
}

func copyFile(from, to *os.Root, name string) error {
	in, err := from.Open(name)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := to.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// isEmpty reports whether the directory of r holds nothing.
func isEmpty(r *os.Root) (bool, error) {
	f, err := r.Open(".")
	if err != nil {
		return false, err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	return len(names) == 0, err
}
