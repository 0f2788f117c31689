package ninep_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/enginefs/enginefs/fs/fstest"
	"github.com/enginefs/enginefs/internal/testenv"
)

// diod finds one of Debian's diod client tools, or skips the test.
func diod(t *testing.T, name string) string {
	t.Helper()
	for _, p := range []string{filepath.Join("/usr/sbin", name), name} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	testenv.Need(t, name, fmt.Errorf("%s (Debian's diod) is not installed", name))
	return ""
}

// TestDiod reads the tree with diod's clients, a 9P implementation nobody
// here wrote. They send Tauth first and go on only if it fails with ENOENT.
// p9 ignores the aname except as a path to walk to, so "/" and "" attach at
// the root and "/static" at static; diodcat's default, "ctl", names a file.
func TestDiod(t *testing.T) {
	diodcat, diodls := diod(t, "diodcat"), diod(t, "diodls")
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			tr := fstest.NewTree(t)
			s := serve(t, network, tr.Root())
			c := dial(t, s)
			tests := []struct {
				name string
				args []string
				want string
			}{
				{"cat", []string{diodcat, "-s", s.host, "-a", "/", "static/hello"}, "hello\n"},
				{"empty aname", []string{diodcat, "-s", s.host, "-a", "", "static/hello"}, "hello\n"},
				{"aname is a dir", []string{diodcat, "-s", s.host, "-a", "/static", "hello"}, "hello\n"},
				{"fresh reads", []string{diodcat, "-s", s.host, "-a", "/", "counter", "counter"}, "1\n2\n"},
				{"ls", []string{diodls, "-s", s.host, "-a", "/", "static"}, "hello\n"},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					out, err := exec.Command(tc.args[0], tc.args[1:]...).CombinedOutput()
					if err != nil || string(out) != tc.want {
						t.Errorf("%s: %q, %v; want %q", strings.Join(tc.args, " "), out, err, tc.want)
					}
				})
			}
			t.Run("missing", func(t *testing.T) {
				out, err := exec.Command(diodcat, "-s", s.host, "-a", "/", "nothing").CombinedOutput()
				if err == nil || !strings.Contains(string(out), "No such file or directory") {
					t.Errorf("diodcat nothing: %q, %v; want ENOENT", out, err)
				}
			})
			t.Run("blocking", func(t *testing.T) {
				cmd := exec.Command(diodcat, "-s", s.host, "-a", "/", "wait")
				var out bytes.Buffer
				cmd.Stdout = &out
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- cmd.Wait() }()
				defer cmd.Process.Kill()
				fstest.WaitFor(t, "diodcat to block on wait", func() bool { return tr.Waiting() == 1 })
				// Released through ctl by another client.
				f, err := c.Open(context.Background(), "ctl", os.O_WRONLY)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if _, err := f.WriteAt(context.Background(), []byte("release\n"), 0); err != nil {
					t.Fatal(err)
				}
				select {
				case err := <-done:
					if err != nil || out.String() != "released 1\n" {
						t.Errorf("diodcat wait: %q, %v", out.String(), err)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("diodcat still blocked 10s after release")
				}
			})
		})
	}
}

// rawConn speaks 9P by hand, to send what no client would.
type rawConn struct {
	t *testing.T
	c net.Conn
}

func rawDial(t *testing.T, s *server) *rawConn {
	t.Helper()
	network, address, _ := strings.Cut(s.addr, ":")
	c, err := net.Dial(network, address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c}
}

// msg encodes a message; fields are uint8, uint16, uint32, uint64, string
// or []string, as 9P encodes them.
func msg(typ byte, tag uint16, fields ...any) []byte {
	b := []byte{0, 0, 0, 0, typ, byte(tag), byte(tag >> 8)}
	str := func(s string) { b = append(binary.LittleEndian.AppendUint16(b, uint16(len(s))), s...) }
	for _, f := range fields {
		switch v := f.(type) {
		case uint8:
			b = append(b, v)
		case uint16:
			b = binary.LittleEndian.AppendUint16(b, v)
		case uint32:
			b = binary.LittleEndian.AppendUint32(b, v)
		case uint64:
			b = binary.LittleEndian.AppendUint64(b, v)
		case string:
			str(v)
		case []string:
			b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
			for _, s := range v {
				str(s)
			}
		default:
			panic(f)
		}
	}
	binary.LittleEndian.PutUint32(b, uint32(len(b)))
	return b
}

