//go:build linux

package oci

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"golang.org/x/sys/unix"
)

// consoleTimeout bounds the wait for the terminal's master once the binary
// has returned, by when it has sent it.
const consoleTimeout = 10 * time.Second

// consoleSocket is the unix socket given to the binary as --console-socket:
// the container's first process makes the pseudo-terminal and sends its
// master down the socket (SCM_RIGHTS, with the master's name as the data)
// before the binary returns.
type consoleSocket struct {
	path string
	l    *net.UnixListener
}

func listenConsole(path string) (*consoleSocket, error) {
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, errdefs.Unavailable("console socket: %w", err)
	}
	return &consoleSocket{path: path, l: l}, nil
}

func (s *consoleSocket) close() { s.l.Close() }

// receive returns the master the binary sent. The connection is queued on
// the listener by the time the binary has returned, so it waits only for
// a binary that did not keep its promise. The master is non-blocking and
// in Go's poller: a read can have a deadline and a Close interrupts it.
func (s *consoleSocket) receive(ctx context.Context) (*os.File, error) {
	deadline := time.Now().Add(consoleTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := s.l.SetDeadline(deadline); err != nil {
		return nil, errdefs.Unavailable("console socket: %w", err)
	}
	conn, err := s.l.AcceptUnix()
	if err != nil {
		return nil, errdefs.Unavailable("console socket: no terminal received: %w", err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, errdefs.Unavailable("console socket: %w", err)
	}
	name := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := conn.ReadMsgUnix(name, oob)
	if err != nil {
		return nil, errdefs.Unavailable("console socket: %w", err)
	}
	fds, err := receivedFds(oob[:oobn])
	if err != nil {
		return nil, err
	}
	if len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, errdefs.Unavailable("console socket: got %d descriptors, want the terminal's master", len(fds))
	}
	fd := fds[0]
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, errdefs.Unavailable("console: %w", err)
	}
	return os.NewFile(uintptr(fd), string(name[:n])), nil
}

// receivedFds returns the descriptors of the SCM_RIGHTS messages in oob.
func receivedFds(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, errdefs.Unavailable("console socket: %w", err)
	}
	var fds []int
	for i := range msgs {
		got, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			for _, fd := range fds {
				unix.Close(fd)
			}
			return nil, errdefs.Unavailable("console socket: %w", fmt.Errorf("control message: %w", err))
		}
		fds = append(fds, got...)
	}
	return fds, nil
}
