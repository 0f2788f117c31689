package fs_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/enginefs/enginefs/ctl"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

// recorder is a CtlFile's Exec that notes each line; `fail` fails.
type recorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *recorder) exec(_ context.Context, line string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, line)
	if strings.HasPrefix(line, "fail") {
		return "", errdefs.Invalid("bad command %q", line)
	}
	return "ok " + fmt.Sprint(len(line)), nil
}

func (r *recorder) ran() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

func openCtl(t *testing.T) (*recorder, *fs.ErrSlot, fs.Handle) {
	t.Helper()
	r := &recorder{}
	slot := &fs.ErrSlot{}
	h, err := (&fs.CtlFile{Exec: r.exec, Errors: slot}).Open(context.Background(), os.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	return r, slot, h
}

func write(t *testing.T, h fs.Handle, s string) error {
	t.Helper()
	n, err := h.WriteAt(context.Background(), []byte(s), 0)
	if err == nil && n != len(s) {
		t.Fatalf("write of %d bytes returned %d", len(s), n)
	}
	return err
}

func readReply(t *testing.T, h fs.Handle) string {
	t.Helper()
	b, err := fs.ReadHandle(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCtlLineAcrossWrites(t *testing.T) {
	r, _, h := openCtl(t)
	line := "create name=x env=A=" + strings.Repeat("a", 300<<10) + " read-only=true user=1000"
	for i := 0; i < len(line); i += 128 << 10 {
		if err := write(t, h, line[i:min(len(line), i+128<<10)]); err != nil {
			t.Fatal(err)
		}
	}
	if got := r.ran(); len(got) != 0 {
		t.Fatalf("ran %d lines before the newline", len(got))
	}
	if err := write(t, h, "\nstart '\n' x\n"); err != nil {
		t.Fatal(err)
	}
	got := r.ran()
	if len(got) != 2 || got[0] != line || got[1] != "start '\n' x" {
		t.Fatalf("ran %d lines (%.40q...), want the whole line then start", len(got), got)
	}
	if reply := readReply(t, h); reply != "ok 307245\nok 11\n" {
		t.Errorf("reply = %q, want the replies of the write's commands", reply)
	}
}

func TestCtlFlushRunsLastLine(t *testing.T) {
	r, slot, h := openCtl(t)
	if err := write(t, h, "start"); err != nil {
		t.Fatal(err)
	}
	if len(r.ran()) != 0 {
		t.Fatal("a line without newline ran at write")
	}
	if err := h.(fs.Flusher).Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := r.ran(); len(got) != 1 || got[0] != "start" {
		t.Fatalf("ran %q, want start", got)
	}
	// A second flush (the close of a dup'd descriptor) runs nothing.
	if err := h.(fs.Flusher).Flush(context.Background()); err != nil || len(r.ran()) != 1 {
		t.Fatalf("second flush: %v, ran %q", err, r.ran())
	}
	// Its error comes back from the flush and lands in err.
	if err := write(t, h, "fail now"); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("close = %v, want the failing command's invalid error", err)
	}
	if !strings.Contains(slot.String(), "fail now") {
		t.Errorf("err = %q", slot.String())
	}
}

func TestCtlReadRunsPendingLine(t *testing.T) {
	r, _, h := openCtl(t)
	if err := write(t, h, "echo hi"); err != nil {
		t.Fatal(err)
	}
	if reply := readReply(t, h); reply != "ok 7\n" {
		t.Errorf("reply = %q, want the pending command's", reply)
	}
	if len(r.ran()) != 1 {
		t.Errorf("ran %q", r.ran())
	}
}

func TestCtlLineOverCap(t *testing.T) {
	r, slot, h := openCtl(t)
	chunk := strings.Repeat("x", 128<<10)
	var err error
	for i := 0; i < 2*fs.MaxCtlLine/len(chunk) && err == nil; i++ {
		err = write(t, h, chunk)
	}
	if err != nil {
		t.Fatalf("a write inside a line over the cap failed before its end: %v", err)
	}
	err = write(t, h, "tail\necho after\n")
	if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "fs.MaxCtlLine") {
		t.Fatalf("the end of a line over the cap: %v, want invalid naming fs.MaxCtlLine", err)
	}
	if len(r.ran()) != 0 {
		t.Fatalf("ran %d lines of a refused write", len(r.ran()))
	}
	if !strings.Contains(slot.String(), "fs.MaxCtlLine") {
		t.Errorf("err = %q", slot.String())
	}
	// The kernel sends the failed bytes again after a short count: they fail again.
	if err := write(t, h, "tail\necho after\n"); !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("the resent tail: %v, want invalid", err)
	}
	if err := write(t, h, "echo next\n"); err != nil || len(r.ran()) != 1 {
		t.Fatalf("the next line: %v, ran %q", err, r.ran())
	}
	// A long line without newline is refused at close.
	for i := 0; i < 9; i++ {
		_ = write(t, h, chunk)
	}
	if err := h.Close(); !errors.Is(err, errdefs.ErrInvalid) || len(r.ran()) != 1 {
		t.Fatalf("close after a line over the cap: %v, ran %d", err, len(r.ran()))
	}
	// Exactly the cap is fine.
	r2, _, h2 := openCtl(t)
	if err := write(t, h2, strings.Repeat("y", fs.MaxCtlLine)+"\n"); err != nil || len(r2.ran()) != 1 {
		t.Fatalf("a line of MaxCtlLine bytes: %v", err)
	}
}

