package ninep

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

// serverConn is what p9's Server.Handle reads requests from and writes
// replies to: one client connection, seen message by message. It answers
// some requests itself, before p9 sees them:
//
//   - Tauth gets Rlerror(ENOENT): diod's clients then go on without
//     authentication (p9 would say ENOSYS, and they give up).
//   - Tflush cancels the request it names, if that is a read or write on an
//     open file, and is answered with Rflush once that request has been
//     answered (p9's own Tflush waits for the request and never cancels it,
//     so a flushed read of a wait file would hang until the container exits).
//   - Trenameat and Trename are served here (rename.go): p9 would take the
//     write side of its rename lock, whose read side every Tread holds while
//     it blocks, and a rename on a connection with a blocked read (a kernel
//     mount reading a wait or events file) would stall it for good.
//
// To serve renames it follows which path each fid is at, from the replies
// that make fids (Rattach, Rwalk, Rlcreate) to those that end them (Tclunk,
// Tremove), and keeps every file of the connection to tell it of a rename.
//
// Replies are written whole: p9 writes one message in several Write calls,
// so Write collects them and writes each message at once, under the same
// lock as the replies made here, which therefore never land inside another.
//
// The connection's context is cancelled as soon as reading fails (the client
// left or sent garbage), which wakes every blocked ReadAt so that p9's Handle
// can return.
type serverConn struct {
	nc     net.Conn
	ctx    context.Context // the connection's: p9.File methods have none
	cancel context.CancelFunc
	root   fs.Dir // what every attach gets
	peers  *conns // the connections of the same Serve, this one included

	rbuf frame // what is left of the request p9 is reading

	wmu sync.Mutex
	out framer

	mu       sync.Mutex
	inflight map[uint16]*request // by tag, until the reply is written
	opening  map[uint32]*file    // by open serial, until the Rlopen is written
	open     map[uint32]*file    // by fid, from Rlopen to Tclunk
	live     map[*file]struct{}  // files with a handle, from Open to Close
	serial   uint32
	fids     map[uint32]string  // fid → the path it is at
	files    map[*file]struct{} // every file p9 holds, from its making to Close

	// Requests given to p9 and replies it wrote, counted for settle.
	delivered, answered atomic.Int64

	opts      *options // the limits and the log of refusals
	client    string   // who is at the other end, for the log
	versioned bool     // a Tversion came (Read's alone)
	making    int      // requests in flight that would make a fid (under mu)
	fidsFull  bool     // the fid cap was logged (under mu)
}

// request is a request p9 is handling.
type request struct {
	typ     byte
	fid     uint32
	done    chan struct{} // closed once the reply is on the wire
	flushed *file         // the file whose flush count this request holds
	// newfid and names are a walk's; name is a create's.
	newfid uint32
	names  []string
	name   string
	makes  bool // the request makes a fid: counted in serverConn.making
}

// conns are the connections one Serve serves, so that a rename on one
// moves the fids and files of all (serverConn.moved).
type conns struct {
	mu sync.Mutex
	m  map[*serverConn]struct{}
}

func (cs *conns) add(c *serverConn) {
	cs.mu.Lock()
	cs.m[c] = struct{}{}
	cs.mu.Unlock()
}

func (cs *conns) remove(c *serverConn) {
	cs.mu.Lock()
	delete(cs.m, c)
	cs.mu.Unlock()
}

func (cs *conns) all() []*serverConn {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	out := make([]*serverConn, 0, len(cs.m))
	for c := range cs.m {
		out = append(out, c)
	}
	return out
}

func newServerConn(ctx context.Context, cancel context.CancelFunc, nc net.Conn, root fs.Dir, peers *conns) *serverConn {
	return &serverConn{
		opts:     newOptions(nil),
		nc:       nc,
		ctx:      ctx,
		cancel:   cancel,
		root:     root,
		peers:    peers,
		inflight: map[uint16]*request{},
		opening:  map[uint32]*file{},
		open:     map[uint32]*file{},
		live:     map[*file]struct{}{},
		fids:     map[uint32]string{},
		files:    map[*file]struct{}{},
	}
}

