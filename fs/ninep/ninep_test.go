package ninep_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
	"github.com/enginefs/enginefs/fs/fstest"
	"github.com/enginefs/enginefs/fs/ninep"
	"github.com/enginefs/enginefs/internal/testenv"
)

// server is a running Serve.
type server struct {
	addr   string // to Dial
	host   string // for diodcat -s
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// stop cancels Serve and checks that it returns nil, once.
func (s *server) stop(t *testing.T) {
	t.Helper()
	s.once.Do(func() {
		s.cancel()
		select {
		case err := <-s.done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Serve still running 10s after its context was cancelled")
		}
	})
}

// serve serves root on addr ("unix" or "tcp" for a fresh one) until the
// test ends.
func serve(t *testing.T, network string, root fs.Dir) *server {
	t.Helper()
	return serveWith(t, network, root)
}

// serveWith is serve with Serve's options.
func serveWith(t *testing.T, network string, root fs.Dir, opts ...ninep.Option) *server {
	t.Helper()
	addr := "tcp:127.0.0.1:0"
	if network == "unix" {
		addr = "unix:" + filepath.Join(t.TempDir(), "9p.sock")
	}
	l, err := ninep.Listen(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{addr: addr, host: strings.TrimPrefix(addr, "unix:"), cancel: cancel, done: make(chan error, 1)}
	if network == "tcp" {
		s.addr = "tcp:" + l.Addr().String()
		s.host = l.Addr().String()
	}
	go func() { s.done <- ninep.Serve(ctx, l, root, opts...) }()
	t.Cleanup(func() { s.stop(t) })
	return s
}

// dial connects to s and closes the client when the test ends.
func dial(t *testing.T, s *server) fs.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := ninep.Dial(ctx, s.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestTransport(t *testing.T) {
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			fstest.TestTransport(t, func(t *testing.T, root fs.Dir) fs.Client {
				c := dial(t, serve(t, network, root))
				if _, ok := c.(fstest.StatClient); !ok {
					t.Fatalf("the 9P client has no Stat")
				}
				return c
			})
		})
	}
}

func TestListen(t *testing.T) {
	ctx := context.Background()
	for _, addr := range []string{
		"tcp:0.0.0.0:0", "tcp::0", "tcp:192.0.2.1:564", "tcp:example.com:564",
		"tcp:127.0.0.1", "udp:127.0.0.1:564", "unix:", "/run/9p.sock",
	} {
		t.Run(addr, func(t *testing.T) {
			l, err := ninep.Listen(ctx, addr)
			if err == nil {
				l.Close()
			}
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("Listen(%q): %v, want an invalid argument error", addr, err)
			}
			if _, err := ninep.Dial(ctx, addr); !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("Dial(%q): %v, want an invalid argument error", addr, err)
			}
		})
	}
	if _, err := ninep.Listen(ctx, "tcp:10.1.2.3:564"); err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Errorf("non-loopback TCP: %v, want an error saying TLS is required", err)
	}
	for _, addr := range []string{"tcp:127.0.0.1:0", "tcp:127.1.2.3:0", "tcp:localhost:0", "tcp:[::1]:0"} {
		t.Run(addr, func(t *testing.T) {
			if strings.Contains(addr, "::1") {
				testenv.Need(t, "an IPv6 loopback", testenv.IPv6Loopback())
			}
			l, err := ninep.Listen(ctx, addr)
			if err != nil {
				t.Fatalf("Listen(%q): %v", addr, err)
			}
			l.Close()
		})
	}
}

func TestListenUnix(t *testing.T) {
	ctx := context.Background()
	sock := filepath.Join(t.TempDir(), "9p.sock")
	addr := "unix:" + sock

	// A socket left behind by a server that died is replaced.
	stale, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	l, err := ninep.Listen(ctx, addr)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	defer l.Close()
	st, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 || st.Mode()&os.ModeSocket == 0 {
		t.Errorf("socket mode %v, want srw-------", st.Mode())
	}

	// A live one is not.
	if l2, err := ninep.Listen(ctx, addr); !errors.Is(err, errdefs.ErrAlreadyExists) {
		if err == nil {
			l2.Close()
		}
		t.Errorf("Listen over a live socket: %v, want already exists", err)
	}
	// Nor is a file that is not a socket.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ninep.Listen(ctx, "unix:"+file); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Errorf("Listen over a regular file: %v, want already exists", err)
	}
	if b, _ := os.ReadFile(file); string(b) != "keep me" {
		t.Errorf("Listen clobbered a regular file")
	}
}

// TestCloseWhileBlocked checks that a client leaving while a read of a wait
// file is blocked ends the read on the server, and that Serve returns.
func TestCloseWhileBlocked(t *testing.T) {
	tr := fstest.NewTree(t)
	s := serve(t, "unix", tr.Root())
	ctx := context.Background()
	c, err := ninep.Dial(ctx, s.addr)
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.Open(ctx, "wait", os.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	read := make(chan error, 1)
	go func() { _, err := fs.ReadHandle(ctx, h); read <- err }()
	fstest.WaitFor(t, "the read to block", func() bool { return tr.Waiting() == 1 })
	c.Close()
	select {
	case err := <-read:
		if err == nil {
			t.Errorf("read succeeded on a closed client")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("read still blocked 10s after the client closed")
	}
	fstest.WaitFor(t, "the server to cancel the read", func() bool { return tr.Waiting() == 0 && tr.Cancelled() == 1 })
	s.stop(t)
}

// TestStopWhileBlocked checks that Serve returns when its context is done
// even though a read is blocked on an open connection.
func TestStopWhileBlocked(t *testing.T) {
	tr := fstest.NewTree(t)
	s := serve(t, "tcp", tr.Root())
	c := dial(t, s)
	ctx := context.Background()
	h, err := c.Open(ctx, "wait", os.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	read := make(chan error, 1)
	go func() { _, err := fs.ReadHandle(ctx, h); read <- err }()
	fstest.WaitFor(t, "the read to block", func() bool { return tr.Waiting() == 1 })
	s.stop(t)
	select {
	case err := <-read:
		if err == nil {
			t.Errorf("read succeeded on a stopped server")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("read still blocked 10s after the server stopped")
	}
	if tr.Waiting() != 0 {
		t.Errorf("%d reads still blocked in the tree", tr.Waiting())
	}
}

// TestCloseHandleWhileBlocked checks that closing a handle (Tclunk) wakes a
// read blocked on it.
func TestCloseHandleWhileBlocked(t *testing.T) {
	tr := fstest.NewTree(t)
	c := dial(t, serve(t, "unix", tr.Root()))
	ctx := context.Background()
	h, err := c.Open(ctx, "wait", os.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	read := make(chan error, 1)
	go func() { _, err := fs.ReadHandle(ctx, h); read <- err }()
	fstest.WaitFor(t, "the read to block", func() bool { return tr.Waiting() == 1 })
	if err := h.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	select {
	case err := <-read:
		if err == nil {
			t.Errorf("read of a closed handle succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("read still blocked 10s after its handle was closed")
	}
	if got, err := fs.ReadAll(ctx, c, "static/hello"); err != nil || string(got) != "hello\n" {
		t.Errorf("static/hello: %q, %v", got, err)
	}
}

// readFile reads a whole file through c.
func readFile(c fs.Client, name string) (string, error) {
	b, err := fs.ReadAll(context.Background(), c, name)
	return string(b), err
}
