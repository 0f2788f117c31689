package tree

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/enginefs/enginefs/ctl"
	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/engine"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
	"github.com/enginefs/enginefs/logs"
)

// logOpts are the options of one read of containers/<id>/logs, those of
// docker logs.
type logOpts struct {
	stdout, stderr bool
	timestamps     bool
	tail           int // -1: all
	since, until   time.Time
	follow         bool
	framed         bool
}

func parseLogOpts(line string) (logOpts, error) {
	o := logOpts{stdout: true, stderr: true, tail: -1}
	v, err := verbs.ContainerLogs.Parse(line)
	if err != nil {
		return o, err
	}
	l := v.(verbs.Logs)
	p := values{verb: l.Verb()}
	o.stdout, o.stderr = !l.NoStdout, !l.NoStderr
	o.timestamps, o.follow = l.Timestamps, l.Follow
	if l.Tail != "" && l.Tail != "all" {
		n, err := strconv.Atoi(l.Tail)
		if err != nil || n < 0 {
			p.fail("tail", l.Tail)
		}
		o.tail = n
	}
	for _, tv := range []struct {
		key, v string
		t      *time.Time
	}{{"since", l.Since, &o.since}, {"until", l.Until, &o.until}} {
		if tv.v == "" {
			continue
		}
		t, err := ParseTime(tv.v)
		if err != nil {
			p.fail(tv.key, tv.v)
		}
		*tv.t = t
	}
	switch l.Format {
	case "", "plain":
	case "framed":
		o.framed = true
	default:
		p.fail("format", l.Format)
	}
	return o, p.err
}

// ParseTime reads a time as docker's API sends it: Unix seconds with an
// optional fraction ("1700000000.5"), or RFC 3339.
func ParseTime(s string) (time.Time, error) {
	if secs, frac, ok := strings.Cut(s, "."); s != "" && strings.Trim(secs, "0123456789-") == "" {
		n, err := strconv.ParseInt(secs, 10, 64)
		if err != nil {
			return time.Time{}, errdefs.Invalid("bad time %q", s)
		}
		var nanos int64
		if ok {
			if len(frac) > 9 || strings.Trim(frac, "0123456789") != "" {
				return time.Time{}, errdefs.Invalid("bad time %q", s)
			}
			nanos, _ = strconv.ParseInt((frac + "000000000")[:9], 10, 64)
		}
		return time.Unix(n, nanos), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errdefs.Invalid("bad time %q: want Unix seconds or RFC 3339", s)
	}
	return t, nil
}

// TimestampFormat is how a line's time is written before it
// (docker's jsonmessage.RFC3339NanoFixed).
const TimestampFormat = "2006-01-02T15:04:05.000000000Z07:00"

// logsFile is containers/<id>/logs: the container's output as docker logs
// shows it, read from what its logging driver kept (the json-file or local
// driver's files, rotated ones first; syslog's dual-logging cache), so
// what rotation dropped is gone, as with dockerd. An open may first write
// one line of options (verbs.Logs) and then reads the output: what the
// files hold, then with follow=true what the current run writes (across
// rotations) until it ends. Each line is a message of the stream it came from; format=framed
// puts each message in docker's multiplexed frame (an 8-byte header: the
// stream, 1 stdout or 2 stderr, three zero bytes, the length as a 32-bit
// big-endian number), which is what the REST bridge reads; plain is the
// text alone. Reads block while following and end at EOF.
type logsFile struct {
	t  *tree
	id string
}

func (logsFile) Attr(context.Context) (fs.Attr, error) { return fs.Attr{Mode: 0o644}, nil }

func (f logsFile) Open(ctx context.Context, _ int) (fs.Handle, error) {
	c, err := f.t.e.Get(f.id)
	if err != nil {
		return nil, err
	}
	// What the logging driver kept, as dockerd reads it; a driver that
	// keeps nothing to read is refused with dockerd's message.
	path, err := f.t.e.ReadLogPath(c.Record())
	if err != nil {
		return nil, err
	}
	open := func() (entryReader, error) { return logs.OpenJSONFile(path) }
	return &logsHandle{c: c, open: open, opts: logOpts{stdout: true, stderr: true, tail: -1}}, nil
}

// entryReader reads a log's entries in order (logs.JSONReader).
type entryReader interface {
	Next(ctx context.Context, follow bool) (logs.Entry, error)
	Close() error
}

type logsHandle struct {
	c    *engine.Container           // nil: no run to follow
	open func() (entryReader, error) // the driver's files

	mu      sync.Mutex // serialises the reads and writes of one open
	opts    logOpts
	started bool
	r       entryReader
	pending []byte
	phase   logPhase
	atStart [3]bool // per stream: the next byte begins a line

	ended     chan struct{} // closed when the run followed has ended
	endCancel context.CancelFunc
}

type logPhase int

const (
	phaseBatch  logPhase = iota // what is in the log now (with tail)
	phaseFollow                 // what the run writes next
	phaseDrain                  // the run ended: what is left
	phaseDone
)

