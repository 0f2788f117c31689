package netdrv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/enginefs/enginefs/errdefs"
)

// Namespace is a network namespace kept alive by a bind mount of its nsfs
// file at a path (as `ip netns add` does), so that it outlives the processes
// in it: the daemon makes it before the container starts, the runtime joins
// it by path (the spec's linux.namespaces[].path), and a daemon that
// restarts finds it again.
type Namespace string

// Path returns the namespace file.
func (ns Namespace) Path() string { return string(ns) }

// CreateNamespace makes a new network namespace, bind-mounted at path (whose
// directory is created), with lo up. An existing namespace file at path is an
// errdefs.ErrAlreadyExists error.
func CreateNamespace(path string) (Namespace, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("network namespace %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if errors.Is(err, os.ErrExist) {
		return "", errdefs.AlreadyExists("network namespace %s already exists", path)
	}
	if err != nil {
		return "", fmt.Errorf("network namespace %s: %w", path, err)
	}
	f.Close()
	if err := unshareAt(path); err != nil {
		os.Remove(path)
		return "", fmt.Errorf("network namespace %s: %w", path, err)
	}
	ns := Namespace(path)
	if err := ns.loopbackUp(); err != nil {
		_ = DeleteNamespace(path)
		return "", err
	}
	return ns, nil
}

// BindNamespace makes the namespace file src (a /proc/PID/ns/... of a
// process that made it) live at path, as CreateNamespace does for the ones
// it makes; for a network namespace, lo is brought up. It is how a network
// namespace owned by a container's user namespace is kept: only a process
// in that user namespace can make it.
func BindNamespace(src, path string, network bool) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("namespace %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if errors.Is(err, os.ErrExist) {
		return errdefs.AlreadyExists("namespace %s already exists", path)
	}
	if err != nil {
		return fmt.Errorf("namespace %s: %w", path, err)
	}
	f.Close()
	if err := unix.Mount(src, path, "", unix.MS_BIND, ""); err != nil {
		os.Remove(path)
		return fmt.Errorf("namespace %s: bind mount: %w", path, err)
	}
	if network {
		if err := Namespace(path).loopbackUp(); err != nil {
			_ = DeleteNamespace(path)
			return err
		}
	}
	return nil
}

// unshareAt makes a new network namespace on a thread of its own and binds it
// at path. The thread goes back to the daemon's namespace; if it cannot, it
// stays locked and dies with its goroutine rather than serve other
// goroutines from the wrong namespace.
func unshareAt(path string) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			runtime.UnlockOSThread()
			return
		}
		defer orig.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare: %w", err)
			runtime.UnlockOSThread()
			return
		}
		err = unix.Mount(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()), path, "", unix.MS_BIND, "")
		if serr := netns.Set(orig); serr != nil {
			errc <- errors.Join(err, fmt.Errorf("back to the daemon's namespace: %w", serr))
			return // the thread stays locked: Go ends it with the goroutine
		}
		runtime.UnlockOSThread()
		if err != nil {
			err = fmt.Errorf("bind mount: %w", err)
		}
		errc <- err
	}()
	return <-errc
}

// DeleteNamespace unmounts and removes the namespace file at path. The
// namespace itself, and the interfaces in it, go once no process is left in
// it. A path that does not exist is not an error.
func DeleteNamespace(path string) error {
	err := unix.Unmount(path, unix.MNT_DETACH)
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("network namespace %s: unmount: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("network namespace %s: %w", path, err)
	}
	return nil
}

// IsNamespace reports whether path holds a live namespace (a bind mount of
// an nsfs file), as opposed to the empty file a crash may leave.
func IsNamespace(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC
}

// Handle returns a netlink handle in the namespace. Close it after use.
func (ns Namespace) Handle() (*netlink.Handle, error) {
	h, err := netns.GetFromPath(string(ns))
	if err != nil {
		return nil, fmt.Errorf("network namespace %s: %w", ns, err)
	}
	defer h.Close()
	nh, err := netlink.NewHandleAt(h)
	if err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", ns, err)
	}
	return nh, nil
}

// Do runs fn on an OS thread that is in the namespace, for what must be made
// there (a socket: it stays in the namespace it was made in). The thread
// comes back to the daemon's namespace afterwards, or is thrown away.
func (ns Namespace) Do(fn func() error) error {
	target, err := netns.GetFromPath(string(ns))
	if err != nil {
		return fmt.Errorf("network namespace %s: %w", ns, err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("entering %s: %w", ns, err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, err) // the thread stays locked and dies
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

func (ns Namespace) loopbackUp() error {
	h, err := ns.Handle()
	if err != nil {
		return err
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		return fmt.Errorf("network namespace %s: lo up: %w", ns, err)
	}
	return nil
}
