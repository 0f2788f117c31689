package ninep_test

import (
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/enginefs/enginefs/fs/fstest"
	"github.com/enginefs/enginefs/fs/ninep"
)

// logLines collects what Serve logs.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logf(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

// matching returns the lines that contain every one of subs.
func (l *logLines) matching(subs ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
next:
	for _, line := range l.lines {
		for _, s := range subs {
			if !strings.Contains(line, s) {
				continue next
			}
		}
		out = append(out, line)
	}
	return out
}

// TestConnectionCap opens as many connections as the cap allows, then one
// more: that one is closed at once and logged, and the others still serve.
func TestConnectionCap(t *testing.T) {
	for _, tc := range []struct {
		name, network string
		limits        ninep.Limits
		cap           string
	}{
		{"per listener", "unix", ninep.Limits{MaxConns: 4}, "cap --9p-max-conns)"},
		{"per host", "tcp", ninep.Limits{MaxConnsPerHost: 3}, "cap --9p-max-conns-per-host)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log logLines
			s := serveWith(t, tc.network, fstest.NewTree(t).Root(), ninep.WithLimits(tc.limits), ninep.WithLogf(log.logf))
			n := max(tc.limits.MaxConns, tc.limits.MaxConnsPerHost)
			var raws []*rawConn
			for range n {
				r := rawDial(t, s)
				r.attach() // served: its place is taken
				raws = append(raws, r)
			}
			extra := rawDial(t, s)
			extra.expectClosed()
			if got := log.matching("refused 9P connection from "+tc.network+" ", tc.cap); len(got) != 1 {
				t.Errorf("logged %q, want one refusal naming the cap", log.matching(""))
			}
			for i, r := range raws {
				r.send(msg(110, 2, uint32(1), uint32(2), []string{"static"}))
				if typ, _, _ := r.recv(); typ != 111 {
					t.Errorf("connection %d: Twalk answered with type %d after the refusal", i, typ)
				}
			}
			// A place freed is a place to take.
			raws[0].c.Close()
			network, address, _ := strings.Cut(s.addr, ":")
			fstest.WaitFor(t, "a new connection to be served", func() bool {
				c, err := net.Dial(network, address)
				if err != nil {
					return false
				}
				defer c.Close()
				if _, err := c.Write(msg(100, 0xffff, uint32(8192), "9P2000.L")); err != nil {
					return false
				}
				c.SetReadDeadline(time.Now().Add(time.Second))
				var b [1]byte
				_, err = c.Read(b[:])
				return err == nil
			})
		})
	}
}

// TestVersionTimeout checks that a connection that says nothing is closed
// after the deadline, and one that sent Tversion is not.
func TestVersionTimeout(t *testing.T) {
	var log logLines
	s := serveWith(t, "tcp", fstest.NewTree(t).Root(), ninep.WithLimits(ninep.Limits{VersionTimeout: 300 * time.Millisecond}), ninep.WithLogf(log.logf))
	silent := rawDial(t, s)
	talker := rawDial(t, s)
	talker.attach()
	start := time.Now()
	silent.expectClosed()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the silent connection was closed after %v, want about 300ms", d)
	}
	if got := log.matching("refused 9P connection from tcp 127.0.0.1:", "no Tversion within 300ms"); len(got) != 1 {
		t.Errorf("logged %q, want one refusal of the silent connection", log.matching(""))
	}
	time.Sleep(500 * time.Millisecond)
	talker.send(msg(110, 2, uint32(1), uint32(2), []string{"static"}))
	talker.expect(111, 2)
}

// TestFidCap walks new fids until the cap: the next walk is EMFILE (logged
// once), clunking one makes room, and the connection serves throughout.
func TestFidCap(t *testing.T) {
	var log logLines
	const cap = 16
	s := serveWith(t, "unix", fstest.NewTree(t).Root(), ninep.WithLimits(ninep.Limits{MaxFids: cap}), ninep.WithLogf(log.logf))
	r := rawDial(t, s)
	r.attach() // fid 1
	for fid := uint32(2); fid <= cap; fid++ {
		r.send(msg(110, 2, uint32(1), fid, []string{"static"}))
		r.expect(111, 2)
	}
	for i := range 3 {
		r.send(msg(110, 3, uint32(1), uint32(100+i), []string{"static"}))
		r.expectErrno(3, syscall.EMFILE)
	}
	r.send(msg(104, 4, uint32(200), noFID, "root", "/", noUID)) // a second attach
	r.expectErrno(4, syscall.EMFILE)
	if got := log.matching("refused 9P fid from unix ", "16 fids open on one connection (cap --9p-max-fids)"); len(got) != 1 {
		t.Errorf("logged %q, want one refusal", log.matching(""))
	}
	r.send(msg(120, 5, uint32(cap))) // Tclunk
	r.expect(121, 5)
	r.send(msg(110, 6, uint32(1), uint32(100), []string{"static"}))
	r.expect(111, 6)
	// Walking a fid onto itself makes none.
	r.send(msg(110, 7, uint32(100), uint32(100), []string{"hello"}))
	r.expect(111, 7)
}

// TestFidMemory walks far more fids than the cap on one connection: what
// the server holds stays bounded by the cap.
func TestFidMemory(t *testing.T) {
	s := serveWith(t, "unix", fstest.NewTree(t).Root(), ninep.WithLogf(func(string, ...any) {}))
	r := rawDial(t, s)
	r.attach()
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	const walks = 100_000
	refused := 0
	// Pipelined in batches: one round trip per walk would be slow.
	const batch = 500
	for sent := 0; sent < walks; sent += batch {
		var b []byte
		for i := range batch {
			b = append(b, msg(110, uint16(i), uint32(1), uint32(2+sent+i), []string{"static"})...)
		}
		r.send(b)
		for range batch {
			if typ, _, _ := r.recv(); typ == 7 {
				refused++
			}
		}
	}
	grown := int64(heap()) - int64(before)
	if want := walks - (ninep.DefaultMaxFids - 1); refused != want {
		t.Errorf("%d walks refused, want %d (all past the cap of %d)", refused, want, ninep.DefaultMaxFids)
	}
	t.Logf("heap grew by %d KiB for %d fids held", grown/1024, ninep.DefaultMaxFids)
	if grown > 32<<20 {
		t.Errorf("the heap grew by %d MiB walking %d fids, want it bounded by the cap", grown>>20, walks)
	}
}