func (h *logsHandle) WriteAt(_ context.Context, p []byte, _ int64) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.started {
		return 0, errdefs.Busy("logs: options must be written before the first read")
	}
	lines := ctl.SplitLines(string(p))
	if len(lines) != 1 {
		return 0, errdefs.Invalid("logs: write one line of options (usage: %s)", verbs.Usage(verbs.Logs{}))
	}
	o, err := parseLogOpts(lines[0])
	if err != nil {
		return 0, err
	}
	h.opts = o
	return len(p), nil
}

// Truncate accepts the truncate of a shell redirection.
func (h *logsHandle) Truncate(context.Context, int64) error { return nil }

func (h *logsHandle) ReadAt(ctx context.Context, p []byte, _ int64) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.started {
		h.started = true
		h.atStart = [3]bool{true, true, true}
		r, err := h.open()
		if err != nil {
			return 0, err
		}
		h.r = r
		if h.opts.follow {
			h.watchRun(h.c.Wait())
		}
	}
	for len(h.pending) == 0 {
		if h.phase == phaseDone {
			return 0, io.EOF
		}
		if err := h.step(ctx); err != nil {
			return 0, err
		}
	}
	n := copy(p, h.pending)
	h.pending = h.pending[n:]
	return n, nil
}

// watchRun closes h.ended when the run the container is in ends.
func (h *logsHandle) watchRun(wait func(context.Context) (engine.ExitStatus, error)) {
	var wctx context.Context
	wctx, h.endCancel = context.WithCancel(context.Background())
	h.ended = make(chan struct{})
	go func() {
		_, _ = wait(wctx)
		close(h.ended)
	}()
}

// step produces the next part of the output into h.pending, or moves on to
// the next phase.
func (h *logsHandle) step(ctx context.Context) error {
	switch h.phase {
	case phaseBatch:
		if h.opts.tail >= 0 {
			return h.tailBatch(ctx)
		}
		e, err := h.r.Next(ctx, false)
		if err == io.EOF {
			h.afterBatch()
			return nil
		}
		if err != nil {
			return err
		}
		h.add(e)
	case phaseFollow:
		fctx, cancel := context.WithCancel(ctx)
		stop := make(chan struct{})
		go func() {
			select {
			case <-h.ended:
				cancel()
			case <-stop:
			}
		}()
		e, err := h.r.Next(fctx, true)
		close(stop)
		cancel()
		switch {
		case err == io.EOF:
			h.phase = phaseDone
		case err != nil && ctx.Err() == nil && isClosed(h.ended):
			h.phase = phaseDrain
		case err != nil:
			return err
		default:
			h.add(e)
		}
	case phaseDrain:
		e, err := h.r.Next(ctx, false)
		if err == io.EOF {
			h.phase = phaseDone
			return nil
		}
		if err != nil {
			return err
		}
		h.add(e)
	}
	return nil
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func (h *logsHandle) afterBatch() {
	if h.opts.follow && h.phase != phaseDone {
		h.phase = phaseFollow
	} else {
		h.phase = phaseDone
	}
}

// tailBatch reads the whole log now, keeping the last opts.tail messages.
func (h *logsHandle) tailBatch(ctx context.Context) error {
	var keep [][]byte
	for h.phase == phaseBatch {
		e, err := h.r.Next(ctx, false)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		for _, m := range h.messages(e) {
			if keep = append(keep, m); len(keep) > h.opts.tail {
				keep = keep[1:]
			}
		}
	}
	h.pending = bytes.Join(keep, nil)
	h.afterBatch()
	return nil
}

// add appends the messages of e to the output.
func (h *logsHandle) add(e logs.Entry) {
	for _, m := range h.messages(e) {
		h.pending = append(h.pending, m...)
	}
}

// messages splits an entry into lines (a last part without a newline is a
// message too), drops what the options leave out and formats the rest. An
// entry after until ends the output.
func (h *logsHandle) messages(e logs.Entry) [][]byte {
	o := h.opts
	if !o.until.IsZero() && e.Time.After(o.until) {
		h.phase = phaseDone
		return nil
	}
	if (e.Stream == logs.Stdout && !o.stdout) || (e.Stream == logs.Stderr && !o.stderr) ||
		(!o.since.IsZero() && e.Time.Before(o.since)) || int(e.Stream) >= len(h.atStart) {
		return nil
	}
	var out [][]byte
	data := e.Data
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line = data[:i+1]
		}
		data = data[len(line):]
		var m []byte
		if o.timestamps && h.atStart[e.Stream] {
			m = append(m, e.Time.UTC().Format(TimestampFormat)+" "...)
		}
		m = append(m, line...)
		h.atStart[e.Stream] = line[len(line)-1] == '\n'
		if o.framed {
			hdr := make([]byte, 8, 8+len(m))
			hdr[0] = byte(e.Stream)
			binary.BigEndian.PutUint32(hdr[4:], uint32(len(m)))
			m = append(hdr, m...)
		}
		out = append(out, m)
	}
	return out
}

func (h *logsHandle) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.endCancel != nil {
		h.endCancel()
	}
	if h.r != nil {
		return h.r.Close()
	}
	return nil
}
