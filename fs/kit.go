package fs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"sort"
	"sync"
	"syscall"

	"github.com/enginefs/enginefs/errdefs"
)

// writable reports whether an open flag asks for write access.
func writable(flag int) bool { return flag&(os.O_WRONLY|os.O_RDWR) != 0 }

// errReadOnly is a write to a file whose mode forbids it (EACCES).
var errReadOnly = errdefs.New(errdefs.ErrPermission, "file is read-only: %w", syscall.EACCES)

// readOnly refuses an open for writing of a file that cannot be written.
func readOnly(flag int) error {
	if writable(flag) {
		return errReadOnly
	}
	return nil
}

// OpenNode opens n as every transport does: a directory cannot be opened as
// a file, and an open for writing of a file whose mode has no write bit is
// refused (EACCES) before the file sees it.
func OpenNode(ctx context.Context, n Node, flag int) (Handle, error) {
	f, ok := n.(File)
	if !ok {
		return nil, errdefs.Invalid("is a directory: %w", syscall.EISDIR)
	}
	if writable(flag) {
		a, err := n.Attr(ctx)
		if err != nil {
			return nil, err
		}
		if a.Mode.Perm()&0o222 == 0 {
			return nil, errReadOnly
		}
	}
	return f.Open(ctx, flag)
}

// TruncateHandle applies a truncate that a transport received for an open
// handle (FUSE SETATTR, 9P Tsetattr): a Truncater decides; otherwise a
// truncate to 0, the half of `echo cmd > ctl` the shell sends, is a no-op
// and any other size is invalid.
func TruncateHandle(ctx context.Context, h Handle, size int64) error {
	if t, ok := h.(Truncater); ok {
		return t.Truncate(ctx, size)
	}
	if size != 0 {
		return errdefs.Invalid("cannot truncate to %d bytes", size)
	}
	return nil
}

// snapshot is a handle over content fixed at open.
type snapshot struct{ data []byte }

func (s *snapshot) ReadAt(_ context.Context, p []byte, off int64) (int, error) {
	return readAtBytes(s.data, p, off)
}
func (s *snapshot) WriteAt(context.Context, []byte, int64) (int, error) {
	return 0, errReadOnly
}
func (s *snapshot) Close() error { return nil }

func readAtBytes(data, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errdefs.Invalid("negative offset %d", off)
	}
	if off >= int64(len(data)) {
		return 0, io.EOF
	}
	n := copy(p, data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// ReadFile is a read-only file whose content is computed at each open; every
// open sees a fresh snapshot and keeps it until closed, so a reader that reads
// in pieces never sees a torn value.
type ReadFile func(ctx context.Context) ([]byte, error)

// Attr implements Node; the size is unknown until open and reported as 0.
func (f ReadFile) Attr(context.Context) (Attr, error) { return Attr{Mode: 0o444}, nil }

// Open implements File.
func (f ReadFile) Open(ctx context.Context, flag int) (Handle, error) {
	if err := readOnly(flag); err != nil {
		return nil, err
	}
	data, err := f(ctx)
	if err != nil {
		return nil, err
	}
	return &snapshot{data: data}, nil
}

// Text is a ReadFile of a fixed string.
func Text(s string) ReadFile {
	return func(context.Context) ([]byte, error) { return []byte(s), nil }
}

// ErrSlot holds the last error of a directory, served by its ErrFile. It is
// the zero value ready to use and safe for concurrent use.
type ErrSlot struct {
	mu  sync.Mutex
	msg string
}

// Set records err's message; nil leaves the slot as it is.
func (s *ErrSlot) Set(err error) {
	if err == nil || s == nil {
		return
	}
	s.mu.Lock()
	s.msg = err.Error()
	s.mu.Unlock()
}

// String returns the last recorded message, or "".
func (s *ErrSlot) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.msg
}

