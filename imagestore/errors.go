package imagestore

import (
	"context"
	"errors"

	"github.com/enginefs/enginefs/errdefs"
	"golang.org/x/sys/unix"
)

// classOf returns the errdefs class for an error from the host (a syscall,
// the file system, a cancelled context) that has none yet. Problems the
// input caused are classed where they are detected; this is for the rest:
// a missing file is not found, a full or failing disk and a cancelled
// request are unavailable, a busy mount is busy.
func classOf(err error) error {
	if c := errdefs.Class(err); c != nil {
		return c
	}
	var errno unix.Errno
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return errdefs.ErrUnavailable
	case errors.As(err, &errno):
		switch errno {
		case unix.ENOENT:
			return errdefs.ErrNotFound
		case unix.EEXIST, unix.ENOTEMPTY:
			return errdefs.ErrAlreadyExists
		case unix.EBUSY:
			return errdefs.ErrBusy
		case unix.EPERM, unix.EACCES, unix.EROFS:
			return errdefs.ErrPermission
		case unix.EINVAL, unix.ENAMETOOLONG, unix.ELOOP, unix.ENOTDIR, unix.EISDIR, unix.EXDEV:
			return errdefs.ErrInvalid
		}
	}
	return errdefs.ErrUnavailable
}

// classify wraps err, which must not be nil, with format (whose last verb
// is %w for err) and the class classOf finds for it.
func classify(err error, format string, a ...any) error {
	return errdefs.New(classOf(err), format, append(a, err)...)
}
