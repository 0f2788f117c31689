package logs

import (
	"bytes"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/enginefs/enginefs/errdefs"
)

// SyslogConfig is where the syslog driver sends a container's lines:
// docker's syslog-address, syslog-facility and tag.
type SyslogConfig struct {
	Address  string // udp://HOST:PORT, tcp://HOST:PORT, unix:///PATH, unixgram:///PATH; "" the local /dev/log
	Facility string // docker's names (daemon, user, local0 ...); "" is daemon
	Tag      string // the message's tag; "" is the container's short id, set by the daemon
}

// syslogFacilities are the facility codes by docker's names.
var syslogFacilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
	"uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// CheckSyslogFacility returns an error of class errdefs.ErrInvalid for a
// facility docker does not name.
func CheckSyslogFacility(f string) error {
	if _, ok := syslogFacilities[f]; f != "" && !ok {
		return errdefs.Invalid("invalid syslog facility")
	}
	return nil
}

// Syslog sends each line of a process's output as one syslog message
// (RFC 5424's header as docker's default formatter writes it: priority,
// time, host, tag[pid]): stdout at severity info, stderr at err. Safe for
// concurrent use.
type Syslog struct {
	cfg      SyslogConfig
	facility int
	host     string
	mu       sync.Mutex
	conn     net.Conn
	stream   bool // a stream connection: messages end in "\n"
	partial  [3][]byte
}

// DialSyslog connects to cfg's receiver.
func DialSyslog(cfg SyslogConfig) (*Syslog, error) {
	facility := 3
	if cfg.Facility != "" {
		f, ok := syslogFacilities[cfg.Facility]
		if !ok {
			return nil, errdefs.Invalid("invalid syslog facility")
		}
		facility = f
	}
	network, addr := "unixgram", "/dev/log"
	if cfg.Address != "" {
		u, err := url.Parse(cfg.Address)
		if err != nil {
			return nil, errdefs.Invalid("syslog-address %q: %w", cfg.Address, err)
		}
		network, addr = u.Scheme, u.Host
		if network == "unix" || network == "unixgram" {
			addr = u.Path
		}
		if network == "tcp+tls" {
			return nil, errdefs.Invalid("syslog-address %q: tcp+tls is not supported", cfg.Address)
		}
	}
	conn, err := net.DialTimeout(network, addr, 10*time.Second)
	if err != nil {
		return nil, errdefs.Unavailable("syslog: %w", err)
	}
	host, _ := os.Hostname()
	return &Syslog{cfg: cfg, facility: facility, host: host, conn: conn, stream: network == "tcp" || network == "unix"}, nil
}

// Write sends the lines p ends, holding the rest until its line ends or
// Close.
func (s *Syslog) Write(st Stream, p []byte, t time.Time) error {
	if st != Stdout && st != Stderr {
		return errdefs.Invalid("syslog: stream %d", st)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.partial[st] = append(s.partial[st], p...)
			if len(s.partial[st]) >= MaxJSONLine {
				err := s.send(st, s.partial[st], t)
				s.partial[st] = s.partial[st][:0]
				return err
			}
			return nil
		}
		line := append(s.partial[st], p[:i]...)
		s.partial[st], p = s.partial[st][:0], p[i+1:]
		if err := s.send(st, line, t); err != nil {
			return err
		}
	}
	return nil
}

// send writes one message.
func (s *Syslog) send(st Stream, msg []byte, t time.Time) error {
	sev := 6 // info
	if st == Stderr {
		sev = 3 // err
	}
	m := fmt.Sprintf("<%d>%s %s %s[%d]: %s", s.facility*8+sev, t.Format(time.RFC3339), s.host, s.cfg.Tag, os.Getpid(),
		strings.TrimRight(string(msg), "\r"))
	if s.stream {
		m += "\n"
	}
	if _, err := s.conn.Write([]byte(m)); err != nil {
		return errdefs.Unavailable("syslog: %w", err)
	}
	return nil
}

// Close sends the lines still held and closes the connection.
func (s *Syslog) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	for _, st := range []Stream{Stdout, Stderr} {
		if len(s.partial[st]) > 0 {
			if serr := s.send(st, s.partial[st], time.Now()); serr != nil && err == nil {
				err = serr
			}
		}
	}
	if cerr := s.conn.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}
