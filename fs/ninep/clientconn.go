package ninep

import (
	"net"
	"sync"
	"syscall"
)

// Flush tags: p9's client numbers its tags from 1 up and reuses them, so the
// top of the range is free for the Tflush messages sent here.
const (
	firstFlushTag = 0xff00
	lastFlushTag  = 0xfffe
)

// clientConn sits between p9's Client and the connection so that a read or
// write can be cancelled: p9's client has no context and no Tflush. An I/O
// call claims the tag of the Tread or Twrite it sends (claim), and when its
// context is done it sends Tflush for that tag (flush). The server answers
// the flushed request, then Rflush; Rflush is kept from p9, which knows
// nothing of it, and if the server answered Rflush without answering the
// request (as 9P allows), an Rlerror(EINTR) is made up for p9 to return.
type clientConn struct {
	nc net.Conn

	claimMu sync.Mutex // held from claim to the write of the claimed request

	wmu   sync.Mutex // serialises whole messages; taken before mu
	out   framer
	claim *claim

	mu          sync.Mutex
	outstanding map[uint16]*claim    // claimed requests not yet answered
	flushes     map[uint16]*flushReq // by flush tag
	byOld       map[uint16]*flushReq // by the tag flushed
	free        []uint16             // flush tags

	rbuf frame // read by one p9 receiver at a time
}

// claim is one I/O call's hold on the tag of its request.
type claim struct{ tag chan uint16 }

type flushReq struct {
	tag, old uint16
	answered bool
}

func newClientConn(nc net.Conn) *clientConn {
	c := &clientConn{
		nc:          nc,
		outstanding: map[uint16]*claim{},
		flushes:     map[uint16]*flushReq{},
		byOld:       map[uint16]*flushReq{},
	}
	for t := lastFlushTag; t >= firstFlushTag; t-- {
		c.free = append(c.free, uint16(t))
	}
	return c
}

// startClaim makes the next Tread or Twrite written the caller's; endClaim
// must follow once the tag arrived or the call returned without sending.
func (c *clientConn) startClaim() *claim {
	c.claimMu.Lock()
	cl := &claim{tag: make(chan uint16, 1)}
	c.wmu.Lock()
	c.claim = cl
	c.wmu.Unlock()
	return cl
}

func (c *clientConn) endClaim() {
	c.wmu.Lock()
	c.claim = nil
	c.wmu.Unlock()
	c.claimMu.Unlock()
}

// Write takes p9's requests, part by part, and writes each one whole.
func (c *clientConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	err := c.out.add(p, func(f frame) error {
		if len(f) >= headerLen && c.claim != nil && (f.typ() == msgTread || f.typ() == msgTwrite) {
			c.mu.Lock()
			c.outstanding[f.tag()] = c.claim
			c.mu.Unlock()
			c.claim.tag <- f.tag()
			c.claim = nil
		}
		_, err := c.nc.Write(f)
		return err
	})
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// flush asks the server to cancel the request cl sent as tag, unless it was
// answered already (the tag may then belong to another request).
func (c *clientConn) flush(cl *claim, tag uint16) {
	c.wmu.Lock() // no request can reuse the tag while we decide and send
	defer c.wmu.Unlock()
	c.mu.Lock()
	if c.outstanding[tag] != cl || c.byOld[tag] != nil || len(c.free) == 0 {
		c.mu.Unlock()
		return
	}
	ft := c.free[len(c.free)-1]
	c.free = c.free[:len(c.free)-1]
	fl := &flushReq{tag: ft, old: tag}
	c.flushes[ft], c.byOld[tag] = fl, fl
	c.mu.Unlock()
	_, _ = c.nc.Write(tflush(ft, tag)) // a dead connection fails the request itself
}

// Read gives p9 the server's replies, without the Rflush meant for us.
func (c *clientConn) Read(p []byte) (int, error) {
	for len(c.rbuf) == 0 {
		f, err := readFrame(c.nc)
		if err != nil {
			return 0, err
		}
		c.rbuf = c.received(f)
	}
	n := copy(p, c.rbuf)
	c.rbuf = c.rbuf[n:]
	return n, nil
}

// received returns what p9 is to read of the reply f, if anything.
func (c *clientConn) received(f frame) frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	tag := f.tag()
	if fl := c.flushes[tag]; fl != nil {
		delete(c.flushes, tag)
		delete(c.byOld, fl.old)
		c.free = append(c.free, tag)
		if fl.answered {
			return nil
		}
		delete(c.outstanding, fl.old)
		return rlerror(fl.old, syscall.EINTR)
	}
	delete(c.outstanding, tag)
	if fl := c.byOld[tag]; fl != nil {
		fl.answered = true
	}
	return f
}

// Close closes the connection.
func (c *clientConn) Close() error { return c.nc.Close() }
