// Package logs is the format of a container's output on disk, written by the
// keeper and read by the daemon: the plain output in `log` (what `cat log`
// shows, what tail -f follows) and, beside it, `log.idx`, an index of
// fixed-size records saying which byte ranges came from stdout or stderr and
// when. The index lets readers separate the streams (attach, docker logs),
// add timestamps and start at the last N lines without a second copy of the
// output.
//
// Entry points: [Create] returns the [Writer] of a log directory (one per
// directory, in the keeper); [Open] returns a [Reader] (any number, in any
// process), whose Next follows the log as it grows.
//
// # Format
//
// log holds the bytes the processes wrote, in the order the keeper read
// them, nothing else. log.idx starts with a 16-byte header, then holds one
// 24-byte record per write; all integers are little-endian:
//
//	header:  0  [8]byte  magic "efslogix"
//	         8  uint32   format version, 1
//	        12  uint32   record size, 24
//	record:  0  uint64   offset in log of the first byte
//	         8  uint32   length in bytes
//	        12  uint8    stream: 1 stdout, 2 stderr, 0 End (length 0)
//	        13  [3]byte  zero
//	        16  int64    time the keeper read the bytes, Unix nanoseconds
//
// A record appears after its bytes: Write appends the bytes to log with one
// write(2) (O_APPEND), then the record to log.idx with another. An End
// record says a run is over and every byte its process wrote is above it;
// the next run of the container appends after it.
//
// # Crashes
//
// A writer that dies between its two writes leaves bytes in log that no
// record covers, and one that dies in the middle of a record (a full disk)
// leaves part of a record. Readers ignore both: a reader cannot tell them
// from a live writer between its two writes, and waits there when it
// follows. The next Create of the directory repairs the index before it
// appends: it drops the partial record and indexes the unindexed bytes as
// one Stdout record stamped with log's modification time. So nothing that
// reached log is lost, and readers waiting at the end of the old index go on
// with the repaired one. A log truncated by hand (shorter than its index
// says) gets a new index, its remaining bytes one Stdout record.
//
// # Rotation
//
// A Writer made WithMaxSize rotates the log before a write would pass the
// size: it renames log.idx, then log, to log.idx.1 and log.1 (replacing the
// previous pair), creates new ones, and appends to the old index a Moved
// record (stream 3, length 0): a reader that reaches it goes on at the
// first record of the new files. So the log holds at most twice the size
// (and a last write) on disk, and a follower lagging by more than the
// size loses the pair rotated away before it got there. The files' names
// are those of the last pair: `cat log` shows the output since the last
// rotation, `tail -F log` follows across rotations.
//
// # Following
//
// Next with follow waits for log.idx to change through inotify: one inotify
// instance per process, started on first use, watching each followed
// directory once whatever the number of its readers (the default limit is
// 128 instances per user, so one per reader would not do). A timer re-reads
// the index every second in case an event was missed, every 100ms where
// inotify cannot watch the directory.
package logs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/enginefs/enginefs/errdefs"
)

// Stream is where output came from.
type Stream uint8

// The streams.
const (
	Stdout Stream = 1
	Stderr Stream = 2
)

// Writer appends output to a log directory. One writer per directory; safe
// for concurrent use by the goroutines that copy a process's streams.
type Writer struct {
	dir string
	max int64 // rotate before a write would pass it; 0: never

	mu   sync.Mutex // orders the two writes of a record
	log  *os.File
	idx  *os.File
	size int64 // of log: the offset of the next write
	rec  [RecordSize]byte
}

// Option configures a Writer.
type Option func(*Writer)

// WithMaxSize rotates the log before a write would make log pass n bytes
// (see Rotation in the package doc). Default: 0, the log is never rotated.
func WithMaxSize(n int64) Option {
	return func(w *Writer) { w.max = max(n, 0) }
}

// Create opens the log of dir for appending, creating log and log.idx (and
// dir, mode 0700, if missing). It repairs what a writer that crashed left
// (see the package doc). An index of another format is errdefs.ErrInvalid.
func Create(dir string, opts ...Option) (*Writer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("log %s: %w", dir, err)
	}
	lf, xf, err := openFiles(dir)
	if err != nil {
		return nil, fmt.Errorf("log %s: %w", dir, err)
	}
	w := &Writer{dir: dir, log: lf, idx: xf}
	for _, o := range opts {
		o(w)
	}
	if err := w.recover(); err != nil {
		w.Close()
		return nil, fmt.Errorf("log %s: %w", dir, err)
	}
	return w, nil
}

// openFiles opens (creating) log, then log.idx, for appending.
func openFiles(dir string) (lf, xf *os.File, err error) {
	lf, err = os.OpenFile(filepath.Join(dir, LogName), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, nil, err
	}
	xf, err = os.OpenFile(filepath.Join(dir, IndexName), os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		lf.Close()
		return nil, nil, err
	}
	return lf, xf, nil
}

