package engine

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/enginefs/enginefs/errdefs"
)

// resolveUser turns a docker user spec ("", "name", "uid", "name:group",
// "uid:gid") into "uid:gid", reading /etc/passwd and /etc/group of the
// container's root filesystem. Files are opened with RESOLVE_IN_ROOT so a
// symlink in the image cannot make the daemon read a host file.
func resolveUser(rootfs, spec string) (string, error) {
	if spec == "" {
		return "0:0", nil
	}
	user, group, hasGroup := strings.Cut(spec, ":")
	uid, uerr := strconv.Atoi(user)
	if uerr == nil && uid < 0 {
		return "", errdefs.Invalid("invalid user %q", spec)
	}
	gid := 0
	if uerr != nil || !hasGroup {
		// A name needs its uid; a bare uid takes its primary group from
		// passwd when it is listed there, else group 0 as docker does.
		found := false
		err := scanDB(rootfs, "/etc/passwd", func(f []string) bool {
			if len(f) < 4 || (f[0] != user && (uerr != nil || f[2] != user)) {
				return false
			}
			u, err1 := strconv.Atoi(f[2])
			g, err2 := strconv.Atoi(f[3])
			if err1 != nil || err2 != nil {
				return false
			}
			uid, gid, found = u, g, true
			return true
		})
		if uerr != nil && !found {
			if err != nil {
				return "", err
			}
			return "", errdefs.Invalid("unable to find user %s: no matching entries in passwd file", user)
		}
	}
	if hasGroup {
		g, gerr := strconv.Atoi(group)
		if gerr != nil {
			g = -1
			_ = scanDB(rootfs, "/etc/group", func(f []string) bool {
				if len(f) >= 3 && f[0] == group {
					if n, err := strconv.Atoi(f[2]); err == nil {
						g = n
						return true
					}
				}
				return false
			})
		}
		if g < 0 {
			return "", errdefs.Invalid("unable to find group %s: no matching entries in group file", group)
		}
		gid = g
	}
	return fmt.Sprintf("%d:%d", uid, gid), nil
}

// scanDB calls match for each colon-separated line of a file inside rootfs
// until it returns true. A missing file is errdefs.ErrInvalid.
func scanDB(rootfs, name string, match func([]string) bool) error {
	dirfd, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening rootfs: %w", err)
	}
	defer unix.Close(dirfd)
	fd, err := unix.Openat2(dirfd, strings.TrimPrefix(name, "/"), &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ENOENT) {
		return errdefs.Invalid("the image has no %s", name)
	}
	if err != nil {
		return fmt.Errorf("opening %s in the rootfs: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if match(strings.Split(line, ":")) {
			return nil
		}
	}
	return sc.Err()
}