// Read gives p9 the requests it is to handle, in order.
func (c *serverConn) Read(p []byte) (int, error) {
	for len(c.rbuf) == 0 {
		f, err := readFrame(c.nc)
		if err == nil {
			err = checkRequest(f)
		}
		if err != nil {
			switch {
			case timedOut(err) && !c.versioned:
				c.opts.refused("9P connection", c.client, errNoVersion(c.opts.limits.VersionTimeout))
			case errors.Is(err, errdefs.ErrInvalid):
				c.opts.refused("9P message", c.client, err)
			}
			c.cancel()
			c.settle()
			return 0, err
		}
		if f.typ() == msgTversion && !c.versioned {
			c.versioned = true
			_ = c.nc.SetReadDeadline(time.Time{})
		}
		if !c.intercept(f) {
			c.delivered.Add(1)
			c.rbuf = f
		}
	}
	n := copy(p, c.rbuf)
	c.rbuf = c.rbuf[n:]
	return n, nil
}

// settle waits, before p9 is told that the connection is gone, for p9 to
// answer what it was given (the connection's context is cancelled, so that
// is quick) and for a moment more. p9 v0.3.0 starts a receiving goroutine
// after each request and that goroutine joins Handle's WaitGroup only once
// it runs: if Handle is already waiting then, the WaitGroup panics (the
// race detector shows it when a client hangs up amid a burst). Letting
// the goroutines settle first makes that all but impossible; serveConn
// recovers the panic if it happens anyway.
func (c *serverConn) settle() {
	deadline := time.Now().Add(2 * time.Second)
	for c.answered.Load() < c.delivered.Load() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond)
}

// intercept answers what p9 must not see, and notes what it will handle.
func (c *serverConn) intercept(f frame) bool {
	tag := f.tag()
	switch f.typ() {
	case msgTauth:
		c.reply(rlerror(tag, syscall.ENOENT))
		return true
	case msgTflush:
		if len(f) < headerLen+2 {
			return false // let p9 reject it
		}
		c.flush(tag, binary.LittleEndian.Uint16(f[headerLen:]))
		return true
	case msgTrenameat, msgTrename:
		if c.serveRename(f) {
			return true
		}
	case msgTversion:
		// A new session: the fids of the old one are gone.
		c.mu.Lock()
		clear(c.fids)
		c.mu.Unlock()
	}
	req := &request{typ: f.typ(), done: make(chan struct{})}
	fid, _ := f.fid()
	c.mu.Lock()
	c.parse(req, f, fid)
	err := c.reserveFid(req)
	logIt := err != nil && !c.fidsFull
	if err != nil {
		c.fidsFull = true
	} else if tag != noTag {
		c.inflight[tag] = req
	}
	c.mu.Unlock()
	if err != nil {
		// Logged once per connection: a client that walks in a loop
		// would otherwise fill the log.
		if logIt {
			c.opts.refused("9P fid", c.client, err)
		}
		c.reply(rlerror(tag, syscall.EMFILE))
		return true
	}
	return false
}

// parse reads into req the fields of f the connection follows.
func (c *serverConn) parse(req *request, f frame, fid uint32) {
	switch req.typ {
	case msgTread, msgTwrite, msgTlopen, msgTattach:
		req.fid = fid
	case msgTlcreate, msgTucreate:
		b := f.body()
		req.fid, req.name = b.u32(), b.str()
	case msgTwalk, msgTwalkgetattr:
		b := f.body()
		req.fid, req.newfid = b.u32(), b.u32()
		for n := b.u16(); n > 0 && !b.bad; n-- {
			req.names = append(req.names, b.str())
		}
	case msgTclunk, msgTremove:
		// The client is done with the fid: wake whatever still waits on it.
		req.fid = fid
		if file := c.open[fid]; file != nil {
			file.shutdown()
		}
	}
}

// reserveFid counts a request that would make a fid (Tattach, Twalk to a
// new fid) and refuses it when the connection holds its cap of fids (with
// those being made). Called under mu.
func (c *serverConn) reserveFid(req *request) error {
	var newfid uint32
	switch req.typ {
	case msgTattach:
		newfid = req.fid
	case msgTwalk, msgTwalkgetattr:
		if req.newfid == req.fid {
			return nil
		}
		newfid = req.newfid
	default:
		return nil
	}
	if _, held := c.fids[newfid]; held {
		return nil // p9 refuses a fid in use
	}
	if max := c.opts.limits.MaxFids; len(c.fids)+c.making >= max {
		return errdefs.Unavailable("%d fids open on one connection (cap --9p-max-fids)", len(c.fids)+c.making)
	}
	req.makes = true
	c.making++
	return nil
}

