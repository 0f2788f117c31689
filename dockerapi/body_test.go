package dockerapi

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// logged collects what a server logs.
type logged struct {
	mu    sync.Mutex
	lines []string
}

func (l *logged) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

// countingReader counts the bytes read of it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// bigBody is a valid create request of size bytes (an ignored field
// holds the rest).
func bigBody(size int64) io.Reader {
	head, tail := `{"Image":"busybox","Junk":"`, `"}`
	return io.MultiReader(strings.NewReader(head), strings.NewReader(strings.Repeat("a", int(size)-len(head)-len(tail))), strings.NewReader(tail))
}

// TestBodyCaps: a JSON body over its endpoint's cap is 413 naming the cap,
// read no further than the cap (not at all when its length says so),
// logged once with the client, and nothing reaches the tree; a malformed
// body is dockerd's 400 "invalid JSON"; streams are not capped.
func TestBodyCaps(t *testing.T) {
	for _, tc := range []struct {
		name     string
		target   string
		body     func() io.Reader
		chunked  bool   // no Content-Length
		status   int    // the answer
		message  string // in the answer's message
		maxRead  int64  // at most this much of the body is read
		refusals int    // "refused" lines logged
	}{
		{"a create over the cap with its length", "/v1.50/containers/create", func() io.Reader { return bigBody(MaxCreateBody + 1) }, false,
			413, "larger than 4194304 bytes (4 MiB, cap dockerapi.MaxCreateBody)", 0, 1},
		{"a chunked create over the cap", "/v1.50/containers/create", func() io.Reader { return bigBody(20 << 20) }, true,
			413, "cap dockerapi.MaxCreateBody", MaxCreateBody + 64<<10, 1},
		{"a network create over the JSON cap", "/networks/create", func() io.Reader { return bigBody(MaxJSONBody + 10) }, true,
			413, "larger than 1048576 bytes (1 MiB, cap dockerapi.MaxJSONBody)", MaxJSONBody + 64<<10, 1},
		{"a start with a body over the JSON cap", "/containers/web/start", func() io.Reader { return bigBody(MaxJSONBody + 10) }, false,
			413, "cap dockerapi.MaxJSONBody", 0, 1},
		{"a commit with a config over the JSON cap", "/commit?container=web", func() io.Reader { return bigBody(MaxJSONBody + 10) }, true,
			413, "cap dockerapi.MaxJSONBody", MaxJSONBody + 64<<10, 1},
		{"a malformed create", "/containers/create", func() io.Reader { return strings.NewReader(`{"Image": "busybox", "Cmd": [}`) }, false,
			400, "invalid JSON: invalid character '}'", -1, 1},
		{"a create cut short", "/containers/create", func() io.Reader { return strings.NewReader(`{"Image": "busy`) }, true,
			400, "invalid JSON", -1, 1},
		{"a create of the wrong shape", "/containers/create", func() io.Reader { return strings.NewReader(`{"Image": ["busybox"]}`) }, false,
			400, "invalid JSON: json: cannot unmarshal array", -1, 1},
		{"content after the JSON", "/containers/create", func() io.Reader { return strings.NewReader(`{"Image": "busybox"} {}`) }, false,
			400, "unexpected content after the JSON value", -1, 1},
		{"an empty create", "/containers/create", func() io.Reader { return strings.NewReader(" \n") }, false,
			400, "the request body is empty", -1, 0},
		{"a create just under the cap", "/containers/create", func() io.Reader { return bigBody(MaxCreateBody) }, true,
			201, "", -1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := containerTree()
			f.ctl("containers/ctl", func(string) (string, error) { return "4f1c0a7d9e2b", nil })
			f.ctl("networks/ctl", nil)
			s := f.server()
			var log logged
			s.logf = log.logf
			body := &countingReader{r: tc.body()}
			req := httptest.NewRequest("POST", tc.target, body)
			req.RemoteAddr = "192.0.2.7:4242"
			if tc.chunked {
				req.ContentLength = -1
			} else {
				var buf bytes.Buffer
				n, _ := io.Copy(&buf, tc.body())
				req.ContentLength = n
			}
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.message) {
				t.Errorf("answer %d %s, want %d with %q", rec.Code, rec.Body, tc.status, tc.message)
			}
			if tc.maxRead >= 0 && body.n > tc.maxRead {
				t.Errorf("%d bytes of the body were read, want at most %d", body.n, tc.maxRead)
			}
			if tc.status >= 400 {
				if lines := f.recorded(); len(lines) > 0 {
					t.Errorf("a refused body reached the tree: %q", lines)
				}
			}
			var refused []string
			for _, l := range log.lines {
				if strings.HasPrefix(l, "refused request body from 192.0.2.7:4242: ") {
					refused = append(refused, l)
				}
			}
			if len(refused) != tc.refusals || len(log.lines) != tc.refusals {
				t.Errorf("logged %q, want %d refusal(s) naming the client", log.lines, tc.refusals)
			}
		})
	}
}

// TestStreamsUncapped: a build context larger than every cap goes whole to
// the job's context file.
func TestStreamsUncapped(t *testing.T) {
	f := buildTree(nil, `{"stream":"done\n"}`+"\n")
	body := bytes.Repeat([]byte("x"), int(MaxCreateBody)+3<<20)
	req := httptest.NewRequest("POST", "/build", bytes.NewReader(body))
	rec := httptest.NewRecorder()
	f.server().Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("POST /build: %d %s", rec.Code, rec.Body)
	}
	if got := f.written("builds/7/context"); len(got) != len(body) {
		t.Errorf("the context file got %d bytes, want %d", len(got), len(body))
	}
}

// TestHandlerPanic: a handler that panics is answered 500 and logged with
// its stack; the server goes on.
func TestHandlerPanic(t *testing.T) {
	f := containerTree()
	f.ctl("containers/ctl", func(string) (string, error) { panic("boom") })
	s := f.server()
	var log logged
	s.logf = log.logf
	for range 2 {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("POST", "/containers/create", strings.NewReader(`{"Image":"busybox"}`)))
		if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "internal error serving POST /containers/create: boom") {
			t.Errorf("answer %d %s, want 500 naming the panic", rec.Code, rec.Body)
		}
	}
	if len(log.lines) != 2 || !strings.Contains(log.lines[0], "panic: boom") || !strings.Contains(log.lines[0], "goroutine ") {
		t.Errorf("logged %q, want the panic and its stack, once each", log.lines)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/_ping", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("after the panics, GET /_ping: %d", rec.Code)
	}
}
