package imagestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/enginefs/enginefs/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// maxLayers is overlayfs' limit on lower directories (OVL_MAX_STACK).
const maxLayers = 500

// Mount mounts img's root file system at target: an overlayfs whose lower
// directories are the image's unpacked layers (top layer first), with
// upperdir scratch/upper and workdir scratch/work, created if missing (and
// target too). A container's changes land in scratch/upper. The mount is
// the caller's to Unmount; it outlives the Store.
//
// Layers are passed one by one with fsconfig(2)'s "lowerdir+" key (Linux
// 6.8 and later), so the page-sized limit of mount(2) options does not
// apply and up to 500 layers stack. On older kernels Mount falls back to
// mount(2) with the full option string and fails with errdefs.ErrInvalid
// if that exceeds a page (about 45 layers at the default root).
//
// Errors: a target that already is a mount point is errdefs.ErrBusy; an
// image whose layers are not in this store errdefs.ErrNotFound; a host
// without overlayfs errdefs.ErrUnavailable.
//
// WithIDMap makes the layers appear owned as a user namespace sees them
// (idmapped mounts of each layer under the overlay) and gives the upper
// and work directories to that namespace's root: a remapped container's
// root owns its image's root-owned files, while the layers on disk stay as
// they are, shared with every other container.
func (s *Store) Mount(ctx context.Context, img *Image, target, scratch string, opts ...MountOption) error {
	var o mountOptions
	for _, opt := range opts {
		opt(&o)
	}
	if err := ctx.Err(); err != nil {
		return classify(err, "mount %s: %w", img.ID)
	}
	if len(img.Layers) > maxLayers {
		return errdefs.Invalid("mount %s: %d layers, overlayfs stacks at most %d", img.ID, len(img.Layers), maxLayers)
	}
	lowers := []string{filepath.Join(s.root, "empty")}
	if len(img.Layers) > 0 {
		lowers = lowers[:0]
		for _, l := range slices.Backward(img.Layers) {
			h, err := v1.NewHash(l)
			if err != nil {
				return errdefs.Invalid("mount %s: bad layer %q: %w", img.ID, l, err)
			}
			dir := s.layerDir(h)
			if _, err := os.Stat(dir); err != nil {
				return classify(err, "mount %s: layer %s is not unpacked: %w", img.ID, l)
			}
			lowers = append(lowers, dir)
		}
	}
	upper, work := filepath.Join(scratch, "upper"), filepath.Join(scratch, "work")
	for _, d := range []string{target, upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return classify(err, "mount %s: %w", img.ID)
		}
	}
	if mounted, err := isMountPoint(target); err != nil {
		return classify(err, "mount %s: %w", img.ID)
	} else if mounted {
		return errdefs.Busy("mount %s: %s is already a mount point", img.ID, target)
	}
	if o.userns != nil {
		for _, d := range []string{upper, work} {
			if err := os.Lchown(d, o.uid, o.gid); err != nil {
				return classify(err, "mount %s: %w", img.ID)
			}
		}
		staged, release, err := idmapLayers(lowers, filepath.Join(scratch, "lower"), o.userns)
		defer release()
		if err != nil {
			return fmt.Errorf("mount %s: %w", img.ID, err)
		}
		lowers = staged
	}
	if err := mountOverlay(lowers, upper, work, target); err != nil {
		return fmt.Errorf("mount %s at %s: %w", img.ID, target, err)
	}
	return nil
}

// MountOption changes how Mount mounts.
type MountOption func(*mountOptions)

type mountOptions struct {
	userns   *os.File
	uid, gid int
}

// WithIDMap maps the layers through the user namespace ns (an open
// /proc/PID/ns/user) and gives the upper directory to uid:gid, the host ids
// of the namespace's root.
func WithIDMap(ns *os.File, uid, gid int) MountOption {
	return func(o *mountOptions) { o.userns, o.uid, o.gid = ns, uid, gid }
}

