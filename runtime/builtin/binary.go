//go:build linux

package builtin

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime/builtin/nsinit"
	"golang.org/x/sys/unix"
)

// binary is the executable Start and Exec run as the child, the one
// WithBinary names. The running program (DefaultBinary) is run by its
// path. Any other file is copied once, by New, into a sealed memfd that
// every child runs instead (through /proc/self/fd, as its last
// descriptor), for two reasons:
//
//   - A program of a container can reach the child's executable: a
//     program whose first line is "#!/proc/self/exe" makes the kernel run
//     it again in the container, where another process may then open it
//     through /proc/<pid>/exe and, once nothing runs it any more, write to
//     it (CVE-2019-5736). A file on the host would take the attacker's
//     code into the next container start, as root on the host; nobody can
//     write a sealed memfd. (The running program needs no copy: nobody can
//     write an executable that runs, and it runs as long as the containers
//     it started may.)
//   - A file replaced on disk (an upgrade) never changes what a running
//     runtime starts: the child is always the one that speaks this
//     parent's protocol.
type binary struct {
	path string   // the file given to New
	copy *os.File // its sealed copy, or nil to run path
}

// openBinary returns the binary for path, copying it unless it is
// DefaultBinary. A missing file is errdefs.ErrNotFound; a host that cannot
// make the copy (no memfd, or vm.memfd_noexec=2) errdefs.ErrUnavailable.
func openBinary(path string) (*binary, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, errdefs.NotFound("builtin runtime: binary %s: %w", path, err)
	}
	if filepath.Clean(path) == DefaultBinary {
		return &binary{path: path}, nil
	}
	f, err := sealedCopy(path)
	if err != nil {
		return nil, errdefs.Unavailable("builtin runtime: copy binary %s: %w", path, err)
	}
	return &binary{path: path, copy: f}, nil
}

// sealedCopy copies the file at path into a memfd that can no longer be
// written, grown, shrunk or made non-executable.
func sealedCopy(path string) (*os.File, error) {
	src, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	flags := unix.MFD_CLOEXEC | unix.MFD_ALLOW_SEALING
	fd, err := unix.MemfdCreate(nsinit.InitArg0, flags|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) {
		// Before Linux 6.3 every memfd is executable, and MFD_EXEC unknown.
		fd, err = unix.MemfdCreate(nsinit.InitArg0, flags)
	}
	if err != nil {
		return nil, fmt.Errorf("memfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), "memfd:"+nsinit.InitArg0)
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return nil, err
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	_, err = unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals|unix.F_SEAL_EXEC)
	if errors.Is(err, unix.EINVAL) {
		// Before Linux 6.3, without F_SEAL_EXEC, a container that reaches
		// the copy may chmod it: later starts would fail, nothing worse.
		_, err = unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("seal: %w", err)
	}
	return f, nil
}

// command returns the path to execute and the child's descriptors: files,
// plus the sealed copy as the last one when there is a copy.
func (b *binary) command(files []*os.File) (string, []*os.File) {
	if b.copy == nil {
		return b.path, files
	}
	files = append(files[:len(files):len(files)], b.copy)
	return "/proc/self/fd/" + strconv.Itoa(len(files)-1), files
}