func (r *rawConn) send(b []byte) {
	r.t.Helper()
	if _, err := r.c.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

// recv reads one message and returns its type, tag and body.
func (r *rawConn) recv() (byte, uint16, []byte) {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(r.c, size[:]); err != nil {
		r.t.Fatalf("reading a reply: %v", err)
	}
	b := make([]byte, binary.LittleEndian.Uint32(size[:])-4)
	if _, err := io.ReadFull(r.c, b); err != nil {
		r.t.Fatalf("reading a reply: %v", err)
	}
	return b[0], binary.LittleEndian.Uint16(b[1:]), b[3:]
}

// expect reads a reply and checks its type and tag.
func (r *rawConn) expect(typ byte, tag uint16) []byte {
	r.t.Helper()
	gt, gtag, body := r.recv()
	if gt != typ || gtag != tag {
		r.t.Fatalf("got message type %d tag %d (body %x), want type %d tag %d", gt, gtag, body, typ, tag)
	}
	return body
}

// expectErrno reads an Rlerror and checks its tag and errno.
func (r *rawConn) expectErrno(tag uint16, errno syscall.Errno) {
	r.t.Helper()
	body := r.expect(7, tag)
	if got := syscall.Errno(binary.LittleEndian.Uint32(body)); got != errno {
		r.t.Fatalf("Rlerror %v, want %v", got, errno)
	}
}

// expectClosed checks that the server closes the connection.
func (r *rawConn) expectClosed() {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(r.c); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		r.t.Fatalf("the server did not close the connection: %v", err)
	}
}

const (
	noFID = ^uint32(0)
	noUID = ^uint32(0)
)

// attach does Tversion and Tattach of fid 1 at the root.
func (r *rawConn) attach() {
	r.t.Helper()
	r.send(msg(100, 0xffff, uint32(8192), "9P2000.L"))
	r.expect(101, 0xffff)
	r.send(msg(104, 1, uint32(1), noFID, "root", "/", noUID))
	r.expect(105, 1)
}

func TestTauth(t *testing.T) {
	r := rawDial(t, serve(t, "unix", fstest.NewTree(t).Root()))
	r.send(msg(100, 0xffff, uint32(8192), "9P2000.L"))
	r.expect(101, 0xffff)
	r.send(msg(102, 1, uint32(0), "root", "/", noUID))
	r.expectErrno(1, syscall.ENOENT)
	r.send(msg(104, 2, uint32(1), noFID, "root", "/", noUID))
	r.expect(105, 2)
}

// TestFlush checks that Tflush of a blocked read cancels it, and that the
// read's reply comes before the Rflush.
func TestFlush(t *testing.T) {
	tr := fstest.NewTree(t)
	r := rawDial(t, serve(t, "tcp", tr.Root()))
	r.attach()
	r.send(msg(110, 2, uint32(1), uint32(2), []string{"wait"}))
	r.expect(111, 2)
	r.send(msg(12, 3, uint32(2), uint32(0)))
	r.expect(13, 3)
	r.send(msg(116, 10, uint32(2), uint64(0), uint32(100)))
	fstest.WaitFor(t, "the read to block", func() bool { return tr.Waiting() == 1 })
	r.send(msg(108, 11, uint16(10)))
	r.expectErrno(10, syscall.EINTR)
	r.expect(109, 11)
	if tr.Cancelled() != 1 {
		t.Errorf("the tree saw %d cancellations, want 1", tr.Cancelled())
	}
	// A flush of nothing is answered at once; the fid still works.
	r.send(msg(108, 12, uint16(99)))
	r.expect(109, 12)
	r.send(msg(116, 13, uint32(2), uint64(0), uint32(100)))
	fstest.WaitFor(t, "the read to block", func() bool { return tr.Waiting() == 1 })
	tr.Release()
	body := r.expect(117, 13)
	if got := string(body[4:]); got != "released 1\n" {
		t.Errorf("read %q after release", got)
	}
}