// ErrFile serves the message in slot, one line (Plan 9 ip(3)'s err).
func ErrFile(slot *ErrSlot) ReadFile {
	return func(context.Context) ([]byte, error) {
		if m := slot.String(); m != "" {
			return []byte(m + "\n"), nil
		}
		return nil, nil
	}
}

// BlockingFile is a read-only file whose content may not exist yet. Open calls
// the function, which must not block: it fixes what the open waits for (say,
// the end of the container's current run) and returns the wait. The first read
// calls wait, which blocks until the content exists or ctx is done; the result
// is kept for the rest of the open.
type BlockingFile func(ctx context.Context) (wait func(ctx context.Context) ([]byte, error), err error)

// Attr implements Node.
func (f BlockingFile) Attr(context.Context) (Attr, error) { return Attr{Mode: 0o444}, nil }

// Open implements File.
func (f BlockingFile) Open(ctx context.Context, flag int) (Handle, error) {
	if err := readOnly(flag); err != nil {
		return nil, err
	}
	wait, err := f(ctx)
	if err != nil {
		return nil, err
	}
	return &blockingHandle{wait: wait}, nil
}

type blockingHandle struct {
	mu   sync.Mutex // held while waiting: concurrent reads of one open wait together
	wait func(ctx context.Context) ([]byte, error)
	data []byte
	done bool
}

func (h *blockingHandle) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.done {
		data, err := h.wait(ctx)
		if err != nil {
			return 0, err
		}
		h.data, h.done = data, true
	}
	return readAtBytes(h.data, p, off)
}

func (h *blockingHandle) WriteAt(context.Context, []byte, int64) (int, error) {
	return 0, errReadOnly
}

func (h *blockingHandle) Close() error { return nil }

// ErrIncomplete is returned by a DocFile's Write when the document written so
// far is not whole yet (a JSON text cut between two writes); the handle keeps
// buffering and tries again after the next write.
var ErrIncomplete = errors.New("document incomplete")

// DocFile is a document read as a snapshot and replaced by writing it whole
// (a JSON config). Writes at offsets build the new document; after each write
// the whole buffer is passed to Write, which either applies it, returns
// ErrIncomplete to wait for more, or fails (the write fails with that error).
type DocFile struct {
	Read   func(ctx context.Context) ([]byte, error)
	Write  func(ctx context.Context, doc []byte) error
	Errors *ErrSlot // may be nil
}

// Attr implements Node.
func (f *DocFile) Attr(context.Context) (Attr, error) { return Attr{Mode: 0o644}, nil }

// Open implements File.
func (f *DocFile) Open(ctx context.Context, flag int) (Handle, error) {
	h := &docHandle{f: f}
	if flag&os.O_WRONLY == 0 {
		data, err := f.Read(ctx)
		if err != nil {
			return nil, err
		}
		h.snap = data
	}
	return h, nil
}

type docHandle struct {
	f       *DocFile
	mu      sync.Mutex
	snap    []byte
	buf     []byte
	applied bool // the buffer as it is now was applied
}

func (h *docHandle) ReadAt(_ context.Context, p []byte, off int64) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return readAtBytes(h.snap, p, off)
}

func (h *docHandle) WriteAt(ctx context.Context, p []byte, off int64) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if off < 0 || off > int64(len(h.buf)) {
		return 0, errdefs.Invalid("write at offset %d of a %d-byte document", off, len(h.buf))
	}
	h.buf = append(h.buf[:off], p...)
	err := h.f.Write(ctx, bytes.Clone(h.buf))
	h.applied = err == nil
	switch {
	case errors.Is(err, ErrIncomplete):
		return len(p), nil
	case err != nil:
		h.f.Errors.Set(err)
		h.buf = h.buf[:0]
		return 0, err
	}
	return len(p), nil
}

// Truncate starts the document over, as `cat new.json > config` does.
func (h *docHandle) Truncate(_ context.Context, size int64) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if size > int64(len(h.buf)) {
		return errdefs.Invalid("cannot extend a document by truncate")
	}
	h.buf = h.buf[:size]
	h.applied = size == 0
	return nil
}

