package fusefs

import (
	"context"
	"errors"
	"io"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/enginefs/enginefs/fs"
)

// handle is one open file: an fs.Handle behind a FUSE file handle.
type handle struct {
	srv *Server
	h   fs.Handle
}

var (
	_ gofs.FileReader   = (*handle)(nil)
	_ gofs.FileWriter   = (*handle)(nil)
	_ gofs.FileReleaser = (*handle)(nil)
	_ gofs.FileFlusher  = (*handle)(nil)
	_ gofs.FileFsyncer  = (*handle)(nil)
)

// Read implements gofs.FileReader. A read may block (a wait file); ctx is
// cancelled by a FUSE INTERRUPT and by Unmount.
func (h *handle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	ctx, cancel := h.srv.opContext(ctx)
	defer cancel()
	n, err := h.h.ReadAt(ctx, dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, h.srv.errno(err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

// Write implements gofs.FileWriter. This is where a ctl command runs and
// where its error reaches the writer.
func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	ctx, cancel := h.srv.opContext(ctx)
	defer cancel()
	n, err := h.h.WriteAt(withClient(ctx), data, off)
	if err != nil {
		return 0, h.srv.errno(err)
	}
	return uint32(n), 0
}

// Flush implements gofs.FileFlusher. The kernel sends FLUSH at each close(2)
// of a descriptor of the file and close(2) returns its error, so this is
// where a ctl line written without its newline runs (fs.Flusher) and fails.
// Release comes later, from no process, and its error reaches nobody.
func (h *handle) Flush(ctx context.Context) syscall.Errno {
	f, ok := h.h.(fs.Flusher)
	if !ok {
		return 0
	}
	ctx, cancel := h.srv.opContext(ctx)
	defer cancel()
	if err := f.Flush(withClient(ctx)); err != nil {
		return h.srv.errno(err)
	}
	return 0
}

// Fsync implements gofs.FileFsyncer: there is nothing to sync.
func (h *handle) Fsync(context.Context, uint32) syscall.Errno { return 0 }

// Release implements gofs.FileReleaser. The error of Close reaches nobody.
func (h *handle) Release(context.Context) syscall.Errno {
	_ = h.h.Close()
	return 0
}
