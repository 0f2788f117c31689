package fs

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/enginefs/enginefs/errdefs"
)

// MaxCtlLine is the longest line, in bytes without its newline, a CtlFile
// takes (1 MiB). A longer line is refused whole with an EINVAL error that
// names the cap: nothing of it runs, and its bytes are dropped as they come,
// so a client that streams without newlines holds no more than this much of
// the daemon's memory per open ctl file.
const MaxCtlLine = 1 << 20

// Flusher is a Handle that holds what was written and not yet acted on (a
// ctl line without its newline). A transport calls Flush when the client
// closes its descriptor: FUSE FLUSH, whose error close(2) returns, and 9P
// Tclunk, whose Rlerror the client gets. Flush may run a command and block
// as WriteAt does; it may be called several times (each close of a dup'd
// descriptor) and does nothing when nothing is pending. Close flushes too,
// for clients that call nothing else (fs.Local).
type Flusher interface {
	Flush(ctx context.Context) error
}

// CtlFile is a file that takes commands. What is written to one open is a
// stream of lines (ctl.SplitLines' rules: a newline inside quotes or after a
// backslash does not end a line); each line runs through Exec once its
// newline arrives, whatever the writes that carried it (a FUSE write is cut
// at 128 KiB, a 9P write at the message size), and a last line without a
// newline runs when the file is flushed or closed (`printf start > ctl`),
// or before a read of the same open. Lines longer than MaxCtlLine are
// refused with an errdefs.ErrInvalid error.
//
// The lines a write completes run in order until one fails: like a shell
// script under set -e, the lines before it took effect and the rest of that
// write is dropped (nothing of it stays pending); the write fails with the
// failing command's error (its class becomes the errno) and that message is
// recorded in Errors. Reading the same open file returns the reply of the
// last command (Exec's text, or the error message), so a client that opened
// ctl read-write learns what happened without races.
type CtlFile struct {
	Exec   func(ctx context.Context, line string) (reply string, err error)
	Errors *ErrSlot // may be nil
}

// Attr implements Node.
func (f *CtlFile) Attr(context.Context) (Attr, error) { return Attr{Mode: 0o644}, nil }

// Open implements File.
func (f *CtlFile) Open(context.Context, int) (Handle, error) { return &ctlHandle{f: f}, nil }

var (
	_ Handle  = (*ctlHandle)(nil)
	_ Flusher = (*ctlHandle)(nil)
)

type ctlHandle struct {
	f  *CtlFile
	mu sync.Mutex // held while a command runs: the lines of one open run in order

	reply []byte

	buf      []byte      // the line being written, its newline not come yet
	scan     lineScanner // the quoting state at the end of buf
	dropping int64       // > 0: the bytes of a line over MaxCtlLine dropped so far

	// A write that failed on a line begun in an earlier write. The kernel
	// (FUSE, v9fs) cuts one write(2) into several requests and, when one
	// fails after others succeeded, returns a short count: the client then
	// sends the failed request's bytes again. Run as new, they would start
	// with the tail of the failed line. The next write, if it begins with
	// these bytes, fails the same way instead.
	failed    []byte
	failedErr error
}

// lineScanner finds the newlines that end a ctl line, keeping its state
// between writes; its rules are ctl.SplitLines'.
type lineScanner struct {
	quote  byte
	escape bool // the last byte was a backslash that escapes the next one
}

// next returns the index in b of the first newline that ends a line, or -1,
// and leaves the scanner in the state after that newline (or after b).
func (s *lineScanner) next(b []byte) int {
	for i, c := range b {
		switch {
		case s.escape:
			s.escape = false
		case s.quote != 0 && c == s.quote:
			s.quote = 0
		case s.quote == '"' && c == '\\':
			s.escape = true
		case s.quote != 0:
		case c == '\\':
			s.escape = true
		case c == '\'' || c == '"':
			s.quote = c
		case c == '\n':
			return i
		}
	}
	return -1
}

// errLineTooLong is the refusal of a line of n bytes (as many as came, when
// the line was cut short by a flush).
func errLineTooLong(n int64) error {
	return errdefs.Invalid("ctl line of %d bytes is over the cap of %d bytes (fs.MaxCtlLine)", n, MaxCtlLine)
}

// ctlItem is a line a write completed, or its refusal.
type ctlItem struct {
	line string
	err  error
}

func (h *ctlHandle) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.flushLocked(ctx); err != nil {
		return 0, err
	}
	return readAtBytes(h.reply, p, off)
}

