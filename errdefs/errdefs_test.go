package errdefs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"testing"
)

func TestNewKeepsClassAndCause(t *testing.T) {
	cause := fs.ErrNotExist
	err := New(ErrInvalid, "bad layer %q: %w", "x", cause)
	if err.Error() != `bad layer "x": file does not exist` {
		t.Errorf("message = %q", err.Error())
	}
	if !errors.Is(err, ErrInvalid) || !errors.Is(err, cause) {
		t.Errorf("errors.Is lost the class or the cause: %v", err)
	}
	wrapped := fmt.Errorf("container web: %w", err)
	if Class(wrapped) != ErrInvalid {
		t.Errorf("Class(wrapped) = %v, want ErrInvalid", Class(wrapped))
	}
	if Class(errors.New("plain")) != nil {
		t.Error("a plain error has no class")
	}
}

func TestHostClass(t *testing.T) {
	for _, c := range []struct {
		err  error
		want error
	}{
		{&os.PathError{Op: "open", Path: "/x", Err: syscall.ENOENT}, ErrNotFound},
		{syscall.EEXIST, ErrAlreadyExists},
		{syscall.ENOTEMPTY, ErrAlreadyExists},
		{syscall.EBUSY, ErrBusy},
		{syscall.EACCES, ErrPermission},
		{syscall.ELOOP, ErrInvalid},
		{syscall.ENOSPC, ErrUnavailable},
		{context.Canceled, ErrUnavailable},
		{Invalid("already classed"), ErrInvalid},
		{errors.New("anything else"), ErrUnavailable},
	} {
		if got := HostClass(c.err); got != c.want {
			t.Errorf("HostClass(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
