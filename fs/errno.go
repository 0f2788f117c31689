package fs

import (
	"context"
	"errors"
	"io"
	"syscall"

	"github.com/enginefs/enginefs/errdefs"
)

// Errno turns an error from a node into the errno a transport sends: the one
// place where error classes meet FUSE and 9P. nil maps to 0. Errors with no
// class keep a syscall.Errno they wrap, and are EIO otherwise.
func Errno(err error) syscall.Errno {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errdefs.ErrNotFound):
		return syscall.ENOENT
	case errors.Is(err, errdefs.ErrAlreadyExists):
		return syscall.EEXIST
	case errors.Is(err, errdefs.ErrInvalid):
		return syscall.EINVAL
	case errors.Is(err, errdefs.ErrBusy):
		return syscall.EBUSY
	case errors.Is(err, errdefs.ErrPermission):
		if errors.Is(err, syscall.EACCES) { // a mode that forbids the access
			return syscall.EACCES
		}
		return syscall.EPERM
	case errors.Is(err, errdefs.ErrUnavailable):
		return syscall.EAGAIN
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return syscall.EINTR
	case errors.Is(err, io.ErrUnexpectedEOF):
		return syscall.EIO
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return syscall.EIO
}

// ClassOf is the inverse of Errno, used by clients: it returns the errdefs class
// of an errno that came back from a transport, or nil.
func ClassOf(errno syscall.Errno) error {
	switch errno {
	case syscall.ENOENT:
		return errdefs.ErrNotFound
	case syscall.EEXIST:
		return errdefs.ErrAlreadyExists
	case syscall.EINVAL:
		return errdefs.ErrInvalid
	case syscall.EBUSY:
		return errdefs.ErrBusy
	case syscall.EPERM, syscall.EACCES:
		return errdefs.ErrPermission
	case syscall.EAGAIN:
		return errdefs.ErrUnavailable
	}
	return nil
}
