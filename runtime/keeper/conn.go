package keeper

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"sync"
	"time"

	"github.com/enginefs/enginefs/errdefs"
)

// How long the keeper waits for a client's hello, and for a client to take
// a response, before it drops the connection.
const (
	helloTimeout = 10 * time.Second
	replyTimeout = 10 * time.Second
)

// conn is one client connection. Its reader goroutine decodes the requests
// and runs each in a goroutine of its own (Wait in none: it waits as a
// callback on the process), so a slow call holds up no other.
type conn struct {
	s  *server
	nc net.Conn

	wmu sync.Mutex // one response at a time
	enc *json.Encoder

	mu    sync.Mutex
	calls map[uint64]func() // cancels the calls in progress
}

// serve reads requests until the client leaves, then cancels its calls in
// progress. A client leaving (or dying) changes nothing else.
func (c *conn) serve(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		c.nc.Close()
		c.mu.Lock()
		for _, cancel := range c.calls {
			cancel()
		}
		c.calls = nil
		c.mu.Unlock()
		c.s.connDone(c)
	}()
	c.enc = json.NewEncoder(c.nc)
	dec := json.NewDecoder(c.nc)
	if !c.hello(dec) {
		return
	}
	for {
		var req request
		if err := dec.Decode(&req); err != nil {
			return // the client left, or speaks nonsense
		}
		switch req.Method {
		case mCancel:
			var p cancelParams
			if json.Unmarshal(req.Params, &p) == nil {
				c.cancel(p.ID)
			}
		case mWait:
			c.wait(req)
		default:
			ctx, cancel := context.WithCancel(ctx)
			c.register(req.ID, cancel)
			go func() {
				defer cancel()
				res, err := c.s.handle(ctx, req.Method, req.Params)
				c.unregister(req.ID)
				c.reply(req.ID, res, err)
			}()
		}
	}
}

// hello checks the client's protocol version and answers with the
// keeper's; it reports whether the connection goes on.
func (c *conn) hello(dec *json.Decoder) bool {
	_ = c.nc.SetReadDeadline(time.Now().Add(helloTimeout))
	var req request
	if err := dec.Decode(&req); err != nil {
		return false
	}
	var p helloParams
	if req.Method != mHello || json.Unmarshal(req.Params, &p) != nil {
		c.reply(req.ID, nil, errdefs.Invalid("keeper: the first request must be hello"))
		return false
	}
	if p.Protocol != ProtocolVersion {
		c.s.logf("keeper: refused a client of protocol %d (%s)", p.Protocol, p.Build)
		c.reply(req.ID, nil, errdefs.Unavailable(
			"keeper %d (%s) speaks protocol %d, this client (%s) speaks %d: stop the keeper once its containers are gone, or use a daemon of its build",
			os.Getpid(), build(), ProtocolVersion, p.Build, p.Protocol))
		return false
	}
	_ = c.nc.SetReadDeadline(time.Time{})
	c.reply(req.ID, helloResult{Protocol: ProtocolVersion, Build: build(), Pid: os.Getpid()}, nil)
	return true
}

// wait answers when the process has exited, or at once if it has.
func (c *conn) wait(req request) {
	var p procParams
	if err := json.Unmarshal(req.Params, &p); err != nil {
		c.reply(req.ID, nil, errdefs.Invalid("keeper: wait: %w", err))
		return
	}
	k := key{p.ID, p.Exec}
	w := &waiter{fn: func(st waitResult, err error) {
		c.unregister(req.ID)
		c.reply(req.ID, st, err)
	}}
	c.register(req.ID, func() { c.s.dropWaiter(k, w) })
	c.s.addWaiter(k, w)
}

// register records how to cancel call id.
func (c *conn) register(id uint64, cancel func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil { // the connection is closing
		cancel()
		return
	}
	c.calls[id] = cancel
}

// unregister forgets call id, done.
func (c *conn) unregister(id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.calls, id)
}

// cancel cancels call id, which the client abandoned.
func (c *conn) cancel(id uint64) {
	c.mu.Lock()
	cancel := c.calls[id]
	delete(c.calls, id)
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// reply sends the response to call id. A client that does not take it in
// replyTimeout is dropped.
func (c *conn) reply(id uint64, result any, err error) {
	resp := response{ID: id, Error: toWire(err)}
	if err == nil && result != nil {
		b, merr := json.Marshal(result)
		if merr != nil {
			resp.Error = toWire(errdefs.Invalid("keeper: encode result: %w", merr))
		}
		resp.Result = b
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(replyTimeout))
	if err := c.enc.Encode(resp); err != nil {
		c.nc.Close()
	}
}
