package logs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/enginefs/enginefs/errdefs"
)

// batch is how many records a Reader reads from the index at once.
const batch = 64

// Reader reads a log directory's records in order. A Reader is used by one
// goroutine at a time.
type Reader struct {
	dir      string
	log, idx *os.File // nil until the writer has created them
	checked  bool     // the header was read and is good
	closed   bool

	pos  int64 // offset in log.idx of the next record
	buf  [batch * RecordSize]byte
	r, n int // unread records are buf[r:n]; buf[r] is at pos

	sub *subscription // while following
}

// Open opens the log of dir for reading from the first record. The files
// need not exist yet: a reader opened before the writer sees what it writes.
// A missing dir is errdefs.ErrNotFound.
func Open(dir string) (*Reader, error) {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, errdefs.NotFound("log %s: %w", dir, err)
	case err != nil:
		return nil, fmt.Errorf("log %s: %w", dir, err)
	case !fi.IsDir():
		return nil, errdefs.Invalid("log %s: not a directory", dir)
	}
	r := &Reader{dir: dir, pos: HeaderSize}
	if _, err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

// open opens the files once they exist and checks the header once it is
// there; it reports whether records can be read.
func (r *Reader) open() (bool, error) {
	if r.closed {
		return false, fmt.Errorf("log %s: %w", r.dir, fs.ErrClosed)
	}
	if r.idx == nil {
		xf, err := os.Open(filepath.Join(r.dir, IndexName))
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("log %s: %w", r.dir, err)
		}
		// The writer creates log before log.idx.
		lf, err := os.Open(filepath.Join(r.dir, LogName))
		if err != nil {
			xf.Close()
			return false, fmt.Errorf("log %s: %w", r.dir, err)
		}
		r.idx, r.log = xf, lf
	}
	if !r.checked {
		h := make([]byte, HeaderSize)
		if n, err := r.idx.ReadAt(h, 0); n < HeaderSize {
			if err != nil && err != io.EOF {
				return false, fmt.Errorf("log %s: %w", r.dir, err)
			}
			return false, nil // the writer is writing it
		}
		if err := checkHeader(IndexName, h); err != nil {
			return false, fmt.Errorf("log %s: %w", r.dir, err)
		}
		r.checked = true
	}
	return true, nil
}

// SeekEnd positions the reader after the last record written so far, so
// Next returns only what is written from now on (attach).
func (r *Reader) SeekEnd() error {
	r.r, r.n = 0, 0
	ok, err := r.open()
	if err != nil || !ok {
		r.pos = HeaderSize
		return err
	}
	fi, err := r.idx.Stat()
	if err != nil {
		return fmt.Errorf("log %s: %w", r.dir, err)
	}
	r.pos = HeaderSize + max(fi.Size()-HeaderSize, 0)/RecordSize*RecordSize
	return nil
}

// Next returns the next output record, skipping End records. At the end of
// what is written it returns io.EOF, unless follow is set: then it waits for
// the next record (without polling in a busy loop) until ctx is done, and
// returns io.EOF when it reaches an End record, positioned after it.
//
// An index that is not one (another format, a record out of bounds) is
// errdefs.ErrInvalid; a done ctx returns its error.
func (r *Reader) Next(ctx context.Context, follow bool) (Entry, error) {
	for {
		rec, ok, err := r.record()
		switch {
		case err != nil:
			return Entry{}, err
		case ok && rec.stream == moved:
			// Rotated: go on in the new files, from their start.
			if err := r.reopen(); err != nil {
				return Entry{}, err
			}
			continue
		case ok && rec.stream == end:
			if follow {
				return Entry{}, io.EOF
			}
			continue
		case ok:
			return r.entry(rec)
		case !follow:
			return Entry{}, io.EOF
		case r.sub == nil:
			// Look again once subscribed: a write between the
			// look and the subscription would not wake us.
			r.sub = subscribe(r.dir)
			continue
		}
		if err := r.sub.wait(ctx); err != nil {
			return Entry{}, err
		}
	}
}

// record returns the next whole record of the index, if there is one.
func (r *Reader) record() (record, bool, error) {
	if r.r == r.n {
		if ok, err := r.open(); !ok {
			return record{}, false, err
		}
		n, err := r.idx.ReadAt(r.buf[:], r.pos)
		if err != nil && err != io.EOF {
			return record{}, false, fmt.Errorf("log %s: %w", r.dir, err)
		}
		// A partial record is being written, or was cut by a crash:
		// wait for it, or for the next Create to drop it.
		r.r, r.n = 0, n/RecordSize*RecordSize
		if r.n == 0 {
			return record{}, false, nil
		}
	}
	rec, err := decode(r.buf[r.r:])
	if err != nil {
		return record{}, false, fmt.Errorf("log %s: %w", r.dir, err)
	}
	r.r += RecordSize
	r.pos += RecordSize
	return rec, true, nil
}

// entry reads the bytes of rec from log.
func (r *Reader) entry(rec record) (Entry, error) {
	e := Entry{Stream: rec.stream, Time: rec.time(), Offset: rec.offset, Data: make([]byte, rec.length)}
	if n, err := r.log.ReadAt(e.Data, rec.offset); n < len(e.Data) {
		if err == io.EOF {
			return Entry{}, errdefs.Invalid("log %s: record of %d bytes at %d beyond the end of %s", r.dir, rec.length, rec.offset, LogName)
		}
		return Entry{}, fmt.Errorf("log %s: %w", r.dir, err)
	}
	return e, nil
}

// reopen closes the rotated files so the next record is the first of the
// files now at the log's names.
func (r *Reader) reopen() error {
	for _, f := range []**os.File{&r.log, &r.idx} {
		if *f != nil {
			(*f).Close()
			*f = nil
		}
	}
	r.checked, r.pos, r.r, r.n = false, HeaderSize, 0, 0
	return nil
}

// Close releases the reader. Closing twice is not an error.
func (r *Reader) Close() error {
	r.closed = true
	if r.sub != nil {
		r.sub.cancel()
		r.sub = nil
	}
	var errs []error
	for _, f := range []**os.File{&r.log, &r.idx} {
		if *f != nil {
			errs = append(errs, (*f).Close())
			*f = nil
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("log %s: %w", r.dir, err)
	}
	return nil
}
