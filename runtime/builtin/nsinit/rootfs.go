//go:build linux

package nsinit

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/enginefs/enginefs/errdefs"
	"golang.org/x/sys/unix"
)

// procFd is a path through which the kernel reaches what fd refers to;
// mounting on it mounts on the directory (or file) fd was opened on.
func procFd(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// resolveInRoot resolves paths below a directory as if it were "/".
var resolveInRoot = unix.OpenHow{
	Flags:   unix.O_PATH | unix.O_CLOEXEC,
	Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
}

// openInRoot opens p, a path in the container, below the directory root,
// resolving symlinks as if root were "/" (so an image cannot point a mount
// outside its rootfs). Missing directories are created on the way, and the
// last component as an empty file when file is set; a dangling symlink on
// the way is followed, and its target created. The result is an O_PATH
// descriptor, to be closed by the caller.
func openInRoot(root int, p string, file bool) (int, error) {
	fd, err := unix.Openat2(root, joinPath(nil, p), &resolveInRoot)
	if !errors.Is(err, unix.ENOENT) {
		if err != nil {
			return -1, fmt.Errorf("open %s in the rootfs: %w", p, err)
		}
		return fd, nil
	}
	// Walk from root, each prefix resolved again by the kernel, creating
	// what is missing.
	parts := splitPath(p)
	var prefix []string
	for links := 0; len(parts) > 0; {
		name := parts[0]
		sub := joinPath(prefix, name)
		fd, err := unix.Openat2(root, sub, &resolveInRoot)
		switch {
		case err == nil:
			parts = parts[1:]
			if len(parts) == 0 {
				return fd, nil
			}
			unix.Close(fd)
			prefix = append(prefix, name)
			continue
		case !errors.Is(err, unix.ENOENT):
			return -1, fmt.Errorf("open %s in the rootfs: %w", "/"+sub, err)
		}
		target, err := createInRoot(root, prefix, name, file && len(parts) == 1)
		if errors.Is(err, errRetry) {
			if links++; links > 40 {
				return -1, fmt.Errorf("create %s in the rootfs: %w", "/"+sub, unix.EEXIST)
			}
			continue // open it again
		}
		if err != nil {
			return -1, fmt.Errorf("create %s in the rootfs: %w", "/"+sub, err)
		}
		if target != "" {
			if links++; links > 40 {
				return -1, fmt.Errorf("create %s in the rootfs: %w", p, unix.ELOOP)
			}
			if path.IsAbs(target) {
				prefix = nil
			}
			parts = append(splitPath(target), parts[1:]...)
		}
	}
	return unix.Openat2(root, ".", &resolveInRoot)
}

// createInRoot makes name, a directory or an empty file, in the directory
// prefix below root. If a symlink is in the way (it dangles, or openat2
// would have found its target), it returns the symlink's target instead.
func createInRoot(root int, prefix []string, name string, file bool) (symlink string, err error) {
	parent, err := unix.Openat2(root, joinPath(prefix, "."), &resolveInRoot)
	if err != nil {
		return "", err
	}
	defer unix.Close(parent)
	if file {
		var f int
		if f, err = unix.Openat(parent, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644); err == nil {
			unix.Close(f)
		}
	} else {
		err = unix.Mkdirat(parent, name, 0o755)
	}
	if errors.Is(err, unix.EEXIST) {
		buf := make([]byte, unix.PathMax)
		if n, lerr := unix.Readlinkat(parent, name, buf); lerr == nil {
			return string(buf[:n]), nil
		}
		// Made since our open: by another container sharing the
		// directory (a volume), say. The caller opens it again.
		return "", errRetry
	}
	return "", err
}

// errRetry is createInRoot's answer when name appeared meanwhile.
var errRetry = errors.New("created meanwhile")

// splitPath returns the components of p, without empty ones and ".".
func splitPath(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}

// joinPath joins prefix and p into a path relative to the root.
func joinPath(prefix []string, p string) string {
	j := strings.Join(append(append([]string(nil), prefix...), splitPath(p)...), "/")
	if j == "" {
		return "."
	}
	return j
}

// buildRoot prepares the rootfs with the spec's mounts and device nodes and
// makes it the root of the mount namespace. Paths are host paths until it
// returns, container paths afterwards.
func (c *container) buildRoot() error {
	// Nothing done below may propagate to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("container init: make / private: %w", err)
	}
	rootfs := c.cfg.Rootfs
	// pivot_root wants a mount point; the rootfs may be a plain directory.
	if err := unix.Mount(rootfs, rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("container init: bind rootfs %s: %w", rootfs, err)
	}
	root, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("container init: rootfs: %w", err)
	}
	defer unix.Close(root)

	for _, m := range c.cfg.Mounts {
		if err := c.mount(root, m); err != nil {
			return err
		}
	}
	if c.cfg.SetupDev {
		if err := c.setupDev(root); err != nil {
			return err
		}
	}
	// Last chance to join the cgroup: its host directories are out of
	// sight once the old root is gone.
	if err := c.gate.wait(); err != nil {
		return err
	}
	return pivotRoot(rootfs)
}

