package testenv

import (
	"debug/elf"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// Busybox is where Debian's busybox-static installs its binary.
const Busybox = "/bin/busybox"

// FUSE is nil when /dev/fuse can be opened (a FUSE mount needs it, and
// root).
func FUSE() error {
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return f.Close()
}

var overlay struct {
	once sync.Once
	err  error
}

// Overlayfs is nil when the kernel mounts an overlayfs: it mounts one of
// two lower directories, an upper and a work directory in a temporary
// directory, and unmounts it. Needs root (the error says so without it).
func Overlayfs() error {
	overlay.once.Do(func() { overlay.err = probeOverlay() })
	return overlay.err
}

func probeOverlay() error {
	if err := Root(); err != nil {
		return fmt.Errorf("mounting overlayfs: %w", err)
	}
	dir, err := os.MkdirTemp("", "testenv-overlay-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, d := range []string{"l1", "l2", "u", "w", "m"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	j := func(d string) string { return filepath.Join(dir, d) }
	opts := fmt.Sprintf("lowerdir=%s:%s,upperdir=%s,workdir=%s", j("l1"), j("l2"), j("u"), j("w"))
	if err := unix.Mount("overlay", j("m"), "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount -t overlay: %w", err)
	}
	return unix.Unmount(j("m"), unix.MNT_DETACH)
}

// NFTables is nil when the kernel answers nf_tables requests over netlink
// (it lists the tables of the inet family). Needs root.
func NFTables() error {
	if err := Root(); err != nil {
		return fmt.Errorf("nf_tables over netlink: %w", err)
	}
	conn, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nf_tables over netlink: %w", err)
	}
	defer conn.CloseLasting()
	if _, err := conn.ListTablesOfFamily(nftables.TableFamilyINet); err != nil {
		return fmt.Errorf("nf_tables over netlink: listing inet tables: %w", err)
	}
	return nil
}

// Binary returns the path of the command name, looked up in PATH (or name
// itself when it holds a slash); the error names the Debian package that
// installs it.
func Binary(name, debianPackage string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s (Debian's %s): %w", name, debianPackage, err)
	}
	return p, nil
}

// NeedBinary returns the path of the command name, or skips tb (fails it
// under CI) naming the Debian package that installs it.
func NeedBinary(tb testing.TB, name, debianPackage string) string {
	tb.Helper()
	p, err := Binary(name, debianPackage)
	Need(tb, name, err)
	return p
}

// StaticBusybox is nil when Busybox is a static executable, so that it runs
// alone in a container's root file system.
func StaticBusybox() error {
	f, err := elf.Open(Busybox)
	if err != nil {
		return fmt.Errorf("%s (Debian's busybox-static): %w", Busybox, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked (Debian's busybox-static installs a static one)", Busybox)
		}
	}
	return nil
}

// Cgroups is nil when a cgroup file system is mounted at /sys/fs/cgroup.
func Cgroups() error {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		return fmt.Errorf("/sys/fs/cgroup: %w", err)
	}
	switch st.Type {
	case unix.CGROUP_SUPER_MAGIC, unix.CGROUP2_SUPER_MAGIC, unix.TMPFS_MAGIC: // v2, or v1/hybrid (a tmpfs of hierarchies)
		return nil
	}
	return errors.New("/sys/fs/cgroup is not a cgroup file system")
}

// NeedContainers needs what a container of the built-in runtime needs:
// root, cgroups and a static busybox for its root file system.
func NeedContainers(tb testing.TB) {
	tb.Helper()
	NeedRoot(tb)
	Need(tb, "a cgroup file system", Cgroups())
	Need(tb, "Debian's busybox-static", StaticBusybox())
}

// IPv6Loopback is nil when a TCP socket can listen on ::1.
func IPv6Loopback() error {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return fmt.Errorf("listening on [::1]: %w", err)
	}
	return l.Close()
}
