package builder

import (
	"errors"
	"strings"

	"golang.org/x/sys/unix"
)

// inRoot resolves paths as the container would see them: ".." stops at
// the root, an absolute symlink is relative to it, and nothing leads out.
var inRoot = unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}

// mkdirInRoot makes the directory dir (absolute, as the container sees
// it) and its missing parents in the root file system root, root-owned
// and 0755, as docker's WORKDIR does.
func mkdirInRoot(root, dir string) error {
	rfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(rfd)
	cur := "."
	for _, c := range strings.Split(strings.Trim(dir, "/"), "/") {
		if c == "" || c == "." {
			continue
		}
		next := cur + "/" + c
		fd, err := unix.Openat2(rfd, next, &inRoot)
		if errors.Is(err, unix.ENOENT) {
			pfd, perr := unix.Openat2(rfd, cur, &inRoot)
			if perr != nil {
				return perr
			}
			err = unix.Mkdirat(pfd, c, 0o755)
			if err == nil {
				err = unix.Fchmodat(pfd, c, 0o755, 0)
			}
			unix.Close(pfd)
			if err != nil && !errors.Is(err, unix.EEXIST) {
				return err
			}
			fd, err = unix.Openat2(rfd, next, &inRoot)
		}
		if err != nil {
			return err
		}
		unix.Close(fd)
		cur = next
	}
	return nil
}