// rotate moves log.idx, then log, to their ".1" names (replacing the
// previous ones), starts new ones, and appends a Moved record to the old
// index, which tells its readers to go on in the new files. w.mu is held.
func (w *Writer) rotate() error {
	for _, name := range []string{IndexName, LogName} {
		p := filepath.Join(w.dir, name)
		if err := os.Rename(p, p+RotatedSuffix); err != nil {
			return err
		}
	}
	lf, xf, err := openFiles(w.dir)
	if err != nil {
		return err
	}
	if _, err := xf.Write(header()); err != nil {
		lf.Close()
		xf.Close()
		return err
	}
	if err := w.append(record{offset: w.size, stream: moved, nanos: time.Now().UnixNano()}); err != nil {
		lf.Close()
		xf.Close()
		return err
	}
	w.log.Close()
	w.idx.Close()
	w.log, w.idx, w.size = lf, xf, 0
	return nil
}

// recover checks the header (writing it to a new index), drops a partial
// last record and indexes the bytes of log that no record covers.
func (w *Writer) recover() error {
	xi, err := w.idx.Stat()
	if err != nil {
		return err
	}
	size := xi.Size()
	if size < HeaderSize {
		// New, or a header cut short: nothing was indexed yet.
		if err := w.idx.Truncate(0); err != nil {
			return err
		}
		if _, err := w.idx.Write(header()); err != nil {
			return err
		}
		size = HeaderSize
	} else {
		h := make([]byte, HeaderSize)
		if _, err := w.idx.ReadAt(h, 0); err != nil {
			return err
		}
		if err := checkHeader(IndexName, h); err != nil {
			return err
		}
	}
	if whole := HeaderSize + (size-HeaderSize)/RecordSize*RecordSize; whole != size {
		if err := w.idx.Truncate(whole); err != nil {
			return err
		}
		size = whole
	}
	var indexed int64
	if size > HeaderSize {
		b := make([]byte, RecordSize)
		if _, err := w.idx.ReadAt(b, size-RecordSize); err != nil {
			return err
		}
		last, err := decode(b)
		if err != nil {
			return err
		}
		indexed = last.offset + int64(last.length)
	}
	li, err := w.log.Stat()
	if err != nil {
		return err
	}
	w.size = li.Size()
	if w.size < indexed {
		// Truncated behind our back (as people do to docker's logs):
		// the records point past the end. Start the index again.
		if err := w.idx.Truncate(HeaderSize); err != nil {
			return err
		}
		indexed = 0
	}
	for off := indexed; off < w.size; off += maxRecord {
		n := min(w.size-off, maxRecord)
		if err := w.append(record{offset: off, length: uint32(n), stream: Stdout, nanos: li.ModTime().UnixNano()}); err != nil {
			return err
		}
	}
	return nil
}

// Write appends p as one record of stream s, stamped now. Writes larger
// than 1 GiB become several records. A stream other than Stdout and Stderr
// is errdefs.ErrInvalid.
func (w *Writer) Write(s Stream, p []byte) error {
	if s != Stdout && s != Stderr {
		return errdefs.Invalid("log %s: write to %v", w.dir, s)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.log == nil {
		return fmt.Errorf("log %s: %w", w.dir, fs.ErrClosed)
	}
	for len(p) > 0 {
		chunk := p[:min(len(p), maxRecord)]
		if w.max > 0 && w.size > 0 && w.size+int64(len(chunk)) > w.max {
			if err := w.rotate(); err != nil {
				return fmt.Errorf("log %s: rotate at %d bytes (cap %d): %w", w.dir, w.size, w.max, err)
			}
		}
		n, err := w.log.Write(chunk)
		if n > 0 {
			rec := record{offset: w.size, length: uint32(n), stream: s, nanos: time.Now().UnixNano()}
			w.size += int64(n)
			if err := w.append(rec); err != nil {
				return fmt.Errorf("log %s: %w", w.dir, err)
			}
		}
		if err != nil {
			return fmt.Errorf("log %s: %w", w.dir, err)
		}
		p = p[n:]
	}
	return nil
}

// End appends the record that ends a run: every byte the process wrote is
// in the log. Followers stop there (Next returns io.EOF); a later run of the
// same container appends after it.
func (w *Writer) End() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.append(record{offset: w.size, stream: end, nanos: time.Now().UnixNano()}); err != nil {
		return fmt.Errorf("log %s: %w", w.dir, err)
	}
	return nil
}

// append writes one record with one write(2); w.mu is held.
func (w *Writer) append(rec record) error {
	if w.idx == nil {
		return fs.ErrClosed
	}
	rec.put(w.rec[:])
	_, err := w.idx.Write(w.rec[:])
	return err
}

// Close closes the files. Closing twice is not an error.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var errs []error
	for _, f := range []**os.File{&w.log, &w.idx} {
		if *f != nil {
			errs = append(errs, (*f).Close())
			*f = nil
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("log %s: %w", w.dir, err)
	}
	return nil
}

// Entry is one record: the bytes a process wrote in one write.
type Entry struct {
	Stream Stream
	Time   time.Time
	Offset int64 // where Data starts in log
	Data   []byte
}
