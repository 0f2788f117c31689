package ninep

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hugelgupf/p9/p9"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

// splitAddr parses `unix:PATH` or `tcp:HOST:PORT` into a network and an
// address for package net. Plain TCP is refused anywhere but loopback.
func splitAddr(addr string) (network, address string, err error) {
	network, address, ok := strings.Cut(addr, ":")
	switch {
	case !ok || address == "":
	case network == "unix":
		return network, address, nil
	case network == "tcp":
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return "", "", errdefs.Invalid("9P address %q: %w", addr, err)
		}
		if !loopback(host) {
			return "", "", errdefs.Invalid("9P address %q: plain TCP is only allowed on loopback; any other address requires TLS", addr)
		}
		return network, address, nil
	}
	return "", "", errdefs.Invalid("9P address %q: want unix:PATH or tcp:HOST:PORT", addr)
}

// loopback reports whether host names the loopback interface only.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	host, _, _ = strings.Cut(host, "%") // a zone does not change the address
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Listen listens on addr, `unix:PATH` or `tcp:HOST:PORT`. Plain TCP is only
// allowed on loopback (127.0.0.0/8, ::1, localhost): any other address is an
// errdefs.ErrInvalid error, as it requires TLS. A unix socket left over by a
// server that is gone is removed first (a live one is errdefs.ErrAlreadyExists),
// and the new socket is made mode 0600, so that only root may connect.
func Listen(ctx context.Context, addr string) (net.Listener, error) {
	network, address, err := splitAddr(addr)
	if err != nil {
		return nil, err
	}
	if network == "unix" {
		if err := removeStale(ctx, address); err != nil {
			return nil, err
		}
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, network, address)
	if err != nil {
		return nil, errdefs.Unavailable("ninep: listen on %s: %w", addr, err)
	}
	if network == "unix" {
		if err := os.Chmod(address, 0o600); err != nil {
			l.Close()
			return nil, fmt.Errorf("ninep: listen on %s: %w", addr, err)
		}
	}
	return l, nil
}

// removeStale removes the socket at path unless a server answers on it.
func removeStale(ctx context.Context, path string) error {
	st, err := os.Lstat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("ninep: listen on %s: %w", path, err)
	case st.Mode()&os.ModeSocket == 0:
		return errdefs.AlreadyExists("ninep: listen on %s: the file exists and is not a socket", path)
	}
	d := net.Dialer{Timeout: time.Second}
	if c, err := d.DialContext(ctx, "unix", path); err == nil {
		c.Close()
		return errdefs.AlreadyExists("ninep: listen on %s: a server is listening there", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("ninep: removing the stale socket %s: %w", path, err)
	}
	return nil
}

// Serve serves root to every connection accepted on l, until ctx is done or
// l fails. Each connection has its own context, cancelled when the client
// goes away (or sends garbage) and when ctx is done, so that reads blocked
// in the tree (a wait file) return and the connection can end. Serve closes
// l and every connection, waits for them to end, and returns nil once ctx
// is done; the error of Accept otherwise.
//
// The Limits given WithLimits (every one at its default otherwise) bound
// what clients hold: a connection over the listener's cap, or over its
// host's, is closed at once; one that sends no Tversion in time is closed;
// a Tattach or Twalk that would make a fid over the connection's cap is
// answered EMFILE; a message that is not 9P2000.L (a bad size, an unknown
// type, a body too short) ends its connection. Each refusal is logged once
// (WithLogf), with the client.
func Serve(ctx context.Context, l net.Listener, root fs.Dir, opts ...Option) error {
	o := newOptions(opts)
	adm := &admission{limits: o.limits, hosts: map[string]int{}}
	sctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		l.Close()
		wg.Wait()
	}()
	stop := context.AfterFunc(sctx, func() { l.Close() })
	defer stop()

	peers := &conns{m: map[*serverConn]struct{}{}}
	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ECONNABORTED) {
				// Out of descriptors or a client gone early: wait and go on,
				// as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(delay):
					continue
				case <-sctx.Done():
					return nil
				}
			}
			return fmt.Errorf("ninep: accept: %w", err)
		}
		delay = 0
		client, host := peer(nc)
		if err := adm.admit(host); err != nil {
			o.refused("9P connection", client, err)
			nc.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer adm.leave(host)
			serveConn(sctx, nc, root, peers, o, client)
		}()
	}
}

// serveConn serves one connection with a p9 server of its own (p9's path
// locks are then per connection too) and returns once it is closed and every
// request on it has returned.
func serveConn(ctx context.Context, nc net.Conn, root fs.Dir, peers *conns, o *options, client string) {
	ctx = fs.WithClient(ctx, "9P "+client)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	// Until its Tversion (serverConn.Read lifts the deadline).
	_ = nc.SetReadDeadline(time.Now().Add(o.limits.VersionTimeout))
	c := newServerConn(ctx, cancel, nc, root, peers)
	c.opts, c.client = o, client
	peers.add(c)
	defer peers.remove(c)
	defer func() {
		// p9 v0.3.0's Handle can panic in its WaitGroup as a connection
		// ends (see serverConn.settle): that must not take the daemon down.
		if r := recover(); r != nil {
			if msg, ok := r.(string); !ok || !strings.HasPrefix(msg, "sync: WaitGroup") {
				panic(r)
			}
			c.Close()
			c.closeAll()
		}
	}()
	_ = p9.NewServer(attacher{c: c}).Handle(c, c)
}
