// Package fstest is the conformance suite for enginefs transports, in the
// manner of Go's testing/fstest and containerd's content testsuite: every
// transport (FUSE in fs/fusefs, 9P in fs/ninep) runs [TestTransport] to show
// that a tree served through it behaves as the same tree in process does.
//
// The suite builds its own [Tree] from the fs kit and checks it through an
// fs.Client: fresh reads at each open, ctl replies, every error class with its
// message, the err file, blocking reads released by another goroutine or
// cancelled through their context, a host file that grows, directories whose
// entries come and go (and come back as new objects), missing names, writes
// to read-only files, concurrent use of one client, and a writable host
// directory (fs.HostDir) changed through an fs.WriteClient: files created,
// written, truncated, renamed and removed, directories, symbolic links and
// attributes, while the synthetic tree refuses all of it (EPERM).
package fstest

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/enginefs/enginefs/fs"
)

// MountFunc serves root through the transport under test and returns a
// client of it. It registers its own cleanup with t.Cleanup (unmount, close
// the connection) and fails the test itself when it cannot serve.
type MountFunc func(t *testing.T, root fs.Dir) fs.Client

// StatClient is a client that can also stat a path. When the client returned
// by a MountFunc is one, the suite also checks sizes (a growing log).
type StatClient interface {
	fs.Client
	Stat(ctx context.Context, name string) (fs.Attr, error)
}

// Option adapts the suite to what a transport's client can do.
type Option func(*config)

type config struct {
	cancel bool
}

// WithoutCancel skips the check that cancelling a read's ctx ends it, for
// clients that cannot pass a cancellation on: through a mounted tree
// (fs.Mount) a read(2) has no context, and only a signal interrupts it
// (which the FUSE transport's own tests check).
func WithoutCancel() Option { return func(c *config) { c.cancel = false } }

// timeout bounds every operation the suite expects to finish.
const timeout = 10 * time.Second

// TestTransport runs the suite. Each case serves a fresh Tree through mount.
func TestTransport(t *testing.T, mount MountFunc, opts ...Option) {
	cfg := config{cancel: true}
	for _, o := range opts {
		o(&cfg)
	}
	cases := []struct {
		name string
		run  func(t *testing.T, tr *Tree, c fs.Client)
	}{
		{"Static", testStatic},
		{"FreshReads", testFreshReads},
		{"Ctl", testCtl},
		{"CtlErrors", testCtlErrors},
		{"NotFound", testNotFound},
		{"ReadOnly", testReadOnly},
		{"Doc", testDoc},
		{"Blocking", testBlocking},
		{"BlockingCancel", func(t *testing.T, tr *Tree, c fs.Client) {
			if !cfg.cancel {
				t.Skip("the client cannot cancel a read through its context")
			}
			testBlockingCancel(t, tr, c)
		}},
		{"GrowingFile", testGrowingFile},
		{"DirChanges", testDirChanges},
		{"Concurrent", testConcurrent},
		{"HostFiles", testHostFiles},
		{"HostDirs", testHostDirs},
		{"HostRenameWhileBlocked", testHostRenameWhileBlocked},
		{"HostLinks", testHostLinks},
		{"HostAttrs", testHostAttrs},
		{"WritesRefused", testWritesRefused},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTree(t)
			c := mount(t, tr.Root())
			tc.run(t, tr, c)
		})
	}
}

// testContext returns a context bounded by the suite's timeout.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	t.Cleanup(cancel)
	return ctx
}

// readFile reads a whole file or fails the test.
func readFile(t *testing.T, c fs.Client, name string) string {
	t.Helper()
	b, err := fs.ReadAll(testContext(t), c, name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return string(b)
}

// command runs one ctl command or fails the test.
func command(t *testing.T, c fs.Client, line string) string {
	t.Helper()
	reply, err := fs.Command(testContext(t), c, "ctl", line)
	if err != nil {
		t.Fatalf("ctl %q: %v", line, err)
	}
	return reply
}

// ErrnoOf returns the errno carried by err, or 0.
func ErrnoOf(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return 0
}

// result is what a read in another goroutine came back with.
type result struct {
	data string
	err  error
}

// readAsync reads h to its end in a new goroutine.
func readAsync(ctx context.Context, h fs.Handle) <-chan result {
	ch := make(chan result, 1)
	go func() {
		b, err := fs.ReadHandle(ctx, h)
		ch <- result{string(b), err}
	}()
	return ch
}

// await receives a result or fails the test after the suite's timeout.
func await(t *testing.T, what string, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(timeout):
		t.Fatalf("timed out waiting for %s", what)
		return result{}
	}
}
