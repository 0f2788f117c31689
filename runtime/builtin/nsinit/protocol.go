//go:build linux

package nsinit

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"syscall"

	"github.com/enginefs/enginefs/errdefs"
	"golang.org/x/sys/unix"
)

// The parent and a container's init talk over two pipes, both inherited
// by the child at fixed descriptors:
//
//   - the init pipe (parent → child, InitFd) carries a 4-byte big-endian
//     length and the JSON InitConfig, then the one-byte GoAhead, once the
//     container's cgroup exists (at once on cgroup v2, where the child is
//     cloned into it; on v1 the child then moves itself into it). The parent
//     then closes the pipe; EOF instead of the go-ahead means "give up", and
//     the child exits quietly.
//   - the error pipe (child → parent, ErrorFd) is close-on-exec in the
//     child. The child writes one JSON error to it if setup or execve fails
//     (DecodeError reads it); EOF with nothing read means execve succeeded.
//
// The child never waits for the go-ahead before it needs it: it builds the
// root while the parent creates the cgroup, and waits only at the cgroup
// mount (which needs the cgroup) or just before pivot_root (after which the
// host's cgroup directories are out of its sight), whichever comes first.
//
// The exec helper reads its ExecConfig, framed the same way, from
// ExecConfigFd and answers with one ExecReport datagram on the socket
// ExecReportFd (ReadExecReport reads it).
//
// The parent may pass descriptors above these (the binary it executed,
// through /proc/self/fd): the child marks every descriptor from 3 up
// close-on-exec before anything else, so that none reaches the program.
const (
	InitArg0  = "enginefs-init" // argv[0] of a container's init; IsInit looks for it
	InitFd    = 3
	ErrorFd   = 4
	ConsoleFd = 5 // with a terminal: the socket the child sends the master on
	GoAhead   = 'g'

	ExecArg0     = "enginefs-exec" // argv[0] of the exec helper
	ExecConfigFd = 3
	ExecReportFd = 4
	ExecPidFd    = 5 // a pidfd of a process of the container
	ExecCgroupFd = 6 // cgroup v2: the cgroup's directory

	// MaxFd is the highest descriptor the parent passes.
	MaxFd = 7

	maxConfig = 16 << 20 // sanity bound on a config
)

// EncodeConfig frames cfg (an *InitConfig or an *ExecConfig) for the
// config pipe.
func EncodeConfig(cfg any) ([]byte, error) {
	data, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	msg := make([]byte, 4, 4+len(data))
	binary.BigEndian.PutUint32(msg, uint32(len(data)))
	return append(msg, data...), nil
}

