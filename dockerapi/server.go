package dockerapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
	"github.com/enginefs/enginefs/version"
)

// The API versions served: requests under /v1.41/ to /v1.50/ and
// unversioned ones (taken as MaxVersion); others get dockerd's 400.
const (
	MinVersion = "1.41"
	MaxVersion = "1.50"
)

// The HTTP server's limits. No read or write timeout bounds a whole
// request: uploads, pulls, logs and attach streams last as long as they
// need.
const (
	// ReadHeaderTimeout bounds the reading of a request's headers, so a
	// client that sends them a byte at a time (slowloris) cannot hold a
	// connection: 10 s.
	ReadHeaderTimeout = 10 * time.Second
	// MaxHeaderBytes caps a request's headers (the request line
	// included): 1 MiB, the size of docker's X-Registry-Config of many
	// registries with room to spare. More is answered 431 by net/http.
	MaxHeaderBytes = 1 << 20
	// IdleTimeout closes a kept-alive connection with no request for
	// this long: 5 minutes. Hijacked streams are not idle connections.
	IdleTimeout = 5 * time.Minute
)

// Server serves the Docker Engine API over a tree.
type Server struct {
	tree fs.Client
	logf func(format string, args ...any)
	// execKeys holds the detachKeys of exec creates that named them, by
	// exec id, for their start (the tree has no such key; an exec created
	// before a restart of the daemon detaches with the default keys).
	execKeys sync.Map
}

// New returns a server that reaches the engine only through tree.
func New(tree fs.Client) *Server {
	return &Server{tree: confined{tree}, logf: log.Printf}
}

// Serve serves the API on l until ctx is done, then closes the listener and
// every connection (hijacked streams included) and returns nil; otherwise it
// returns the error that stopped it.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	base, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: ReadHeaderTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		IdleTimeout:       IdleTimeout,
		BaseContext:       func(net.Listener) context.Context { return base },
		ConnContext:       withConn,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	stop := context.AfterFunc(ctx, func() {
		cancel() // ends the streams that block in the tree
		srv.Close()
	})
	defer stop()
	err := srv.Serve(l)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

type versionKey struct{}

// apiVersion is the version a request was made with.
func apiVersion(r *http.Request) string {
	if v, ok := r.Context().Value(versionKey{}).(string); ok {
		return v
	}
	return MaxVersion
}

var versioned = regexp.MustCompile(`^/v([0-9]+\.[0-9]+)(/.*)$`)

// Handler returns the API's http.Handler: it sets dockerd's headers, strips
// and checks the /v1.xx prefix, and routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.routes(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Api-Version", MaxVersion)
		h.Set("Ostype", "linux")
		h.Set("Docker-Experimental", "false")
		h.Set("Server", "Docker/enginefs-"+version.Version+" (linux)")
		v := MaxVersion
		path := r.URL.Path
		if m := versioned.FindStringSubmatch(path); m != nil {
			v, path = m[1], m[2]
			switch {
			case compareVersions(v, MinVersion) < 0:
				writeError(w, errdefs.Invalid("client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", v, MinVersion))
				return
			case compareVersions(v, MaxVersion) > 0:
				writeError(w, errdefs.Invalid("client version %s is too new. Maximum supported API version is %s", v, MaxVersion))
				return
			}
		}
		r2 := r.WithContext(context.WithValue(r.Context(), versionKey{}, v))
		u := *r.URL
		u.Path, u.RawPath = path, ""
		r2.URL = &u
		if _, pattern := mux.Handler(r2); pattern == "" {
			writeError(w, errdefs.NotFound("page not found"))
			return
		}
		mux.ServeHTTP(w, r2)
	})
}

// compareVersions compares two "major.minor" versions numerically.
func compareVersions(a, b string) int {
	pa, pb := strings.SplitN(a, ".", 2), strings.SplitN(b, ".", 2)
	for i := range 2 {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// trackingWriter remembers whether the response has started; Unwrap lets
// http.ResponseController reach Flush and Hijack.
type trackingWriter struct {
	http.ResponseWriter
	started bool
}

func (t *trackingWriter) WriteHeader(code int) {
	t.started = true
	t.ResponseWriter.WriteHeader(code)
}

func (t *trackingWriter) Write(p []byte) (int, error) {
	t.started = true
	return t.ResponseWriter.Write(p)
}

func (t *trackingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// markStarted records that the response is someone else's now (hijacked).
func markStarted(w http.ResponseWriter) {
	if t, ok := w.(*trackingWriter); ok {
		t.started = true
	}
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(append(data, '\n'))
	return err
}

// flush sends what was written so far.
func flush(w http.ResponseWriter) {
	_ = http.NewResponseController(w).Flush()
}

// boolValue reads a query flag as dockerd does: absent, "", "0", "no",
// "false" and "none" are false.
func boolValue(r *http.Request, key string) bool {
	v := strings.ToLower(strings.TrimSpace(r.URL.Query().Get(key)))
	return !(v == "" || v == "0" || v == "no" || v == "false" || v == "none")
}

// read reads a whole file of the tree.
func (s *Server) read(ctx context.Context, name string) ([]byte, error) {
	return fs.ReadAll(ctx, s.tree, name)
}

// readJSON reads a JSON file of the tree into v.
func (s *Server) readJSON(ctx context.Context, name string, v any) error {
	data, err := s.read(ctx, name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return errors.Join(errdefs.New(errdefs.ErrUnavailable, "%s: unexpected content", name), err)
	}
	return nil
}

// command writes one ctl line and returns its reply.
func (s *Server) command(ctx context.Context, name, line string) (string, error) {
	return fs.Command(ctx, s.tree, name, line)
}

// writeJSONBody writes v as JSON to a response whose headers are sent.
func writeJSONBody(w http.ResponseWriter, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(data, '\n'))
	return err
}
