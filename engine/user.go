package engine

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/enginefs/enginefs/errdefs"
)

// processUser resolves a docker user spec ("", "name", "uid", "name:group",
// "uid:gid") and the container's GroupAdd into the process's uid, gid and
// supplementary groups, reading /etc/passwd and /etc/group of the container's
// root filesystem as docker does: the supplementary groups are those that
// list the user by name, plus GroupAdd.
func (e *Engine) processUser(rec Record, rootfs, spec string) (specs.User, error) {
	uid, gid, name, err := resolveUser(rootfs, spec)
	if err != nil {
		return specs.User{}, err
	}
	u := specs.User{UID: uid, GID: gid}
	seen := map[uint32]bool{gid: true}
	add := func(g uint32) {
		if !seen[g] {
			seen[g] = true
			u.AdditionalGids = append(u.AdditionalGids, g)
		}
	}
	if name != "" {
		_ = scanDB(rootfs, "/etc/group", func(f []string) bool {
			if len(f) >= 4 {
				for _, m := range strings.Split(f[3], ",") {
					if m == name {
						if g, err := strconv.ParseUint(f[2], 10, 32); err == nil {
							add(uint32(g))
						}
					}
				}
			}
			return false
		})
	}
	for _, g := range rec.Config.GroupAdd {
		gid, err := resolveGroup(rootfs, g)
		if err != nil {
			return specs.User{}, err
		}
		add(gid)
	}
	return u, nil
}

// resolveUser turns a docker user spec into uid, gid and the user's name (if
// passwd knows it).
func resolveUser(rootfs, spec string) (uid, gid uint32, name string, err error) {
	if spec == "" {
		spec = "0"
	}
	user, group, hasGroup := strings.Cut(spec, ":")
	n, uerr := strconv.ParseUint(user, 10, 32)
	uid = uint32(n)
	found := false
	// A name needs its uid; a uid takes its primary group from passwd when
	// listed there, else group 0 as docker does.
	perr := scanDB(rootfs, "/etc/passwd", func(f []string) bool {
		if len(f) < 4 || (f[0] != user && (uerr != nil || f[2] != user)) {
			return false
		}
		u, err1 := strconv.ParseUint(f[2], 10, 32)
		g, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 != nil || err2 != nil {
			return false
		}
		uid, gid, name, found = uint32(u), uint32(g), f[0], true
		return true
	})
	if uerr != nil && !found {
		if perr != nil {
			return 0, 0, "", perr
		}
		return 0, 0, "", errdefs.Invalid("unable to find user %s: no matching entries in passwd file", user)
	}
	if hasGroup {
		if gid, err = resolveGroup(rootfs, group); err != nil {
			return 0, 0, "", err
		}
	}
	return uid, gid, name, nil
}

// resolveGroup turns a group name or gid into a gid.
func resolveGroup(rootfs, group string) (uint32, error) {
	if n, err := strconv.ParseUint(group, 10, 32); err == nil {
		return uint32(n), nil
	}
	gid, found := uint32(0), false
	_ = scanDB(rootfs, "/etc/group", func(f []string) bool {
		if len(f) >= 3 && f[0] == group {
			if n, err := strconv.ParseUint(f[2], 10, 32); err == nil {
				gid, found = uint32(n), true
				return true
			}
		}
		return false
	})
	if !found {
		return 0, errdefs.Invalid("unable to find group %s: no matching entries in group file", group)
	}
	return gid, nil
}

// scanDB calls match for each colon-separated line of a file inside rootfs
// until it returns true. The file is opened with RESOLVE_IN_ROOT so a
// symlink in the image cannot make the daemon read a host file. A missing
// file is errdefs.ErrInvalid.
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