// mount performs one of the spec's mounts below root.
func (c *container) mount(root int, m Mount) error {
	switch m.Kind {
	case KindCgroup:
		if err := c.mountCgroup(root, m.Dest, m.Flags); err != nil {
			return fmt.Errorf("container init: mount cgroup on %s: %w", m.Dest, err)
		}
		return nil
	case KindBind:
		if err := bind(root, m.Source, m.Dest, m.Flags, m.File); err != nil {
			return fmt.Errorf("container init: bind mount %s on %s: %w", m.Source, m.Dest, err)
		}
	default:
		fd, err := openInRoot(root, m.Dest, false)
		if err != nil {
			return fmt.Errorf("container init: mount %s: %w", m.Type, err)
		}
		err = unix.Mount(m.Source, procFd(fd), m.Type, m.Flags, m.Data)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("container init: mount %s on %s (data %q): %w", m.Type, m.Dest, m.Data, err)
		}
	}
	for _, p := range m.Propagation {
		if err := remount(root, m.Dest, p, ""); err != nil {
			return fmt.Errorf("container init: mount propagation of %s: %w", m.Dest, err)
		}
	}
	return nil
}

// bind binds the host path src on dest below root, then remounts it with
// the flags that a bind mount ignores (ro, nosuid...).
func bind(root int, src, dest string, flags uintptr, file bool) error {
	fd, err := openInRoot(root, dest, file)
	if err != nil {
		return err
	}
	err = unix.Mount(src, procFd(fd), "", unix.MS_BIND|flags&unix.MS_REC, "")
	unix.Close(fd)
	if err != nil {
		return err
	}
	if rest := flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT); rest != 0 {
		return remount(root, dest, rest|unix.MS_BIND|unix.MS_REMOUNT, "")
	}
	return nil
}

// remount calls mount(2) with flags on what is mounted at dest below root
// now (an O_PATH descriptor opened before the mount would name the
// directory under it).
func remount(root int, dest string, flags uintptr, data string) error {
	fd, err := openInRoot(root, dest, false)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Mount("", procFd(fd), "", flags, data)
}

// mountCgroup gives the container its cgroup at dest: on cgroup v2 the
// container's cgroup directory (or, in a cgroup namespace, a cgroup2
// mount); on v1 a tmpfs holding the container's directory of each
// hierarchy, as runc does. It needs the cgroup, so it waits for the
// parent's go-ahead.
func (c *container) mountCgroup(root int, dest string, flags uintptr) error {
	if err := c.gate.wait(); err != nil {
		return err
	}
	dirs := c.cfg.Cgroups
	if len(dirs) == 1 && dirs[0].Name == "" {
		if !c.cfg.CgroupNS {
			return bind(root, dirs[0].Source, dest, flags|unix.MS_REC, false)
		}
		fd, err := openInRoot(root, dest, false)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return unix.Mount("cgroup2", procFd(fd), "cgroup2", flags, "")
	}
	fd, err := openInRoot(root, dest, false)
	if err != nil {
		return err
	}
	err = unix.Mount("tmpfs", procFd(fd), "tmpfs", flags&^unix.MS_RDONLY, "mode=755")
	unix.Close(fd)
	if err != nil {
		return err
	}
	for _, d := range dirs {
		if err := bind(root, d.Source, dest+"/"+d.Name, unix.MS_REC, false); err != nil {
			return fmt.Errorf("%s: %w", d.Name, err)
		}
	}
	// One mount_setattr makes the tmpfs and every bind read-only (and
	// nosuid...); before Linux 5.12, one remount each.
	err = setattrRecursive(root, dest, flags)
	if !errors.Is(err, unix.ENOSYS) {
		return err
	}
	for _, d := range dirs {
		if rest := flags &^ unix.MS_REC; rest != 0 {
			if err := remount(root, dest+"/"+d.Name, rest|unix.MS_BIND|unix.MS_REMOUNT, ""); err != nil {
				return fmt.Errorf("%s: %w", d.Name, err)
			}
		}
	}
	if flags&unix.MS_RDONLY != 0 {
		return remount(root, dest, flags|unix.MS_REMOUNT, "mode=755")
	}
	return nil
}

// setattrRecursive sets the read-only, nosuid, nodev and noexec flags of
// flags on the mount at dest below root and on every mount under it.
func setattrRecursive(root int, dest string, flags uintptr) error {
	var attr unix.MountAttr
	for ms, a := range map[uintptr]uint64{
		unix.MS_RDONLY: unix.MOUNT_ATTR_RDONLY,
		unix.MS_NOSUID: unix.MOUNT_ATTR_NOSUID,
		unix.MS_NODEV:  unix.MOUNT_ATTR_NODEV,
		unix.MS_NOEXEC: unix.MOUNT_ATTR_NOEXEC,
	} {
		if flags&ms != 0 {
			attr.Attr_set |= a
		}
	}
	if attr.Attr_set == 0 {
		return nil
	}
	fd, err := openInRoot(root, dest, false)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr)
}

