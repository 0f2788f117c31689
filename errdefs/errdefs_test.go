package errdefs

import (
	"errors"
	"fmt"
	"io/fs"
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
