package tree

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

// TestCloneHandle: an open clone file reads the new id until a command is
// written, then the command's reply; closing it releases the id.
func TestCloneHandle(t *testing.T) {
	ctx := context.Background()
	var lines []string
	ctl := &fs.CtlFile{Exec: func(_ context.Context, line string) (string, error) {
		lines = append(lines, line)
		if line == "bad" {
			return "", errdefs.Invalid("bad: no such verb")
		}
		return "reply to " + line, nil
	}}
	h, err := ctl.Open(ctx, os.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	released := 0
	c := &cloneHandle{ctl: h, id: []byte("c0ffee\n"), release: func() { released++ }}
	if b, err := fs.ReadHandle(ctx, c); err != nil || string(b) != "c0ffee\n" {
		t.Errorf("before a write: %q, %v", b, err)
	}
	if reply, err := fs.WriteCommand(ctx, c, "create image=busybox"); err != nil || reply != "reply to create image=busybox" {
		t.Errorf("a command: %q, %v", reply, err)
	}
	if _, err := fs.WriteCommand(ctx, c, "bad"); !errors.Is(err, errdefs.ErrInvalid) || err.Error() != "bad: no such verb" {
		t.Errorf("a bad command: %v", err)
	}
	if released != 0 {
		t.Error("released before the close")
	}
	c.Close()
	if released != 1 || len(lines) != 2 {
		t.Errorf("released %d times; lines %q", released, lines)
	}
}