// TestGarbage sends what a broken or hostile client would: the server
// answers what it can frame, drops a connection it cannot, and goes on
// serving others.
func TestGarbage(t *testing.T) {
	tr := fstest.NewTree(t)
	s := serve(t, "unix", tr.Root())
	closes := map[string][]byte{
		"size below the header": {3, 0, 0, 0, 100, 0xff, 0xff},
		"size of 4GiB":          {0xff, 0xff, 0xff, 0xff, 100, 0, 0},
		"zeros":                 make([]byte, 64),
		"cut short":             {100, 0, 0, 0, 100, 0xff},
		"rename lock":           msg(74, 5, uint32(1), "a", uint32(1), "b"),
		// Not 9P2000.L as p9 reads it: p9 would answer and go on.
		"unknown type": msg(250, 7, uint32(1)),
		"short body":   msg(116, 7, uint32(1), uint32(0)),
		"short string": msg(110, 7, uint32(1), uint32(3), uint16(1), uint16(9), uint8('a')), // a 9-byte name of 1
	}
	for name, b := range closes {
		t.Run(name, func(t *testing.T) {
			r := rawDial(t, s)
			if name != "size below the header" && name != "size of 4GiB" && name != "zeros" && name != "cut short" {
				r.attach()
			}
			if name == "rename lock" {
				// Not garbage: refused without taking p9's global lock.
				r.send(b)
				r.expectErrno(5, syscall.EPERM)
				return
			}
			r.send(b)
			if name == "cut short" {
				r.c.(interface{ CloseWrite() error }).CloseWrite()
			}
			r.expectClosed()
		})
	}
	t.Run("answered", func(t *testing.T) {
		r := rawDial(t, s)
		r.attach()
		// An unknown fid.
		r.send(msg(116, 8, uint32(42), uint64(0), uint32(10)))
		r.expectErrno(8, syscall.EBADF)
		// A name that is not one.
		r.send(msg(110, 9, uint32(1), uint32(3), []string{".."}))
		r.expectErrno(9, syscall.EINVAL)
		// And the connection still serves.
		r.send(msg(110, 10, uint32(1), uint32(3), []string{"static"}))
		r.expect(111, 10)
	})
	if got, err := readFile(dial(t, s), "static/hello"); err != nil || got != "hello\n" {
		t.Errorf("after garbage: %q, %v", got, err)
	}
}

// TestRandomMessages sends well-framed messages of every type with random
// bodies: whatever they do, the server must not crash and must go on
// serving other connections.
func TestRandomMessages(t *testing.T) {
	s := serve(t, "unix", fstest.NewTree(t).Root())
	rnd := rand.New(rand.NewPCG(1, 2))
	for round := range 20 {
		r := rawDial(t, s)
		r.attach()
		for i := range 200 {
			body := make([]byte, rnd.IntN(64))
			for j := range body {
				body[j] = byte(rnd.UintN(256))
			}
			if i%3 == 0 && len(body) >= 4 {
				binary.LittleEndian.PutUint32(body, 1) // the attached fid
			}
			typ := byte(rnd.UintN(256))
			if typ == 100 { // Tversion would renegotiate
				typ = 24
			}
			m := msg(typ, uint16(i))
			m = append(m, body...)
			binary.LittleEndian.PutUint32(m, uint32(len(m)))
			if _, err := r.c.Write(m); err != nil {
				break // the server hung up on this one
			}
		}
		r.c.Close()
		if got, err := readFile(dial(t, s), "static/hello"); err != nil || got != "hello\n" {
			t.Fatalf("round %d: after random messages: %q, %v", round, got, err)
		}
	}
}
