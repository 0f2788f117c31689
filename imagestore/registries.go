package imagestore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/enginefs/enginefs/errdefs"
)

// Registries says how the store reaches registries: which may be spoken
// to in plain HTTP, which certificate authorities to trust and where the
// credentials are. The zero value trusts the system's CAs only, keeps no
// credentials and allows plain HTTP to loopback registries only.
type Registries struct {
	// Insecure lists registries ("host:port", or "host" for every port)
	// that may be spoken to over plain HTTP and whose TLS certificates are
	// not verified, as docker's insecure-registries. A loopback registry
	// (127.0.0.0/8, ::1, localhost) may always use plain HTTP, as in
	// docker; unlike docker, the certificate of a loopback registry that
	// speaks TLS is still verified unless it is listed here.
	Insecure []string
	// CAFiles are PEM files of CAs trusted for every registry, besides
	// the system's.
	CAFiles []string
	// CertsDir is laid out as docker's /etc/docker/certs.d:
	// CertsDir/<host:port>/*.crt are CAs trusted for that registry, and
	// client.cert with client.key a client certificate it is sent.
	CertsDir string
	// AuthFile is the docker-compatible config.json that holds the
	// credentials Login saves ("auths"); "" keeps none.
	AuthFile string
}

// WithRegistries sets how the store reaches registries for Pull, Push and
// Login. Default: the zero Registries.
func WithRegistries(r Registries) Option {
	return func(o *options) { o.registries = r }
}

// pullJobs is how many layers a pull or push moves at once: docker's
// max-concurrent-downloads default.
const pullJobs = 3

// registries holds the per-host transports, so connections are reused
// across pulls.
type registries struct {
	cfg        Registries
	mu         sync.Mutex
	transports map[string]*http.Transport
}

// isLoopback reports whether a registry host ("host:port") is on this
// machine's loopback.
func isLoopback(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}

// insecure reports whether host is listed in Insecure.
func (r *registries) insecure(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	for _, i := range r.cfg.Insecure {
		if i == host || i == h {
			return true
		}
	}
	return false
}

// plainHTTP reports whether host may be spoken to over plain HTTP: a
// loopback registry, or one listed in Insecure.
func (r *registries) plainHTTP(host string) bool {
	return isLoopback(host) || r.insecure(host)
}

// nameOptions are the options to parse references of host with.
func (r *registries) nameOptions(host string) []name.Option {
	opts := []name.Option{name.WithDefaultRegistry(name.DefaultRegistry), name.WithDefaultTag(name.DefaultTag)}
	if r.plainHTTP(host) {
		opts = append(opts, name.Insecure)
	}
	return opts
}

// reference re-parses ref with its registry's options (name.Insecure).
func (r *registries) reference(ref name.Reference) (name.Reference, error) {
	nr, err := name.ParseReference(ref.Name(), r.nameOptions(ref.Context().RegistryStr())...)
	if err != nil {
		return nil, errdefs.Invalid("invalid reference format %q: %w", ref.Name(), err)
	}
	return nr, nil
}

// transport returns the HTTP transport for a registry host. It refuses
// plain HTTP to a host that may not have it: go-containerregistry falls
// back to HTTP on its own for private addresses (10/8, 192.168/16,
// *.localhost), which would let anyone on the path see credentials.
func (r *registries) transport(host string) (http.RoundTripper, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t, ok := r.transports[host]; ok {
		return r.guard(host, t), nil
	}
	tc, err := r.tlsConfig(host)
	if err != nil {
		return nil, err
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tc
	// HTTP/1.1 only (parallel blobs take connections of the pool): a
	// registry that refuses the client's certificate says so in a TLS
	// alert that HTTP/1.1 reports ("tls: certificate required") and the
	// HTTP/2 client drops ("client conn could not be established").
	t.ForceAttemptHTTP2 = false
	t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	t.MaxIdleConnsPerHost = 16
	t.ResponseHeaderTimeout = 60 * time.Second
	if r.transports == nil {
		r.transports = map[string]*http.Transport{}
	}
	r.transports[host] = t
	return r.guard(host, t), nil
}

// guard wraps t so that it sends plain HTTP only where plainHTTP allows.
func (r *registries) guard(host string, t http.RoundTripper) http.RoundTripper {
	if r.plainHTTP(host) {
		return t
	}
	return httpsOnly{host: host, next: t}
}

// httpsOnly is a transport that refuses plain HTTP requests.
type httpsOnly struct {
	host string
	next http.RoundTripper
}

func (h httpsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" {
		return nil, errdefs.New(errdefs.ErrPermission,
			"registry %s: refusing plain HTTP (not a loopback registry; list it with --insecure-registry to allow it)", h.host)
	}
	return h.next.RoundTrip(req)
}

