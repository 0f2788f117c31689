package fs

import (
	"context"
	"io"
	"sync"
)

// Stream is the source of a StreamFile: Next blocks until the next chunk of
// output exists and returns it, or io.EOF at the end (the process exited).
type Stream interface {
	Next(ctx context.Context) ([]byte, error)
	Close() error
}

// StreamFile is a read-only file that behaves like a pipe: each open gets its
// own Stream (attaching to a container's stdout from that moment on), reads
// block until there is output and end at EOF when the stream ends. Offsets
// are ignored beyond ordering: a reader reads the stream once, in order.
type StreamFile func(ctx context.Context) (Stream, error)

// Attr implements Node.
func (f StreamFile) Attr(context.Context) (Attr, error) { return Attr{Mode: 0o444}, nil }

// Open implements File.
func (f StreamFile) Open(ctx context.Context, flag int) (Handle, error) {
	if err := readOnly(flag); err != nil {
		return nil, err
	}
	s, err := f(ctx)
	if err != nil {
		return nil, err
	}
	return &streamHandle{s: s}, nil
}

type streamHandle struct {
	mu      sync.Mutex // serialises readers of one open
	s       Stream
	pending []byte
	eof     bool
}

func (h *streamHandle) ReadAt(ctx context.Context, p []byte, _ int64) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for len(h.pending) == 0 {
		if h.eof {
			return 0, io.EOF
		}
		chunk, err := h.s.Next(ctx)
		if err == io.EOF {
			h.eof = true
			continue
		}
		if err != nil {
			return 0, err
		}
		h.pending = chunk
	}
	n := copy(p, h.pending)
	h.pending = h.pending[n:]
	return n, nil
}

func (h *streamHandle) WriteAt(context.Context, []byte, int64) (int, error) {
	return 0, errReadOnly
}

func (h *streamHandle) Close() error { return h.s.Close() }

// SinkFile is a write-only file whose writes go somewhere else as they come
// (a container's stdin). Write receives each write; Close, if set, runs when
// an open that wrote something is closed (the end of the writer's input).
type SinkFile struct {
	Write func(ctx context.Context, p []byte) error
	Close func()
}

// Attr implements Node.
func (f *SinkFile) Attr(context.Context) (Attr, error) { return Attr{Mode: 0o200}, nil }

// Open implements File.
func (f *SinkFile) Open(context.Context, int) (Handle, error) { return &sinkHandle{f: f}, nil }

type sinkHandle struct {
	f     *SinkFile
	mu    sync.Mutex
	wrote bool
}

func (h *sinkHandle) ReadAt(context.Context, []byte, int64) (int, error) { return 0, io.EOF }

func (h *sinkHandle) WriteAt(ctx context.Context, p []byte, _ int64) (int, error) {
	if err := h.f.Write(ctx, p); err != nil {
		return 0, err
	}
	h.mu.Lock()
	h.wrote = true
	h.mu.Unlock()
	return len(p), nil
}

func (h *sinkHandle) Close() error {
	h.mu.Lock()
	wrote := h.wrote
	h.mu.Unlock()
	if wrote && h.f.Close != nil {
		h.f.Close()
	}
	return nil
}
