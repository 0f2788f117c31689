// Package logs is the format of a container's output on disk, written by the
// keeper and read by the daemon: the plain output in `log` (what `cat log`
// shows, what tail -f follows) and, beside it, `log.idx`, an index of
// fixed-size records saying which byte ranges came from stdout or stderr and
// when. The index lets readers separate the streams (attach, docker logs),
// add timestamps and start at the last N lines without a second copy of the
// output.
package logs

import (
	"context"
	"time"
)

// This file fixes the API; the bodies are placeholders the implementation replaces.

// Stream is where output came from.
type Stream uint8

// The streams.
const (
	Stdout Stream = 1
	Stderr Stream = 2
)

// Writer appends output to a log directory. One writer per directory; safe
// for concurrent use by the goroutines that copy a process's streams.
type Writer struct{}

// Create opens the log of dir for appending, creating log and log.idx.
func Create(dir string) (*Writer, error) { panic("unimplemented") }

// Write appends p as one record of stream s, stamped now.
func (w *Writer) Write(s Stream, p []byte) error { panic("unimplemented") }

// End appends the record that ends a run: every byte the process wrote is
// in the log. Followers stop there (Next returns io.EOF); a later run of the
// same container appends after it.
func (w *Writer) End() error { panic("unimplemented") }

// Close closes the files.
func (w *Writer) Close() error { panic("unimplemented") }

// Entry is one record: the bytes a process wrote in one write.
type Entry struct {
	Stream Stream
	Time   time.Time
	Offset int64 // where Data starts in log
	Data   []byte
}

// Reader reads a log directory's records in order.
type Reader struct{}

// Open opens the log of dir for reading from the first record.
func Open(dir string) (*Reader, error) { panic("unimplemented") }

// SeekEnd positions the reader after the last record written so far, so
// Next returns only what is written from now on (attach).
func (r *Reader) SeekEnd() error { panic("unimplemented") }

// Next returns the next output record, skipping End records. At the end of
// what is written it returns io.EOF, unless follow is set: then it waits for
// the next record (without polling in a busy loop) until ctx is done, and
// returns io.EOF when it reaches an End record, positioned after it.
func (r *Reader) Next(ctx context.Context, follow bool) (Entry, error) { panic("unimplemented") }

// Close releases the reader.
func (r *Reader) Close() error { panic("unimplemented") }
