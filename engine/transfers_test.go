package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/enginefs/enginefs/errdefs"
)

// TestTransfers: numbers per kind, a job that never started can be
// dropped and one that ran cannot, a second start is busy, the end of a
// failed pull is its error and status, and cancel of an ended job is busy.
func TestTransfers(t *testing.T) {
	e, _ := newEngine(t)
	ctx := context.Background()
	p1, _ := e.NewTransfer(TransferPull)
	p2, _ := e.NewTransfer(TransferPull)
	s1, _ := e.NewTransfer(TransferPush)
	if p1.N != "1" || p2.N != "2" || s1.N != "1" {
		t.Errorf("numbers %s %s %s, want 1 2 1", p1.N, p2.N, s1.N)
	}
	if _, err := e.NewTransfer("copy"); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("an unknown kind: %v", err)
	}
	e.DropTransfer(p2)
	if _, err := e.TransferByNumber(TransferPull, "2"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("a dropped job: %v", err)
	}
	// A reference of no registry fails at once, with no network traffic.
	if err := e.StartTransfer(ctx, p1, TransferRequest{Ref: "UPPER/case"}); err != nil {
		t.Fatal(err)
	}
	if err := e.StartTransfer(ctx, p1, TransferRequest{Ref: "UPPER/case"}); !errors.Is(err, errdefs.ErrBusy) {
		t.Errorf("a second start: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := p1.Wait(wctx); err == nil || p1.Err() == nil {
		t.Fatalf("a pull of a bad reference: %v", err)
	}
	if st := p1.Status(); len(st) < 7 || st[:7] != "failed " {
		t.Errorf("status %q", st)
	}
	if err := p1.Cancel(); !errors.Is(err, errdefs.ErrBusy) {
		t.Errorf("cancel of an ended job: %v", err)
	}
	e.DropTransfer(p1)
	if all, _ := e.Transfers(TransferPull); len(all) != 1 || all[0] != p1 {
		t.Errorf("pulls after dropping an ended one: %v", all)
	}
}
