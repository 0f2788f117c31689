package builder

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
)

// message is one of docker's JSON messages of a build stream
// (jsonmessage.JSONMessage): step output in Stream, pull progress in
// Status/Progress, the image id in Aux, a failure in Error.
type message struct {
	Stream         string          `json:"stream,omitempty"`
	Status         string          `json:"status,omitempty"`
	ProgressDetail json.RawMessage `json:"progressDetail,omitempty"`
	Progress       string          `json:"progress,omitempty"`
	ID             string          `json:"id,omitempty"`
	ErrorDetail    *errorDetail    `json:"errorDetail,omitempty"`
	Error          string          `json:"error,omitempty"`
	Aux            *aux            `json:"aux,omitempty"`
}

type errorDetail struct {
	Code    int    `json:"code,omitempty"`
	Message string `json:"message"`
}

type aux struct {
	ID string `json:"ID"`
}

// output writes a build's messages, one JSON object per line, to a job's
// progress. Quiet holds every message back: on success only the image id
// is shown, on failure all of them (docker build -q).
type output struct {
	mu      sync.Mutex
	w       io.Writer
	quiet   bool
	held    bytes.Buffer
	runOut  int  // bytes of RUN output sent
	clipped bool // RUN output past maxRunOutput was dropped
}

// maxRunOutput caps the RUN output a build keeps for its readers; past
// it, the output is dropped, once said, and the build goes on.
const maxRunOutput = 16 << 20

// send writes one message.
func (o *output) send(m message) {
	data, err := json.Marshal(m) // HTML-escaped, as docker's
	if err != nil {
		return
	}
	data = append(data, '\n')
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.quiet && m.ErrorDetail == nil {
		o.held.Write(data)
		return
	}
	if m.ErrorDetail != nil && o.held.Len() > 0 {
		o.w.Write(o.held.Bytes())
		o.held.Reset()
	}
	o.w.Write(data)
}

// printf sends formatted text as a stream message.
func (o *output) printf(format string, a ...any) {
	o.send(message{Stream: fmt.Sprintf(format, a...)})
}

// raw sends a pull progress message as the registry code gave it (a JSON
// object).
func (o *output) raw(data []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	line := append(bytes.TrimSpace(data), '\n')
	if o.quiet {
		o.held.Write(line)
		return
	}
	o.w.Write(line)
}

// result sends what a successful quiet build shows: the image id alone.
func (o *output) result(id string) {
	if o.quiet {
		data, _ := json.Marshal(message{Stream: id + "\n"})
		o.mu.Lock()
		o.w.Write(append(data, '\n'))
		o.mu.Unlock()
	}
}

// fail sends the error message of a failed build; code is a RUN's exit
// code (0 for other failures).
func (o *output) fail(msg string, code int) {
	o.send(message{ErrorDetail: &errorDetail{Code: code, Message: msg}, Error: msg})
}

// streamWriter sends what is written to it as stream messages, for a RUN
// step's output; stderr's is wrapped in the red of docker's stderr.
type streamWriter struct {
	o      *output
	stderr bool
}

func (s streamWriter) Write(p []byte) (int, error) {
	s.o.mu.Lock()
	s.o.runOut += len(p)
	over, first := s.o.runOut > maxRunOutput, !s.o.clipped && s.o.runOut > maxRunOutput
	if over {
		s.o.clipped = true
	}
	s.o.mu.Unlock()
	if over {
		if first {
			s.o.printf("[output clipped: this build's RUN output passed %d MiB; the rest is not shown]\n", maxRunOutput>>20)
		}
		return len(p), nil
	}
	text := string(p)
	if s.stderr {
		text = "\x1b[91m" + text + "\x1b[0m"
	}
	s.o.send(message{Stream: text})
	return len(p), nil
}

// shortID is docker's stringid.TruncateID: no algorithm, 12 digits.
func shortID(id string) string {
	if i := strings.IndexByte(id, ':'); i >= 0 {
		id = id[i+1:]
	}
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}
