package keeper

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime"
	"golang.org/x/sys/unix"
)

// DefaultIdle is how long a keeper with nothing to keep lingers by default.
const DefaultIdle = 2 * time.Second

// firstClientWait is how long a new keeper waits for its first client
// when Idle is shorter: the client that spawned it dials only once the
// --detach process exited, which a loaded host (or a build with the race
// detector, whose runtime sleeps a second at exit) can make slower than a
// short Idle.
const firstClientWait = 10 * time.Second

// Config configures Serve.
type Config struct {
	// RunDir holds the socket and the pid file; created (0700) if missing.
	RunDir string
	// Idle is how long the keeper waits, once it has no live process, no
	// exit status to hand over and no client, before it exits. Default
	// DefaultIdle.
	Idle time.Duration
	// NewRuntime returns the runtime a name stands for: "builtin", or the
	// absolute path of an OCI runtime binary. It is called once per name.
	NewRuntime func(name string) (runtime.Runtime, error)
	// Logf reports what the keeper cannot tell a client (a log that
	// failed, a client that left). Default: the standard logger.
	Logf func(format string, args ...any)
}

// server is a running keeper.
type server struct {
	cfg  Config
	logf func(string, ...any)

	rtMu     sync.Mutex
	runtimes map[string]runtime.Runtime

	mu         sync.Mutex
	procs      map[key]*proc
	containers map[string]*container
	starting   map[key]bool
	conns      map[*conn]struct{}
	hadClient  bool // a client connected once
	idleTimer  *time.Timer
	stop       context.CancelFunc // ends Serve
	closing    bool
}

// key names a process: a container's init (exec "") or an exec'd process.
type key struct{ id, exec string }

// container is what the keeper remembers of a container started through
// it: what Exec, Pause, Resume and Delete need.
type container struct {
	runtime string // "builtin" or an OCI runtime binary
	rt      runtime.Runtime
	bundle  string
}

// Serve runs a keeper in RunDir until ctx is done or the keeper has been
// idle for cfg.Idle (see the package doc). It makes the calling process a
// child subreaper. It refuses to start, with an error of class
// errdefs.ErrAlreadyExists, when another keeper holds RunDir. On return
// the socket and the pid file are gone; the processes it started run on.
func Serve(ctx context.Context, cfg Config) error {
	if cfg.RunDir == "" || cfg.NewRuntime == nil {
		return errdefs.Invalid("keeper: no run directory or no runtimes")
	}
	if cfg.Idle <= 0 {
		cfg.Idle = DefaultIdle
	}
	s := &server{
		cfg:        cfg,
		logf:       cfg.Logf,
		runtimes:   map[string]runtime.Runtime{},
		procs:      map[key]*proc{},
		containers: map[string]*container{},
		starting:   map[key]bool{},
		conns:      map[*conn]struct{}{},
	}
	if s.logf == nil {
		s.logf = log.Printf
	}
	// Containers whose runtime exits after starting them (runc) are
	// reparented to us, so that we, and not init, reap them.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return errdefs.Unavailable("keeper: become a child subreaper: %w", err)
	}
	if err := os.MkdirAll(cfg.RunDir, 0o700); err != nil {
		return fmt.Errorf("keeper: %w", err)
	}
	pidFile, err := lockPidFile(filepath.Join(cfg.RunDir, PidFileName))
	if err != nil {
		return err
	}
	defer pidFile.Close()
	sock := filepath.Join(cfg.RunDir, SocketName)
	l, err := listen(sock)
	if err != nil {
		os.Remove(pidFile.Name())
		return err
	}
	defer func() {
		// The socket goes first: a new keeper may start as soon as
		// the pid file is gone.
		os.Remove(sock)
		os.Remove(pidFile.Name())
	}()

	ctx, s.stop = context.WithCancel(ctx)
	defer s.stop()
	s.mu.Lock()
	s.checkIdle()
	s.mu.Unlock()
	go func() {
		<-ctx.Done()
		s.mu.Lock()
		s.closing = true
		for c := range s.conns {
			c.nc.Close()
		}
		s.mu.Unlock()
		l.Close()
	}()
	s.logf("keeper %d serving on %s (protocol %d, %s)", os.Getpid(), sock, ProtocolVersion, build())
	for {
		nc, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				s.logf("keeper %d exits", os.Getpid())
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.logf("keeper: accept: %v", err)
			time.Sleep(10 * time.Millisecond) // EMFILE: let some close
			continue
		}
		c := s.newConn(nc)
		if c == nil {
			nc.Close() // exiting
			continue
		}
		go c.serve(ctx)
	}
}

