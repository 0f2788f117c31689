package tree

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"

	"github.com/enginefs/enginefs/ctl"
	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

// Image archives through the tree, for a client on another host (or in
// another mount namespace) that cannot name a path of the daemon's:
//
//	images/save  open read-write; write `save REF...`; then reads return
//	             the archive (images/ctl's save format), from the offset of
//	             the first read on, so that both a client that reads at 0
//	             and a shell that reads on after its write get it whole
//	images/load  open for writing; write the archive (docker-save or OCI);
//	             then a read on the same file loads it and returns the
//	             `Loaded image: REF` lines, or fails with the error. A
//	             file closed without that read is loaded at close, its
//	             error in images/err (`cat x.tar > images/load`).
//
// The archive is kept in a file of the engine's scratch directory while
// the file is open, not in memory. A truncate to 0 of images/load after a
// write drops what was written: a client whose upload failed says so, and
// nothing is loaded at the close.

// saveFile is images/save.
type saveFile struct{ t *tree }

func (saveFile) Attr(context.Context) (fs.Attr, error) { return fs.Attr{Mode: 0o666}, nil }

func (f saveFile) Open(context.Context, int) (fs.Handle, error) {
	return &saveHandle{t: f.t, base: -1}, nil
}

type saveHandle struct {
	t *tree

	mu   sync.Mutex
	file *os.File // the archive, once saved
	base int64    // the offset of the first read; -1 before it
}

// WriteAt runs the save command; the offset is ignored as in every ctl.
func (h *saveHandle) WriteAt(ctx context.Context, p []byte, _ int64) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	slot := h.t.slot("images")
	err := h.save(ctx, p)
	slot.Set(err)
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

func (h *saveHandle) save(ctx context.Context, p []byte) error {
	if h.file != nil {
		return errdefs.Busy("save: this open file has its archive; open images/save again for another")
	}
	lines := ctl.SplitLines(string(p))
	if len(lines) != 1 {
		return errdefs.Invalid("save: want one line, got %d", len(lines))
	}
	v, err := verbs.Archive.Parse(lines[0])
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(h.t.e.ScratchDir(), "save-")
	if err != nil {
		return errdefs.Unavailable("save: %w", err)
	}
	defer os.RemoveAll(dir) // the open file outlives its name
	path := dir + "/archive.tar"
	if err := h.t.e.SaveImages(ctx, v.(verbs.ArchiveSave).Refs, path); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return errdefs.Unavailable("save: %w", err)
	}
	h.file = f
	return nil
}

func (h *saveHandle) ReadAt(_ context.Context, p []byte, off int64) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.file == nil {
		return 0, errdefs.Invalid("save: write `save REF...` first")
	}
	if h.base < 0 {
		h.base = off
	}
	if off < h.base {
		return 0, errdefs.Invalid("save: read at %d, before the archive's start at %d", off, h.base)
	}
	n, err := h.file.ReadAt(p, off-h.base)
	if errors.Is(err, io.EOF) && n > 0 {
		err = nil
	}
	return n, err
}

func (h *saveHandle) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.file != nil {
		return h.file.Close()
	}
	return nil
}

// loadFile is images/load.
type loadFile struct{ t *tree }

func (loadFile) Attr(context.Context) (fs.Attr, error) { return fs.Attr{Mode: 0o666}, nil }

// Truncate implements fs.Truncater: the shell's `>` truncates to 0 on
// open, which is a no-op on a new upload.
func (loadFile) Truncate(_ context.Context, size int64) error {
	if size != 0 {
		return errdefs.Invalid("load: cannot truncate to %d bytes", size)
	}
	return nil
}

func (f loadFile) Open(context.Context, int) (fs.Handle, error) {
	tmp, err := os.CreateTemp(f.t.e.ScratchDir(), "load-*.tar")
	if err != nil {
		return nil, errdefs.Unavailable("load: %w", err)
	}
	return &loadHandle{t: f.t, file: tmp}, nil
}

type loadHandle struct {
	t *tree

	mu     sync.Mutex
	file   *os.File
	wrote  bool
	done   bool   // loaded (or failed)
	reply  []byte // the load's reply or error message
	closed bool
}

func (h *loadHandle) WriteAt(_ context.Context, p []byte, off int64) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var err error
	if h.done {
		err = errdefs.Busy("load: the archive is loaded; open images/load again for another")
	} else if _, werr := h.file.WriteAt(p, off); werr != nil {
		err = errdefs.Unavailable("load: keeping the archive: %w", werr)
	}
	if err != nil {
		h.t.slot("images").Set(err)
		return 0, err
	}
	h.wrote = true
	return len(p), nil
}

// Truncate implements fs.Truncater on the open file: the shell's
// redirection truncates to 0 before it writes, and a client whose upload
// failed truncates to 0 to drop it.
func (h *loadHandle) Truncate(_ context.Context, size int64) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done {
		return errdefs.Busy("load: the archive is loaded")
	}
	if size != 0 {
		return errdefs.Invalid("load: cannot truncate to %d bytes", size)
	}
	h.wrote = false
	return h.file.Truncate(0)
}

// load loads the archive once; h.mu is held.
func (h *loadHandle) load(ctx context.Context) error {
	if h.done {
		return nil
	}
	h.done = true
	if !h.wrote {
		err := errdefs.Invalid("load: no archive was written")
		h.reply = []byte(err.Error() + "\n")
		return err
	}
	reply, err := h.t.load(ctx, h.file.Name())
	h.t.slot("images").Set(err)
	if err != nil {
		h.reply = []byte(err.Error() + "\n")
		return err
	}
	h.reply = []byte(reply + "\n")
	return nil
}

func (h *loadHandle) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	first := !h.done
	if err := h.load(ctx); err != nil && first {
		return 0, err
	}
	if off >= int64(len(h.reply)) {
		return 0, io.EOF
	}
	return copy(p, h.reply[off:]), nil
}

// Close loads an archive nobody read the result of; the error goes to
// images/err.
func (h *loadHandle) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	h.closed = true
	var err error
	if h.wrote {
		err = h.load(context.Background())
	}
	h.file.Close()
	os.Remove(h.file.Name())
	return err
}