// Close reports, in the directory's err file, a document that was written
// but never whole: its writer's echo succeeded and nothing else can tell it.
func (h *docHandle) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.buf) > 0 && !h.applied {
		h.f.Errors.Set(errdefs.Invalid("the document written was incomplete and was not applied (%d bytes)", len(h.buf)))
	}
	return nil
}

// HostFile serves a regular file of the host that may grow (a container log).
// It reports the file's true size, so tail -f, which polls the size, follows
// it; each open reads the file itself, so a reader keeps its content even if
// the file is removed meanwhile.
type HostFile func() (path string, err error)

// Attr implements Node.
func (f HostFile) Attr(context.Context) (Attr, error) {
	path, err := f()
	if err != nil {
		return Attr{}, err
	}
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return Attr{Mode: 0o444}, nil
	}
	if err != nil {
		return Attr{}, err
	}
	return Attr{Mode: 0o444, Size: st.Size(), Mtime: st.ModTime()}, nil
}

// Open implements File.
func (f HostFile) Open(_ context.Context, flag int) (Handle, error) {
	if err := readOnly(flag); err != nil {
		return nil, err
	}
	path, err := f()
	if err != nil {
		return nil, err
	}
	file, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return &snapshot{}, nil // not written yet: empty
	}
	if err != nil {
		return nil, err
	}
	return hostHandle{file}, nil
}

type hostHandle struct{ f *os.File }

func (h hostHandle) ReadAt(_ context.Context, p []byte, off int64) (int, error) {
	return h.f.ReadAt(p, off)
}
func (h hostHandle) WriteAt(context.Context, []byte, int64) (int, error) {
	return 0, errReadOnly
}
func (h hostHandle) Close() error { return h.f.Close() }

// Entry is a named node of a StaticDir.
type Entry struct {
	Name string
	Node Node
}

// StaticDir is a directory with a fixed list of children, listed in order.
type StaticDir []Entry

// Attr implements Node.
func (d StaticDir) Attr(context.Context) (Attr, error) { return Attr{Mode: os.ModeDir | 0o555}, nil }

// Lookup implements Dir.
func (d StaticDir) Lookup(_ context.Context, name string) (Node, error) {
	for _, e := range d {
		if e.Name == name {
			return e.Node, nil
		}
	}
	return nil, errdefs.NotFound("no file %q", name)
}

// ReadDir implements Dir.
func (d StaticDir) ReadDir(context.Context) ([]DirEntry, error) {
	out := make([]DirEntry, len(d))
	for i, e := range d {
		out[i] = DirEntry{Name: e.Name, Mode: ModeOf(e.Node)}
	}
	return out, nil
}

// DirFunc is a directory whose children are computed on each call (the list of
// containers). Lookup may resolve names List does not return.
type DirFunc struct {
	List func(ctx context.Context) ([]DirEntry, error)
	Get  func(ctx context.Context, name string) (Node, error)
}

// Attr implements Node.
func (d *DirFunc) Attr(context.Context) (Attr, error) { return Attr{Mode: os.ModeDir | 0o555}, nil }

// Lookup implements Dir.
func (d *DirFunc) Lookup(ctx context.Context, name string) (Node, error) { return d.Get(ctx, name) }

// ReadDir implements Dir.
func (d *DirFunc) ReadDir(ctx context.Context) ([]DirEntry, error) { return d.List(ctx) }

// ModeOf returns the type bits of a node without calling it: a Dir is a
// directory, anything else a regular file.
func ModeOf(n Node) os.FileMode {
	if _, ok := n.(Dir); ok {
		return os.ModeDir
	}
	return 0
}

// sortEntries orders a listing by name.
func sortEntries(ents []DirEntry) {
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name < ents[j].Name })
}