// setupDev fills the container's /dev: the spec's device nodes and the
// usual symlinks (the console comes later, see setupConsole).
func (c *container) setupDev(root int) error {
	for _, d := range c.cfg.Devices {
		if err := createDevice(root, d); err != nil {
			return fmt.Errorf("container init: device %s: %w", d.Path, err)
		}
	}
	dev, err := openInRoot(root, "/dev", false)
	if err != nil {
		return fmt.Errorf("container init: %w", err)
	}
	defer unix.Close(dev)
	for _, l := range [][2]string{
		{"/proc/self/fd", "fd"},
		{"/proc/self/fd/0", "stdin"},
		{"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"},
	} {
		if err := unix.Symlinkat(l[0], dev, l[1]); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("container init: symlink /dev/%s: %w", l[1], err)
		}
	}
	if c.cfg.Devpts {
		// The ptys of this container are in its own devpts instance.
		if err := unix.Unlinkat(dev, "ptmx", 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("container init: /dev/ptmx: %w", err)
		}
		if err := unix.Symlinkat("pts/ptmx", dev, "ptmx"); err != nil {
			return fmt.Errorf("container init: symlink /dev/ptmx: %w", err)
		}
	}
	return nil
}

// createDevice makes the node d, or binds the host's node on an empty file
// where mknod is not allowed.
func createDevice(root int, d Device) error {
	dir, name := path.Split(d.Path)
	parent, err := openInRoot(root, dir, false)
	if err != nil {
		return err
	}
	defer unix.Close(parent)
	err = unix.Mknodat(parent, name, d.Mode, int(d.Dev))
	if errors.Is(err, unix.EEXIST) {
		if err = unix.Unlinkat(parent, name, 0); err == nil {
			err = unix.Mknodat(parent, name, d.Mode, int(d.Dev))
		}
	}
	if errors.Is(err, unix.EPERM) {
		return bind(root, d.Path, d.Path, 0, true)
	}
	if err != nil {
		return err
	}
	if d.UID >= 0 || d.GID >= 0 {
		return unix.Fchownat(parent, name, d.UID, d.GID, unix.AT_SYMLINK_NOFOLLOW)
	}
	return nil
}

// pivotRoot makes rootfs the root and detaches the old one, runc's way:
// pivot_root(".", ".") stacks the old root on the new one, and unmounting
// "." removes it.
func pivotRoot(rootfs string) error {
	oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("container init: pivot_root: %w", err)
	}
	defer unix.Close(oldroot)
	if err := unix.Chdir(rootfs); err != nil {
		return fmt.Errorf("container init: pivot_root: %w", err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("container init: pivot_root %s: %w", rootfs, err)
	}
	if err := unix.Fchdir(oldroot); err != nil {
		return fmt.Errorf("container init: pivot_root: %w", err)
	}
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("container init: pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("container init: detach the old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("container init: pivot_root: %w", err)
	}
	return nil
}

// statfsFlags are the mount flags statfs(2) reports (the ST_* values are
// the MS_* ones), kept when a mount is remounted read-only.
const statfsFlags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC |
	unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_RDONLY

// remountReadonly makes the mount at p (a container path) read-only,
// keeping its other flags.
func remountReadonly(p string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		return err
	}
	flags := uintptr(st.Flags) & statfsFlags
	return unix.Mount("", p, "", flags|unix.MS_RDONLY|unix.MS_BIND|unix.MS_REMOUNT, "")
}

// finishRoot applies what the spec asks of the root once it is "/": its
// propagation, sysctls (they need the container's /proc), read-only root,
// masked and read-only paths.
func (c *container) finishRoot() error {
	if c.cfg.RootPropagation != 0 {
		if err := unix.Mount("", "/", "", c.cfg.RootPropagation, ""); err != nil {
			return fmt.Errorf("container init: rootfs propagation: %w", err)
		}
	}
	for _, s := range c.cfg.Sysctls {
		if err := os.WriteFile("/proc/sys/"+s.Path, []byte(s.Value), 0); err != nil {
			return errdefs.Invalid("container init: sysctl %s=%s: %w", strings.ReplaceAll(s.Path, "/", "."), s.Value, err)
		}
	}
	if c.cfg.ReadonlyRoot {
		if err := remountReadonly("/"); err != nil {
			return fmt.Errorf("container init: read-only rootfs: %w", err)
		}
	}
	for _, p := range c.cfg.MaskedPaths {
		err := unix.Mount("/dev/null", p, "", unix.MS_BIND, "")
		if errors.Is(err, unix.ENOTDIR) {
			err = unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY, "")
		}
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("container init: mask %s: %w", p, err)
		}
	}
	for _, p := range c.cfg.ReadonlyPaths {
		err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, "")
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err == nil {
			err = remountReadonly(p)
		}
		if err != nil {
			return fmt.Errorf("container init: read-only %s: %w", p, err)
		}
	}
	return nil
}
