package ninep_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/enginefs/enginefs/fs/fstest"
	"github.com/enginefs/enginefs/fs/ninep"
)

// pipeListener accepts one connection, the server's end of a net.Pipe.
type pipeListener struct {
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return &net.UnixAddr{Name: "pipe", Net: "unix"} }

// session is what a client sends first: Tversion and Tattach of fid 1.
func session() []byte {
	return append(msg(100, 0xffff, uint32(8192), "9P2000.L"), msg(104, 1, uint32(1), noFID, "root", "/", noUID)...)
}

// fuzzSeeds are real exchanges after the session: walk, open, read,
// write a ctl line, clunk.
func fuzzSeeds() [][]byte {
	cat := func(ms ...[]byte) []byte {
		var b []byte
		for _, m := range ms {
			b = append(b, m...)
		}
		return b
	}
	return [][]byte{
		cat(msg(110, 2, uint32(1), uint32(2), []string{"static", "hello"}), msg(12, 3, uint32(2), uint32(0)),
			msg(116, 4, uint32(2), uint64(0), uint32(100)), msg(120, 5, uint32(2))),
		cat(msg(110, 2, uint32(1), uint32(2), []string{"ctl"}), msg(12, 3, uint32(2), uint32(2)),
			msg(118, 4, uint32(2), uint64(0), uint32(10)), []byte("set hello\n"), msg(120, 5, uint32(2))),
		cat(msg(110, 2, uint32(1), uint32(2), []string{"ctl"}), msg(12, 3, uint32(2), uint32(1)),
			msg(118, 4, uint32(2), uint64(0), uint32(5)), []byte("set x"), msg(120, 5, uint32(2))),
		cat(msg(110, 2, uint32(1), uint32(2), []string{"wait"}), msg(12, 3, uint32(2), uint32(0)),
			msg(116, 4, uint32(2), uint64(0), uint32(100)), msg(108, 5, uint16(4))),
		cat(msg(110, 2, uint32(1), uint32(2), []string{}), msg(40, 3, uint32(2), uint64(0), uint32(4096))),
		msg(116, 2, uint32(1), uint64(0)),
		{0xff, 0xff, 0xff, 0xff},
	}
}

// FuzzServe feeds arbitrary bytes, after a valid session, to a server as a
// client's stream: it must not panic, must answer or hang up within a
// deadline, and must end the connection once the client is gone.
func FuzzServe(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	tr := fstest.NewTree(f)
	limits := ninep.Limits{MaxFids: 8, VersionTimeout: 100 * time.Millisecond}
	f.Fuzz(func(t *testing.T, data []byte) {
		l := &pipeListener{conns: make(chan net.Conn, 1), done: make(chan struct{})}
		client, server := net.Pipe()
		l.conns <- server
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() {
			served <- ninep.Serve(ctx, l, tr.Root(), ninep.WithLimits(limits), ninep.WithLogf(func(string, ...any) {}))
		}()
		// Read every reply until the server hangs up or goes quiet.
		read := make(chan error, 1)
		go func() {
			_, err := io.Copy(io.Discard, client)
			read <- err
		}()
		_ = client.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, err := client.Write(append(session(), data...))
		if err != nil && !errors.Is(err, io.ErrClosedPipe) && !errors.Is(err, io.EOF) {
			t.Fatalf("the server neither read nor hung up within 5s: %v", err)
		}
		// Give the server a moment to answer, then leave; it must let go.
		time.Sleep(5 * time.Millisecond)
		tr.Release() // wake reads of wait
		client.Close()
		select {
		case <-read:
		case <-time.After(5 * time.Second):
			t.Fatal("the replies did not end within 5s of the client leaving")
		}
		cancel()
		select {
		case err := <-served:
			if err != nil {
				t.Fatalf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Serve did not return within 5s of its end")
		}
	})
}
