package errdefs

import (
	"context"
	"errors"
	"syscall"
)

// HostClass returns the class of an error from the host (a system call,
// the file system, a cancelled request), for errors that have none yet;
// an error with a class keeps it. A missing file is not found, an
// existing one (or a directory not empty) already exists, a busy mount
// busy, a refused access permission; what a path or name itself makes
// impossible (too long, a loop, a file where a directory should be, a
// cross-device link) is invalid; the rest (a full or failing disk, a
// cancelled request) is unavailable. Problems the input caused are
// classed where they are found; this is for the rest.
func HostClass(err error) error {
	if c := Class(err); c != nil {
		return c
	}
	var errno syscall.Errno
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return ErrUnavailable
	case errors.As(err, &errno):
		switch errno {
		case syscall.ENOENT:
			return ErrNotFound
		case syscall.EEXIST, syscall.ENOTEMPTY:
			return ErrAlreadyExists
		case syscall.EBUSY:
			return ErrBusy
		case syscall.EPERM, syscall.EACCES, syscall.EROFS:
			return ErrPermission
		case syscall.EINVAL, syscall.ENAMETOOLONG, syscall.ELOOP, syscall.ENOTDIR, syscall.EISDIR, syscall.EXDEV:
			return ErrInvalid
		}
	}
	return ErrUnavailable
}
