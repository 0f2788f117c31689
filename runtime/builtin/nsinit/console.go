//go:build linux

package nsinit

import (
	"fmt"
	"os"

	"github.com/enginefs/enginefs/errdefs"
	"golang.org/x/sys/unix"
)

// A container's terminal is allocated in the container's own devpts
// instance, as runc does: the program's tty is /dev/pts/N of the container
// (ttyname, `tty` and `ps` name it), the host's devpts is never exposed, and
// an exec'd process gets a pts of the same instance. For Start the child
// allocates it once /dev/pts is mounted and sends the master to Start over a
// socket (RecvFd); for Exec the parent allocates it with OpenPty through
// /proc/<pid>/root of the container's process.

// The major and minor numbers of /dev/ptmx.
const ptmxMajor, ptmxMinor = 5, 2

// OpenPty allocates a pseudo-terminal through dev/ptmx below the directory
// root, resolved as if root were "/", and returns its master and its slave,
// the slave owned by uid. The container controls its /dev: the path is
// first opened O_PATH and must be the ptmx device before it is opened for
// real (opening some other device, a watchdog say, could do harm).
func OpenPty(root int, uid int) (master, slave *os.File, err error) {
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	p, err := unix.Openat2(root, "dev/ptmx", &how)
	if err != nil {
		return nil, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	defer unix.Close(p)
	var st unix.Stat_t
	if err := unix.Fstat(p, &st); err != nil {
		return nil, nil, fmt.Errorf("stat /dev/ptmx: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != ptmxMajor || unix.Minor(st.Rdev) != ptmxMinor {
		return nil, nil, errdefs.Invalid("/dev/ptmx of the container is not the pty multiplexer")
	}
	m, err := unix.Open(procFd(p), unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	master = os.NewFile(uintptr(m), "/dev/ptmx")
	defer func() {
		if err != nil {
			master.Close()
		}
	}()
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	// TIOCGPTPEER opens the slave without a path lookup.
	s, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(m), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno != 0 {
		return nil, nil, fmt.Errorf("open pty slave: %w", errno)
	}
	n, err := unix.IoctlGetInt(m, unix.TIOCGPTN)
	if err != nil {
		unix.Close(int(s))
		return nil, nil, fmt.Errorf("pty number: %w", err)
	}
	slave = os.NewFile(s, fmt.Sprintf("/dev/pts/%d", n))
	if err := unix.Fchown(int(s), uid, -1); err != nil {
		slave.Close()
		return nil, nil, fmt.Errorf("chown pty: %w", err)
	}
	return master, slave, nil
}

// SetSize sets the terminal's size, rows then columns, if size is not nil.
func SetSize(master *os.File, size *[2]uint16) error {
	if size == nil {
		return nil
	}
	ws := unix.Winsize{Row: size[0], Col: size[1]}
	if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &ws); err != nil {
		return fmt.Errorf("terminal size: %w", err)
	}
	return nil
}

// setupConsole gives the container its terminal (the child's side of
// Start): a pty of the container's devpts, bound at /dev/console, made the
// stdio and controlling terminal of the child (a session leader), its
// master sent to Start. It runs after pivot_root, as root.
func (c *container) setupConsole() error {
	root, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("container init: console: %w", err)
	}
	defer unix.Close(root)
	master, slave, err := OpenPty(root, int(c.cfg.UID))
	if err != nil {
		return fmt.Errorf("container init: console: %w", err)
	}
	defer slave.Close()
	if err := SetSize(master, c.cfg.ConsoleSize); err != nil {
		master.Close()
		return fmt.Errorf("container init: console: %w", err)
	}
	err = sendFd(ConsoleFd, int(master.Fd()))
	master.Close()
	if err != nil {
		return fmt.Errorf("container init: send the console: %w", err)
	}
	if err := bind(root, procFd(int(slave.Fd())), "/dev/console", 0, true); err != nil {
		return fmt.Errorf("container init: bind the console: %w", err)
	}
	for fd := 0; fd < 3; fd++ {
		if err := unix.Dup3(int(slave.Fd()), fd, 0); err != nil {
			return fmt.Errorf("container init: console as stdio: %w", err)
		}
	}
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("container init: controlling terminal: %w", err)
	}
	return nil
}