// lockPidFile takes the keeper's lock on path (flock, held for the life of
// the process) and writes the pid into it. The pid file is the lock, so
// that no other file is left behind; a lock taken on a file a previous
// keeper has just removed is retried on the new file.
func lockPidFile(path string) (*os.File, error) {
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("keeper: %w", err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				pid, _ := os.ReadFile(path)
				return nil, errdefs.AlreadyExists("keeper: another keeper (pid %s) holds %s", pid, path)
			}
			return nil, fmt.Errorf("keeper: lock %s: %w", path, err)
		}
		var held, named unix.Stat_t
		if unix.Fstat(int(f.Fd()), &held) != nil || unix.Stat(path, &named) != nil || held.Ino != named.Ino || held.Dev != named.Dev {
			f.Close() // removed by the keeper that held it: again
			continue
		}
		if err := f.Truncate(0); err != nil {
			f.Close()
			return nil, fmt.Errorf("keeper: %w", err)
		}
		if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
			f.Close()
			return nil, fmt.Errorf("keeper: %w", err)
		}
		return f, nil
	}
}

// listen listens on the unix socket path, mode 0600, replacing a stale
// socket but refusing to take over one that answers.
func listen(path string) (net.Listener, error) {
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, errdefs.AlreadyExists("keeper: another keeper answers on %s", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("keeper: %w", err)
	}
	old := syscall.Umask(0o177)
	l, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("keeper: %w", err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false) // Serve removes it, first
	return l, nil
}

// newConn registers a client connection; nil when the keeper is exiting.
func (s *server) newConn(nc net.Conn) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil
	}
	c := &conn{s: s, nc: nc, calls: map[uint64]func(){}}
	s.conns[c] = struct{}{}
	s.hadClient = true
	s.checkIdle()
	return c
}

// connDone unregisters a connection.
func (s *server) connDone(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	s.checkIdle()
}

// checkIdle arms the idle timer when the keeper has nothing to keep, and
// disarms it otherwise; s.mu is held. Called on every change of what it
// looks at: a connection, a process exiting, a status forgotten.
func (s *server) checkIdle() {
	// procs holds the live processes and the exit statuses not yet
	// forgotten.
	idle := len(s.conns) == 0 && len(s.starting) == 0 && len(s.procs) == 0
	switch {
	case idle && s.idleTimer == nil:
		d := s.cfg.Idle
		if !s.hadClient {
			d = max(d, firstClientWait)
		}
		var t *time.Timer
		t = time.AfterFunc(d, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.idleTimer == t && !s.closing {
				s.closing = true
				s.logf("keeper %d: idle for %v", os.Getpid(), d)
				s.stop()
			}
		})
		s.idleTimer = t
	case !idle && s.idleTimer != nil:
		s.idleTimer.Stop()
		s.idleTimer = nil
	}
}

// runtime returns the runtime called name, making it on first use.
func (s *server) runtime(name string) (runtime.Runtime, error) {
	s.rtMu.Lock()
	defer s.rtMu.Unlock()
	if rt := s.runtimes[name]; rt != nil {
		return rt, nil
	}
	if name != "builtin" && !filepath.IsAbs(name) {
		return nil, errdefs.Invalid("runtime %q is neither builtin nor the absolute path of a binary", name)
	}
	rt, err := s.cfg.NewRuntime(name)
	if err != nil {
		return nil, fmt.Errorf("runtime %s: %w", name, err)
	}
	s.runtimes[name] = rt
	return rt, nil
}