// idmapLayers makes an idmapped mount of each layer directory under dir (the
// overlay takes lower directories by path) and returns their paths. release
// detaches them: the overlay keeps its own references.
func idmapLayers(layers []string, dir string, ns *os.File) (staged []string, release func(), err error) {
	var mounted []string
	release = func() {
		for _, m := range mounted {
			_ = unix.Unmount(m, unix.MNT_DETACH)
			_ = os.Remove(m)
		}
		_ = os.Remove(dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, release, classify(err, "idmap: %w")
	}
	for i, l := range layers {
		fd, err := unix.OpenTree(unix.AT_FDCWD, l, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
		if err != nil {
			return nil, release, classify(err, "idmap layer %s: open_tree: %w", l)
		}
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(ns.Fd())}
		err = unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr)
		if err == nil {
			p := filepath.Join(dir, strconv.Itoa(i))
			if err = os.Mkdir(p, 0o700); err == nil {
				if err = unix.MoveMount(fd, "", unix.AT_FDCWD, p, unix.MOVE_MOUNT_F_EMPTY_PATH); err == nil {
					mounted = append(mounted, p)
					staged = append(staged, p)
				}
			}
		}
		unix.Close(fd)
		if err != nil {
			if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
				return nil, release, errdefs.Unavailable("idmap layer %s: the host cannot idmap mounts of it (Linux 5.12+, and a file system that allows it): %w", l, err)
			}
			return nil, release, classify(err, "idmap layer %s: %w", l)
		}
	}
	return staged, release, nil
}

// isMountPoint reports whether p is the root of a mount.
func isMountPoint(p string) (bool, error) {
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, p, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS, &stx); err != nil {
		return false, &os.PathError{Op: "statx", Path: p, Err: err}
	}
	if stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		return false, errdefs.Unavailable("statx of %s does not report mount roots (Linux 5.8 or later needed)", p)
	}
	return stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0, nil
}

// mountOverlay mounts an overlayfs with the new mount API, falling back to
// mount(2) where "lowerdir+" is unknown.
func mountOverlay(lowers []string, upper, work, target string) error {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if errors.Is(err, unix.ENOSYS) {
		return mountOverlayLegacy(lowers, upper, work, target)
	}
	if err != nil {
		if errors.Is(err, unix.ENODEV) {
			return errdefs.Unavailable("overlayfs is not available on this host: %w", err)
		}
		return classify(err, "fsopen overlay: %w")
	}
	defer unix.Close(fd)
	set := func(key, value string) error {
		if err := unix.FsconfigSetString(fd, key, value); err != nil {
			return fsError(fd, fmt.Sprintf("overlay option %s=%s", key, value), err)
		}
		return nil
	}
	if err := set("source", "overlay"); err != nil {
		return err
	}
	for i, l := range lowers {
		if err := unix.FsconfigSetString(fd, "lowerdir+", l); err != nil {
			if i == 0 && errors.Is(err, unix.EINVAL) {
				return mountOverlayLegacy(lowers, upper, work, target)
			}
			return fsError(fd, "overlay lowerdir+ "+l, err)
		}
	}
	if err := set("upperdir", upper); err != nil {
		return err
	}
	if err := set("workdir", work); err != nil {
		return err
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return fsError(fd, "create overlay", err)
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return fsError(fd, "fsmount", err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return classify(err, "move_mount to %s: %w", target)
	}
	return nil
}

// fsError adds the messages the kernel left on a file system context to
// an fsconfig error.
func fsError(fd int, what string, err error) error {
	var msgs []string
	buf := make([]byte, 1024)
	for {
		n, rerr := unix.Read(fd, buf)
		if rerr != nil || n <= 0 {
			break
		}
		msgs = append(msgs, strings.TrimSpace(string(buf[:n])))
	}
	if len(msgs) > 0 {
		return classify(err, "%s (%s): %w", what, strings.Join(msgs, "; "))
	}
	return classify(err, "%s: %w", what)
}

// mountOverlayLegacy mounts with mount(2), whose options must fit a page.
func mountOverlayLegacy(lowers []string, upper, work, target string) error {
	for _, p := range append([]string{upper, work}, lowers...) {
		if strings.ContainsAny(p, ":,\\") {
			return errdefs.Invalid("overlay path %q contains ':', ',' or '\\', which mount(2) options cannot carry", p)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(lowers, ":"), upper, work)
	if limit := os.Getpagesize() - 1; len(opts) > limit {
		return errdefs.Invalid("overlay options for %d layers are %d bytes, over mount(2)'s %d-byte limit (this kernel lacks fsconfig lowerdir+)", len(lowers), len(opts), limit)
	}
	if err := unix.Mount("overlay", target, "overlay", 0, opts); err != nil {
		if errors.Is(err, unix.ENODEV) {
			return errdefs.Unavailable("overlayfs is not available on this host: %w", err)
		}
		return classify(err, "mount overlay: %w")
	}
	return nil
}

// Unmount unmounts target, as mounted by Mount. A target that is not
// mounted, or not there, is not an error. A mount still in use is
// errdefs.ErrBusy.
func Unmount(target string) error {
	err := unix.Unmount(target, 0)
	switch {
	case err == nil, errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
		return nil
	case errors.Is(err, unix.EBUSY):
		return errdefs.Busy("unmount %s: still in use", target)
	}
	return classify(err, "unmount %s: %w", target)
}
