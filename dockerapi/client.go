package dockerapi

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"

	"golang.org/x/sys/unix"
)

type connKey struct{}

// withConn keeps a request's connection in its context (the server's
// ConnContext), for naming the client in the daemon's log.
func withConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// clientOf names the client of r for the daemon's log: "tcp ADDR", or for
// a unix socket the peer's credentials, "unix uid=0 pid=4242".
func clientOf(r *http.Request) string {
	c, _ := r.Context().Value(connKey{}).(net.Conn)
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	switch c := c.(type) {
	case *net.UnixConn:
		if cred, err := peerCred(c); err == nil {
			return fmt.Sprintf("unix uid=%d pid=%d", cred.Uid, cred.Pid)
		}
		return "unix"
	case nil:
		if r.RemoteAddr == "" {
			return "an unknown client"
		}
		return r.RemoteAddr
	default:
		return c.RemoteAddr().Network() + " " + c.RemoteAddr().String()
	}
}

// peerCred reads the credentials of a unix socket's peer (SO_PEERCRED).
func peerCred(c *net.UnixConn) (*unix.Ucred, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return nil, err
	}
	return cred, cerr
}