// readFrame reads into cfg what EncodeConfig framed.
func readFrame(r io.Reader, cfg any) error {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > maxConfig {
		return fmt.Errorf("config of %d bytes", size)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(r, data); err != nil {
		return err
	}
	return json.Unmarshal(data, cfg)
}

// readConfig reads the InitConfig framed by EncodeConfig.
func readConfig(r io.Reader) (*InitConfig, error) {
	var cfg InitConfig
	if err := readFrame(r, &cfg); err != nil {
		return nil, err
	}
	if len(cfg.Args) == 0 || cfg.Rootfs == "" {
		return nil, errors.New("init config without a program or a root")
	}
	return &cfg, nil
}

// initError is an error of the child as it crosses the error pipe.
type initError struct {
	Class   string `json:"class,omitempty"` // the class's text, as errdefs.ErrInvalid.Error()
	Message string `json:"message"`
}

// classes are the errdefs classes an initError may carry.
var classes = []error{
	errdefs.ErrNotFound, errdefs.ErrAlreadyExists, errdefs.ErrInvalid,
	errdefs.ErrBusy, errdefs.ErrPermission, errdefs.ErrUnavailable,
}

// encodeError turns an error of the child into what crosses the pipe.
func encodeError(err error) []byte {
	e := initError{Message: err.Error()}
	if c := errdefs.Class(err); c != nil {
		e.Class = c.Error()
	}
	data, _ := json.Marshal(e)
	return data
}

// DecodeError turns what the child wrote into an error of its class; an
// error without a class is errdefs.ErrUnavailable (the host could not do
// what the spec asks).
func DecodeError(data []byte) error {
	var e initError
	if err := json.Unmarshal(data, &e); err != nil {
		return errdefs.Unavailable("container init: unreadable error %q", data)
	}
	for _, c := range classes {
		if c.Error() == e.Class {
			return errdefs.New(c, "%s", e.Message)
		}
	}
	return errdefs.Unavailable("%s", e.Message)
}

// Classify gives err the class of the errno it holds: EPERM and EACCES are
// errdefs.ErrPermission, EINVAL and ERANGE (a resource value the kernel
// refuses) errdefs.ErrInvalid, ESRCH (no such process) errdefs.ErrNotFound,
// anything else errdefs.ErrUnavailable. An error that has a class keeps it.
func Classify(err error) error {
	if errdefs.Class(err) != nil {
		return err
	}
	var errno syscall.Errno
	switch {
	case errors.As(err, &errno) && (errno == syscall.EPERM || errno == syscall.EACCES):
		return errdefs.New(errdefs.ErrPermission, "%w", err)
	case errors.As(err, &errno) && (errno == syscall.EINVAL || errno == syscall.ERANGE):
		return errdefs.New(errdefs.ErrInvalid, "%w", err)
	case errors.As(err, &errno) && errno == syscall.ESRCH:
		return errdefs.New(errdefs.ErrNotFound, "%w", err)
	case errors.Is(err, fs.ErrPermission):
		return errdefs.New(errdefs.ErrPermission, "%w", err)
	}
	return errdefs.New(errdefs.ErrUnavailable, "%w", err)
}

// sendFd sends the descriptor fd over the unix socket sock.
func sendFd(sock int, fd int) error {
	return unix.Sendmsg(sock, []byte{'c'}, unix.UnixRights(fd), nil, 0)
}

// RecvFd receives the descriptor the child sent (close-on-exec), or nil at
// the end of the stream (the child died or gave up); name names the file.
func RecvFd(sock *os.File, name string) (*os.File, error) {
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4))
	var n, oobn int
	var err error
	for {
		n, oobn, _, _, err = unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("receive %s: %w", name, err)
	}
	if n == 0 && oobn == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("receive %s: bad control message", name)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("receive %s: bad control message", name)
	}
	return os.NewFile(uintptr(fds[0]), name), nil
}

// ReadExecReport reads the exec helper's report from the socket and the
// pidfd of the process it started; a helper that died says nothing (an
// empty report, no pidfd).
func ReadExecReport(sock *os.File) (ExecReport, *os.File, error) {
	var rep ExecReport
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4))
	var n, oobn int
	var err error
	for {
		n, oobn, _, _, err = unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return rep, nil, Classify(fmt.Errorf("read exec report: %w", err))
	}
	var pidfd *os.File
	if oobn > 0 {
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err == nil && len(msgs) == 1 {
			if fds, err := unix.ParseUnixRights(&msgs[0]); err == nil && len(fds) == 1 {
				pidfd = os.NewFile(uintptr(fds[0]), "pidfd")
			}
		}
	}
	if n == 0 {
		return rep, pidfd, nil
	}
	if err := json.Unmarshal(buf[:n], &rep); err != nil {
		if pidfd != nil {
			_ = unix.PidfdSendSignal(int(pidfd.Fd()), unix.SIGKILL, nil, 0)
			pidfd.Close()
		}
		return rep, nil, errdefs.Unavailable("unreadable exec report %q", buf[:n])
	}
	if rep.Pid <= 0 && pidfd != nil {
		pidfd.Close()
		pidfd = nil
	}
	return rep, pidfd, nil
}

// sendExecReport sends the helper's report: the child's pid and pidfd, or
// err.
func sendExecReport(pid, pidfd int, err error) error {
	var r ExecReport
	var rights []byte
	if err != nil {
		r.Error = encodeError(err)
	} else {
		r.Pid = pid
		rights = unix.UnixRights(pidfd)
	}
	data, _ := json.Marshal(r)
	return unix.Sendmsg(ExecReportFd, data, rights, nil, 0)
}

// hideDescriptors marks every descriptor from 3 up close-on-exec, so that
// nothing the parent passed (pipes, sockets, the binary) reaches the
// program.
func hideDescriptors() error {
	err := unix.CloseRange(3, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("close-on-exec: %w", err)
	}
	// Before Linux 5.11: the descriptors the parent may pass.
	for fd := 3; fd <= MaxFd; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && err != unix.EBADF {
			return fmt.Errorf("close-on-exec: fd %d: %w", fd, err)
		}
	}
	return nil
}
