package ninep

import (
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/enginefs/enginefs/errdefs"
)

// The defaults of Limits: what one daemon gives its 9P clients when told
// nothing else.
const (
	// DefaultVersionTimeout is how long a new connection may take to send
	// its Tversion before it is closed.
	DefaultVersionTimeout = 10 * time.Second
	// DefaultMaxConns is how many connections one listener serves at once.
	DefaultMaxConns = 512
	// DefaultMaxConnsPerHost is how many of them one TCP client address
	// may hold.
	DefaultMaxConnsPerHost = 64
	// DefaultMaxFids is how many fids one connection may hold.
	DefaultMaxFids = 4096
)

// Limits bounds what 9P clients may hold of the daemon, so that idle or
// hostile connections cannot exhaust its file descriptors or memory and
// cut off every other client. A zero field takes its default.
type Limits struct {
	// VersionTimeout closes a connection that has not sent Tversion
	// within it (default DefaultVersionTimeout).
	VersionTimeout time.Duration
	// MaxConns is the number of connections served at once on one
	// listener; one more is closed at once (default DefaultMaxConns).
	MaxConns int
	// MaxConnsPerHost is the number of those one TCP client address may
	// hold (default DefaultMaxConnsPerHost); unix sockets have no host.
	MaxConnsPerHost int
	// MaxFids is the number of fids one connection may hold: a Tattach
	// or Twalk that would make one more is answered EMFILE (default
	// DefaultMaxFids).
	MaxFids int
}

// withDefaults fills the zero fields.
func (l Limits) withDefaults() Limits {
	if l.VersionTimeout <= 0 {
		l.VersionTimeout = DefaultVersionTimeout
	}
	if l.MaxConns <= 0 {
		l.MaxConns = DefaultMaxConns
	}
	if l.MaxConnsPerHost <= 0 {
		l.MaxConnsPerHost = DefaultMaxConnsPerHost
	}
	if l.MaxFids <= 0 {
		l.MaxFids = DefaultMaxFids
	}
	return l
}

// Option configures Serve.
type Option func(*options)

type options struct {
	limits Limits
	logf   func(format string, args ...any)
}

// WithLimits sets the limits of a Serve (default: Limits{}, every field at
// its default).
func WithLimits(l Limits) Option { return func(o *options) { o.limits = l } }

// WithLogf sets where Serve logs the connections and requests it refuses,
// one line each (default log.Printf).
func WithLogf(logf func(format string, args ...any)) Option {
	return func(o *options) { o.logf = logf }
}

// refused logs a refusal, in the daemon's one format for refused input.
func (o *options) refused(what, client string, err error) {
	o.logf("refused %s from %s: %v", what, client, err)
}

// admission counts the connections of one listener, in all and by host.
type admission struct {
	limits Limits
	mu     sync.Mutex
	n      int
	hosts  map[string]int
}

// admit takes a place for a connection from host ("" for none), or says
// which cap it is over.
func (a *admission) admit(host string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n >= a.limits.MaxConns {
		return errdefs.Unavailable("%d connections already open (cap --9p-max-conns)", a.n)
	}
	if host != "" && a.hosts[host] >= a.limits.MaxConnsPerHost {
		return errdefs.Unavailable("%d connections already open from %s (cap --9p-max-conns-per-host)", a.hosts[host], host)
	}
	a.n++
	if host != "" {
		a.hosts[host]++
	}
	return nil
}

// leave gives back the place of a connection from host.
func (a *admission) leave(host string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n--
	if host != "" {
		if a.hosts[host]--; a.hosts[host] <= 0 {
			delete(a.hosts, host)
		}
	}
}

// peer names the client of nc for the log, and returns the host whose
// connections are counted together (a TCP client's address; none for a
// unix socket, whose clients are local and named by their process).
func peer(nc net.Conn) (client, host string) {
	switch a := nc.RemoteAddr().(type) {
	case *net.TCPAddr:
		return "tcp " + a.String(), a.IP.String()
	case *net.UnixAddr:
		if uc, ok := nc.(*net.UnixConn); ok {
			if raw, err := uc.SyscallConn(); err == nil {
				var cred *syscall.Ucred
				_ = raw.Control(func(fd uintptr) {
					cred, _ = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
				})
				if cred != nil {
					return fmt.Sprintf("unix pid %d uid %d", cred.Pid, cred.Uid), ""
				}
			}
		}
		return "unix " + nc.LocalAddr().String(), ""
	case nil:
		return "unknown", ""
	default:
		return a.Network() + " " + a.String(), ""
	}
}

// errNoVersion is the refusal of a connection that did not send Tversion
// in time.
func errNoVersion(d time.Duration) error {
	return errdefs.Invalid("no Tversion within %v (cap --9p-version-timeout)", d)
}

// timedOut reports whether err is a read deadline's.
func timedOut(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// newOptions applies opts over the defaults.
func newOptions(opts []Option) *options {
	o := &options{logf: log.Printf}
	for _, opt := range opts {
		opt(o)
	}
	o.limits = o.limits.withDefaults()
	return o
}
