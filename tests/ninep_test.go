//go:build linux

package tests

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
	"github.com/enginefs/enginefs/fs/ninep"
	"github.com/enginefs/enginefs/internal/testenv"
)

// freeLoopbackPort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Test9PGoClient runs a container over 9P with the project's Go client, on
// the unix socket and on loopback TCP: clone, create, start, wait, log, rm.
func Test9PGoClient(t *testing.T) {
	d := startDaemon(t, "--insecure-tcp", "--9p", fmt.Sprintf("tcp:127.0.0.1:%d", freeLoopbackPort(t)))
	for _, addr := range []string{d.sock, d.tcp} {
		t.Run(strings.SplitN(addr, ":", 2)[0], func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c, err := ninep.Dial(ctx, addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()

			clone, err := c.Open(ctx, "containers/clone", os.O_RDWR)
			if err != nil {
				t.Fatal(err)
			}
			idb, err := fs.ReadHandle(ctx, clone)
			if err != nil {
				t.Fatal(err)
			}
			id := strings.TrimSpace(string(idb))
			if _, err := clone.WriteAt(ctx, []byte("create image=busybox -- sh -c 'echo $$ $(hostname); exit 7'\n"), 0); err != nil {
				t.Fatal(err)
			}
			clone.Close()
			dir := "containers/" + id + "/"
			wait, err := c.Open(ctx, dir+"wait", os.O_RDONLY)
			if err != nil {
				t.Fatal(err)
			}
			defer wait.Close()
			if _, err := fs.Command(ctx, c, dir+"ctl", "start"); err != nil {
				t.Fatal(err)
			}
			code, err := fs.ReadHandle(ctx, wait)
			if err != nil || string(code) != "7\n" {
				t.Fatalf("wait = %q, %v; want 7", code, err)
			}
			log, err := fs.ReadAll(ctx, c, dir+"log")
			if want := "1 " + id[:12] + "\n"; err != nil || string(log) != want {
				t.Errorf("log = %q, %v; want %q", log, err, want)
			}

			// Errors keep their class and the daemon's message.
			_, err = fs.Command(ctx, c, dir+"ctl", "kill TERM")
			if !errors.Is(err, errdefs.ErrBusy) || !strings.Contains(err.Error(), "is not running") {
				t.Errorf("kill of an exited container = %v, want busy / not running", err)
			}
			_, err = fs.Command(ctx, c, dir+"ctl", "stop soon")
			if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), `"soon"`) {
				t.Errorf("stop soon = %v, want invalid naming the word", err)
			}
			if _, err := c.Open(ctx, "containers/nosuch/status", os.O_RDONLY); fs.Errno(err) != syscall.ENOENT {
				t.Errorf("open of a missing container = %v, want ENOENT", err)
			}
			if _, err := fs.Command(ctx, c, dir+"ctl", "rm"); err != nil {
				t.Fatal(err)
			}
			ents, err := c.ReadDir(ctx, "containers")
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				if e.Name == id {
					t.Errorf("containers still lists %s after rm", id)
				}
			}
		})
	}
}

// TestDiodcat reads the tree with Debian's diodcat, a 9P2000.L client nobody
// here wrote, over the unix socket and loopback TCP.
func TestDiodcat(t *testing.T) {
	diodcat := testenv.NeedBinary(t, "diodcat", "diod")
	port := freeLoopbackPort(t)
	d := startDaemon(t, "--insecure-tcp", "--9p", fmt.Sprintf("tcp:127.0.0.1:%d", port))
	d.sh("echo 'create name=dc image=busybox -- echo hello over 9p' > containers/ctl; echo start > containers/dc/ctl; cat containers/dc/wait")
	for _, server := range []string{strings.TrimPrefix(d.sock, "unix:"), fmt.Sprintf("127.0.0.1:%d", port)} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, err := exec.CommandContext(ctx, diodcat, "-s", server, "-a", "/", "version", "containers/dc/log", "containers/dc/status").CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("diodcat -s %s: %v\n%s", server, err, out)
		}
		got := string(out)
		if !strings.HasPrefix(got, "enginefs ") || !strings.Contains(got, "hello over 9p\nexited code=0 ") {
			t.Errorf("diodcat -s %s printed %q", server, got)
		}
	}
}
