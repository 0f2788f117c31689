package fusefs

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

// Option configures Mount.
type Option func(*options)

type options struct {
	debug  bool
	logger *log.Logger
}

// WithDebug logs every FUSE request and reply (default off).
func WithDebug(on bool) Option { return func(o *options) { o.debug = on } }

// WithLogger sets where go-fuse logs its debug output and its complaints
// (default: the standard library's default logger).
func WithLogger(l *log.Logger) Option { return func(o *options) { o.logger = l } }

// Server is a mounted tree. It is safe for concurrent use.
type Server struct {
	dir  string
	fuse *fuse.Server

	stop     chan struct{} // closed by Unmount: wakes node calls that block
	stopOnce sync.Once

	mu        sync.Mutex
	unmounted bool
	release   func() bool // stops the ctx watch
}

// Mount serves root at dir, which must be an existing directory, and returns
// once the kernel has the mount. The file system is named "enginefs" (type
// fuse.enginefs in /proc/mounts). The mount lasts until Unmount is called or
// ctx is done. Mounting needs root (or fusermount) and /dev/fuse; without
// them the error is of class errdefs.ErrUnavailable.
func Mount(ctx context.Context, dir string, root fs.Dir, opts ...Option) (*Server, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	s := &Server{dir: dir, stop: make(chan struct{})}
	zero := time.Duration(0)
	mo := &gofs.Options{
		EntryTimeout:    &zero,
		AttrTimeout:     &zero,
		NegativeTimeout: &zero,
		RootStableAttr:  &gofs.StableAttr{Ino: fs.PathID("/")},
		Logger:          o.logger,
		MountOptions: fuse.MountOptions{
			FsName:      "enginefs",
			Name:        "enginefs",
			Debug:       o.debug,
			Logger:      o.logger,
			DirectMount: true, // we are root: mount(2) directly, fusermount as a fallback
			// READDIRPLUS would look up every entry of a listing; with
			// zero timeouts the kernel could not keep the result anyway.
			DisableReadDirPlus: true,
		},
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fusefs: mount %s: %w", dir, err)
	}
	srv, err := gofs.Mount(dir, &node{srv: s, path: "/", cur: root}, mo)
	if err != nil {
		return nil, errdefs.New(errdefs.ErrUnavailable, "fusefs: mount %s: %w", dir, err)
	}
	s.fuse = srv
	s.mu.Lock()
	s.release = context.AfterFunc(ctx, func() { _ = s.Unmount() })
	s.mu.Unlock()
	return s, nil
}

// Unmount wakes every node call still blocked (a read of a wait file) and
// unmounts. If a process still has a file open the kernel refuses a plain
// unmount; Unmount then detaches the mount lazily (MNT_DETACH): the mount
// point is free at once and the open files keep working until they are
// closed. Unmount may be called more than once.
func (s *Server) Unmount() error {
	s.stopOnce.Do(func() { close(s.stop) })
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.release != nil {
		s.release()
	}
	if s.unmounted {
		return nil
	}
	err := s.fuse.Unmount()
	if err != nil {
		if derr := syscall.Unmount(s.dir, syscall.MNT_DETACH); derr != nil {
			return errdefs.New(errdefs.ErrBusy, "fusefs: unmount %s: %w", s.dir, errors.Join(err, derr))
		}
	}
	s.unmounted = true
	return nil
}

// Wait returns when the file system is no longer served: after Unmount, or
// once the last open file of a lazily detached mount is closed.
func (s *Server) Wait() { s.fuse.Wait() }

// errno maps the error of a call that may have blocked. Once the server is
// unmounting, a call cut short answers ENOTCONN, as a dead FUSE mount does,
// rather than EINTR: a Go program would retry an EINTR forever.
func (s *Server) errno(err error) syscall.Errno {
	select {
	case <-s.stop:
		if errors.Is(err, context.Canceled) {
			return syscall.ENOTCONN
		}
	default:
	}
	return fs.Errno(err)
}

// opContext returns the context for a call that may block: the request's
// own (go-fuse closes it on a FUSE INTERRUPT), also cancelled by Unmount.
func (s *Server) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