// WriteAt takes p as the next bytes of the stream and runs the lines it
// completes. The offset is ignored: a ctl file is a stream of commands, not
// a document.
func (h *ctlHandle) WriteAt(ctx context.Context, p []byte, _ int64) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if failed, err := h.failed, h.failedErr; failed != nil {
		h.failed, h.failedErr = nil, nil
		if bytes.HasPrefix(p, failed) {
			return 0, err // the client sends again what it was told failed
		}
	}
	carried := len(h.buf) > 0 || h.dropping > 0 // p begins inside a line
	items, ended := h.split(p)
	if h.scan.quote != 0 && len(h.buf) > 0 && (!carried || ended) && p[len(p)-1] == '\n' {
		// A line begun in this write whose quote is still open at the
		// write's final newline (`echo "kill 'TERM" > ctl`): the writer
		// meant it whole, and it fails now, on its write, as a bad
		// quoting. (A line with an open quote cannot run, so no fragment
		// of a longer one ever does.)
		items = append(items, ctlItem{line: string(h.buf)})
		h.buf, h.scan = h.buf[:0], lineScanner{}
	}
	var out strings.Builder
	for i, it := range items {
		err := it.err
		if err == nil {
			var reply string
			reply, err = h.f.Exec(ctx, it.line)
			if reply != "" && err == nil {
				out.WriteString(strings.TrimSuffix(reply, "\n") + "\n")
			}
		}
		if err == nil {
			continue
		}
		if len(items) > 1 {
			// The lines before ran; say which one failed.
			err = fmt.Errorf("line %d of %d: %w", i+1, len(items), err)
		}
		h.fail(ctx, err)
		if i == 0 && carried {
			h.failed, h.failedErr = bytes.Clone(p), err
		}
		return 0, err
	}
	if len(items) > 0 {
		h.reply = []byte(out.String())
	}
	return len(p), nil
}

// split adds p to the stream and returns the lines it completes, in order;
// a line over MaxCtlLine is an item with its refusal. What follows the last
// newline stays in buf, or is dropped as the start of a line too long.
// ended says whether a line ended in p.
func (h *ctlHandle) split(p []byte) (items []ctlItem, ended bool) {
	for len(p) > 0 {
		i := h.scan.next(p)
		if i < 0 {
			switch {
			case h.dropping > 0:
				h.dropping += int64(len(p))
			case len(h.buf)+len(p) > MaxCtlLine:
				h.dropping = int64(len(h.buf) + len(p))
				h.buf = nil
			default:
				h.buf = append(h.buf, p...)
			}
			return items, ended
		}
		ended = true
		switch {
		case h.dropping > 0:
			items = append(items, ctlItem{err: errLineTooLong(h.dropping + int64(i))})
			h.dropping = 0
		case len(h.buf)+i > MaxCtlLine:
			items = append(items, ctlItem{err: errLineTooLong(int64(len(h.buf) + i))})
		default:
			line := string(h.buf) + string(p[:i])
			if strings.TrimSpace(line) != "" {
				items = append(items, ctlItem{line: line})
			}
		}
		h.buf = h.buf[:0]
		p = p[i+1:]
	}
	return items, ended
}

// fail records err as the reply and in Errors, and forgets what is
// pending: nothing of a failed write stays to run later.
func (h *ctlHandle) fail(ctx context.Context, err error) {
	logRefused(ctx, "ctl line", err)
	h.reply = []byte(err.Error() + "\n")
	h.f.Errors.Set(err)
	h.buf, h.dropping, h.scan = nil, 0, lineScanner{}
}

// Flush implements Flusher: it runs the line written without its newline,
// if any, and returns its error.
func (h *ctlHandle) Flush(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.flushLocked(ctx)
}

func (h *ctlHandle) flushLocked(ctx context.Context) error {
	if n := h.dropping; n > 0 {
		err := errLineTooLong(n)
		h.fail(ctx, err)
		return err
	}
	line := string(h.buf)
	h.buf, h.scan = nil, lineScanner{}
	if strings.TrimSpace(line) == "" {
		return nil
	}
	reply, err := h.f.Exec(ctx, line)
	if err != nil {
		h.fail(ctx, err)
		return err
	}
	h.reply = nil
	if reply != "" {
		h.reply = []byte(strings.TrimSuffix(reply, "\n") + "\n")
	}
	return nil
}

// Close runs what is pending, as Flush does (transports have flushed
// already; fs.Local's clients have not).
func (h *ctlHandle) Close() error { return h.Flush(context.Background()) }
