package imagestore

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/docker/go-units"
)

// Progress is one message of a pull or a push, shaped as the Docker Engine
// API streams them (its JSONMessage: POST /images/create, POST
// /images/{name}/push), so a stream of them can be passed on unchanged and
// rendered by docker's own code.
type Progress struct {
	Status      string          `json:"status,omitempty"`
	Detail      *ProgressDetail `json:"progressDetail,omitempty"`
	Bar         string          `json:"progress,omitempty"` // docker's text bar, for clients that print it as is
	ID          string          `json:"id,omitempty"`       // a layer's short id, or a tag
	Error       string          `json:"error,omitempty"`
	ErrorDetail *ErrorDetail    `json:"errorDetail,omitempty"`
}

// ProgressDetail is the byte count of a transfer.
type ProgressDetail struct {
	Current int64 `json:"current,omitempty"`
	Total   int64 `json:"total,omitempty"`
}

// ErrorDetail is the error of a failed pull or push.
type ErrorDetail struct {
	Message string `json:"message"`
}

// ProgressFunc receives the messages of a pull or push, one at a time, in
// order. It must not block for long: the transfer waits for it.
type ProgressFunc func(Progress)

// shortID is the id docker shows for a layer: 12 hex digits of its digest.
func shortID(digest string) string {
	h := strings.TrimPrefix(digest, "sha256:")
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}

// bar renders docker's progress bar text: "[=====>     ]  1.2MB/3.4MB".
func bar(cur, total int64) string {
	const width = 50
	if total <= 0 {
		return units.HumanSize(float64(cur))
	}
	n := int(float64(width) * float64(cur) / float64(total))
	if n > width {
		n = width
	}
	arrow := strings.Repeat("=", n)
	if n < width {
		arrow += ">"
		n++
	}
	return fmt.Sprintf("[%s%s] %8s/%s", arrow, strings.Repeat(" ", width-n), units.HumanSize(float64(cur)), units.HumanSize(float64(total)))
}

// reporter sends a transfer's messages to a ProgressFunc, serialised, and
// throttles byte counts.
type reporter struct {
	mu sync.Mutex
	f  ProgressFunc
}

func newReporter(f ProgressFunc) *reporter { return &reporter{f: f} }

// status sends a status message about id ("" for the whole transfer).
func (r *reporter) status(id, status string) {
	r.send(Progress{ID: id, Status: status})
}

func (r *reporter) send(p Progress) {
	if r == nil || r.f == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.f(p)
}

// counter returns a writer that counts the bytes written through it and
// reports them as status (Downloading, Pushing) for id, at most every
// 100ms; done reports the final count.
func (r *reporter) counter(id, status string, total int64) *countWriter {
	return &countWriter{r: r, id: id, status: status, total: total}
}

// countWriter is what reporter.counter returns.
type countWriter struct {
	r      *reporter
	id     string
	status string
	total  int64
	n      int64
	last   time.Time
}

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	if now := time.Now(); now.Sub(c.last) >= 100*time.Millisecond {
		c.last = now
		c.report()
	}
	return len(p), nil
}

func (c *countWriter) report() {
	c.r.send(Progress{ID: c.id, Status: c.status, Detail: &ProgressDetail{Current: c.n, Total: c.total}, Bar: bar(c.n, c.total)})
}

// done reports the final count.
func (c *countWriter) done() { c.report() }

// progressReader reports what is read through it to a countWriter.
type progressReader struct {
	r io.Reader
	c *countWriter
}

func (cr *progressReader) Read(p []byte) (int, error) {
	n, err := cr.r.Read(p)
	if n > 0 {
		cr.c.Write(p[:n])
	}
	return n, err
}
