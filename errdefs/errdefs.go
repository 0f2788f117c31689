// Package errdefs holds the error classes every enginefs package returns.
//
// A class says what kind of failure happened, not where: not found, already
// exists, invalid argument, busy (the object is in the wrong state or in use),
// permission denied and unavailable. Errors are built with [New] (or wrapped with
// fmt.Errorf and %w around a class error) and tested with errors.Is. The edges
// translate a class in exactly one place each: fs.Errno for FUSE and 9P, and the
// REST bridge for HTTP status codes.
package errdefs

import (
	"errors"
	"fmt"
)

// The classes. Compare with errors.Is; never compare messages.
var (
	// ErrNotFound: the named object does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: an object with that name or id exists already.
	ErrAlreadyExists = errors.New("already exists")
	// ErrInvalid: the request itself is malformed (bad command, bad reference, bad value).
	ErrInvalid = errors.New("invalid argument")
	// ErrBusy: the object exists but is in the wrong state or in use (failed precondition).
	ErrBusy = errors.New("busy")
	// ErrPermission: the request is not allowed.
	ErrPermission = errors.New("permission denied")
	// ErrUnavailable: a component needed for the request is not there (daemon, host feature).
	ErrUnavailable = errors.New("unavailable")
)

// classed is an error whose text is a full sentence and whose class is
// reachable through errors.Is without repeating the class in the text.
type classed struct {
	err   error
	class error
}

func (e *classed) Error() string   { return e.err.Error() }
func (e *classed) Unwrap() []error { return []error{e.err, e.class} }

// New returns an error of the given class whose message is the formatted text.
// The format may use %w to keep a cause reachable with errors.Is and errors.As.
func New(class error, format string, a ...any) error {
	return &classed{err: fmt.Errorf(format, a...), class: class}
}

// NotFound returns a formatted error of class ErrNotFound.
func NotFound(format string, a ...any) error { return New(ErrNotFound, format, a...) }

// AlreadyExists returns a formatted error of class ErrAlreadyExists.
func AlreadyExists(format string, a ...any) error { return New(ErrAlreadyExists, format, a...) }

// Invalid returns a formatted error of class ErrInvalid.
func Invalid(format string, a ...any) error { return New(ErrInvalid, format, a...) }

// Busy returns a formatted error of class ErrBusy.
func Busy(format string, a ...any) error { return New(ErrBusy, format, a...) }

// Unavailable returns a formatted error of class ErrUnavailable.
func Unavailable(format string, a ...any) error { return New(ErrUnavailable, format, a...) }

// Class returns the class of err (one of the Err* values), or nil when err
// belongs to none of them.
func Class(err error) error {
	for _, c := range []error{ErrNotFound, ErrAlreadyExists, ErrInvalid, ErrBusy, ErrPermission, ErrUnavailable} {
		if errors.Is(err, c) {
			return c
		}
	}
	return nil
}

// ErrLogged marks an error whose refusal was logged where it was made (with
// the client and the reason), so that the layers it passes through on its
// way to the client do not log it again. It is not a class.
var ErrLogged = errors.New("logged")

type logged struct{ err error }

func (e *logged) Error() string   { return e.err.Error() }
func (e *logged) Unwrap() []error { return []error{e.err, ErrLogged} }

// MarkLogged returns err marked as logged (nil for nil), its class kept.
func MarkLogged(err error) error {
	if err == nil {
		return nil
	}
	return &logged{err: err}
}