func TestCtlFailedWriteLeavesNothing(t *testing.T) {
	r, _, h := openCtl(t)
	if err := write(t, h, "fail 1\npartial"); err == nil {
		t.Fatal("a failing line did not fail its write")
	}
	if err := write(t, h, "echo x\n"); err != nil {
		t.Fatal(err)
	}
	if got := r.ran(); len(got) != 2 || got[1] != "echo x" {
		t.Fatalf("ran %q, want the failing line then echo x alone", got)
	}
}

// TestCtlScannerMatchesSplitLines checks that lines cut anywhere end where
// ctl.SplitLines ends them.
func TestCtlScannerMatchesSplitLines(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	alphabet := []byte("ab \n'\"\\=")
	for n := 0; n < 2000; n++ {
		b := make([]byte, rng.Intn(40))
		for i := range b {
			b[i] = alphabet[rng.Intn(len(alphabet))]
		}
		text := string(b) + "\n"
		if strings.Count(text, "'")%2 == 1 || strings.Count(text, `"`)%2 == 1 {
			continue // an open quote would swallow the last newline too
		}
		r, _, h := openCtl(t)
		for rest := text; rest != ""; {
			k := min(len(rest), 1+rng.Intn(5))
			for k < len(rest) && rest[k-1] == '\n' {
				k++ // a write ending at a newline in quotes ends its line (TestCtlOpenQuote)
			}
			_ = write(t, h, rest[:k])
			rest = rest[k:]
		}
		_ = h.Close()
		want := ctl.SplitLines(text)
		got := r.ran()
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Fatalf("%q: ran %q, SplitLines gives %q", text, got, want)
		}
	}
}

// TestCtlOpenQuote checks that a write of a line whose quote never closes
// fails on that write (the parser refuses it) instead of waiting for more.
func TestCtlOpenQuote(t *testing.T) {
	r, _, h := openCtl(t)
	if err := write(t, h, "fail 'TERM\n"); err == nil {
		t.Fatal("a line with an open quote did not run at its write")
	}
	if got := r.ran(); len(got) != 1 || got[0] != "fail 'TERM\n" {
		t.Fatalf("ran %q", got)
	}
	// A quoted newline cut between two writes still joins the line.
	if err := write(t, h, "echo 'a\nb"); err != nil {
		t.Fatal(err)
	}
	if err := write(t, h, "'\n"); err != nil {
		t.Fatal(err)
	}
	if got := r.ran(); len(got) != 2 {
		t.Fatalf("ran %q", got)
	}
}

// TestCtlRefusedLogged: a refused line is logged once, with the client the
// context names and the reason; a line that runs is not.
func TestCtlRefusedLogged(t *testing.T) {
	var logged []string
	old := fs.RefusedLogf
	fs.RefusedLogf = func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) }
	defer func() { fs.RefusedLogf = old }()
	f := &fs.CtlFile{Exec: func(_ context.Context, line string) (string, error) {
		if line == "bad" {
			return "", errdefs.Invalid("unknown command %q", line)
		}
		return "", nil
	}}
	h, err := f.Open(context.Background(), os.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	ctx := fs.WithClient(context.Background(), "fuse pid 7 uid 0")
	if _, err := h.WriteAt(ctx, []byte("good\nbad\n"), 0); err == nil {
		t.Fatal("a bad line was taken")
	}
	want := `refused ctl line from fuse pid 7 uid 0: line 2 of 2: unknown command "bad"`
	if len(logged) != 1 || logged[0] != want {
		t.Errorf("logged %q, want [%q]", logged, want)
	}
}