// tlsConfig builds the TLS client configuration for host.
func (r *registries) tlsConfig(host string) (*tls.Config, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	add := func(p string) error {
		b, err := os.ReadFile(p)
		if err != nil {
			return errdefs.Invalid("registry CA %s: %w", p, err)
		}
		if !pool.AppendCertsFromPEM(b) {
			return errdefs.Invalid("registry CA %s: no PEM certificate in it", p)
		}
		return nil
	}
	for _, p := range r.cfg.CAFiles {
		if err := add(p); err != nil {
			return nil, err
		}
	}
	if r.cfg.CertsDir != "" {
		dir := filepath.Join(r.cfg.CertsDir, host)
		ents, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, classify(err, "registry certificates for %s: %w", host)
		}
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".crt") {
				if err := add(filepath.Join(dir, e.Name())); err != nil {
					return nil, err
				}
			}
		}
		cert, key := filepath.Join(dir, "client.cert"), filepath.Join(dir, "client.key")
		if _, err := os.Stat(cert); err == nil {
			pair, err := tls.LoadX509KeyPair(cert, key)
			if err != nil {
				return nil, errdefs.Invalid("registry client certificate for %s: %w", host, err)
			}
			tc.Certificates = []tls.Certificate{pair}
		}
	}
	if r.insecure(host) {
		tc.InsecureSkipVerify = true
	}
	return tc, nil
}

// remoteOptions are the go-containerregistry options to reach host, with
// the credentials auth gives or, when it gives none, those of the
// credentials file.
func (s *Store) remoteOptions(ctx context.Context, host string, auth *authn.AuthConfig) ([]remote.Option, error) {
	t, err := s.regs.transport(host)
	if err != nil {
		return nil, err
	}
	creds := remote.WithAuthFromKeychain(s.keychain())
	if auth != nil && *auth != (authn.AuthConfig{}) {
		creds = remote.WithAuth(authn.FromConfig(*auth))
	}
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(t),
		creds,
		remote.WithUserAgent("enginefs"),
		remote.WithJobs(pullJobs),
	}, nil
}

// registryError classes an error from talking to a registry: what it
// answered (unknown manifest, denied) or why it could not be reached.
func registryError(err error, format string, a ...any) error {
	msg := fmt.Sprintf(format, a...)
	if c := errdefs.Class(err); c != nil {
		return fmt.Errorf("%s: %w", msg, err)
	}
	var te *transport.Error
	if errors.As(err, &te) {
		switch {
		case te.StatusCode == http.StatusNotFound:
			return errdefs.NotFound("%s: %w", msg, err)
		case te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden:
			return errdefs.New(errdefs.ErrPermission, "%s: %w", msg, err)
		}
		for _, d := range te.Errors {
			switch d.Code {
			case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode, transport.BlobUnknownErrorCode:
				return errdefs.NotFound("%s: %w", msg, err)
			case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
				return errdefs.New(errdefs.ErrPermission, "%s: %w", msg, err)
			}
		}
		return errdefs.Unavailable("%s: %w", msg, err)
	}
	return errdefs.New(errdefs.HostClass(err), "%s: %w", msg, err)
}