// flush cancels the request oldtag names, if it reads or writes an open
// file, and answers Rflush after that request's own reply.
func (c *serverConn) flush(tag, oldtag uint16) {
	c.mu.Lock()
	req := c.inflight[oldtag]
	if req != nil && req.flushed == nil && (req.typ == msgTread || req.typ == msgTwrite) {
		if file := c.open[req.fid]; file != nil {
			file.flush()
			req.flushed = file
		}
	}
	c.mu.Unlock()
	if req == nil {
		c.reply(rflush(tag))
		return
	}
	go func() {
		select {
		case <-req.done:
			c.reply(rflush(tag))
		case <-c.ctx.Done():
		}
	}()
}

// reply writes a reply made here.
func (c *serverConn) reply(f frame) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, _ = c.nc.Write(f) // a dead connection shows on the reading side
}

// Write takes p9's replies, part by part, and writes each one whole.
func (c *serverConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.out.add(p, c.send); err != nil {
		return 0, err
	}
	return len(p), nil
}

// send writes one of p9's replies. Bookkeeping happens before the write, as
// the client may act on the reply at once (reuse the tag, read the file it
// opened, flush that read); the request's done is closed after it, so that
// an Rflush follows the reply it waited for.
func (c *serverConn) send(f frame) error {
	c.answered.Add(1)
	if len(f) < headerLen {
		_, err := c.nc.Write(f)
		return err
	}
	c.mu.Lock()
	req := c.inflight[f.tag()]
	delete(c.inflight, f.tag())
	if req != nil {
		if req.makes {
			c.making--
		}
		c.trackFid(req, f.typ())
		switch {
		case opens(req.typ, f.typ()) && len(f) >= headerLen+13:
			// qid[13] is type[1] version[4] path[8]; Open (or Create)
			// put the open's serial in the version, which tells which
			// file the fid is.
			v := f[headerLen+1 : headerLen+5]
			if file := c.opening[binary.LittleEndian.Uint32(v)]; file != nil {
				delete(c.opening, binary.LittleEndian.Uint32(v))
				c.open[req.fid] = file
			}
			clear(v)
		case req.typ == msgTclunk || req.typ == msgTremove:
			delete(c.open, req.fid)
		}
		if req.flushed != nil {
			req.flushed.unflush()
		}
	}
	c.mu.Unlock()
	_, err := c.nc.Write(f)
	if req != nil {
		close(req.done)
	}
	return err
}

// opened records a file just opened and returns the serial Open puts in the
// QID version of its Rlopen.
func (c *serverConn) opened(f *file) uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.serial++
	if c.serial == 0 {
		c.serial++
	}
	c.opening[c.serial] = f
	return c.serial
}

// track and untrack keep the set of files with an open handle.
func (c *serverConn) track(f *file) {
	c.mu.Lock()
	c.live[f] = struct{}{}
	c.mu.Unlock()
}

func (c *serverConn) untrack(f *file) {
	c.mu.Lock()
	delete(c.live, f)
	c.mu.Unlock()
}

// Close ends the connection; p9 calls it (twice) when Handle returns.
func (c *serverConn) Close() error {
	c.cancel()
	err := c.nc.Close()
	c.mu.Lock()
	clear(c.opening)
	clear(c.open)
	clear(c.fids)
	c.mu.Unlock()
	return err
}

// closeAll closes the handles p9 did not close, when its Handle panicked
// before closing its fids.
func (c *serverConn) closeAll() {
	c.mu.Lock()
	files := make([]*file, 0, len(c.live))
	for f := range c.live {
		files = append(files, f)
	}
	c.mu.Unlock()
	for _, f := range files {
		_ = f.Close()
	}
}

// opens reports whether a reply of type r to a request of type t opened a
// file (Rlopen, or the Rlcreate or Rucreate of a create).
func opens(t, r byte) bool {
	return t == msgTlopen && r == msgRlopen || t == msgTlcreate && r == msgRlcreate || t == msgTucreate && r == msgRucreate
}
