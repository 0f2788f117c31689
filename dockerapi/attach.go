package dockerapi

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types"

	"github.com/enginefs/enginefs/detachkeys"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

// Docker's stream numbers in the multiplexed framing.
const (
	streamStdout byte = 1
	streamStderr byte = 2
)

// conn is a hijacked connection carrying a process's streams: output
// framed (no terminal) or raw (terminal), input read from in.
type conn struct {
	c   net.Conn
	in  io.Reader
	mu  sync.Mutex // one frame at a time
	mux bool
}

// hijack takes over the connection as dockerd does: 101 UPGRADED with
// Upgrade: tcp when the client asked for the upgrade, else 200 with the raw
// stream type. The multiplexed type is named from API 1.42 on.
func hijack(w http.ResponseWriter, r *http.Request, mux bool) (*conn, error) {
	contentType := types.MediaTypeRawStream
	_, upgrade := r.Header["Upgrade"]
	if upgrade && mux && compareVersions(apiVersion(r), "1.42") >= 0 {
		contentType = types.MediaTypeMultiplexedStream
	}
	c, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, errdefs.Invalid("the connection cannot be hijacked: %w", err)
	}
	markStarted(w)
	var b strings.Builder
	if upgrade {
		fmt.Fprintf(&b, "HTTP/1.1 101 UPGRADED\r\nContent-Type: %s\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n", contentType)
	} else {
		fmt.Fprintf(&b, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n", contentType)
	}
	for _, k := range []string{"Api-Version", "Docker-Experimental", "Ostype", "Server"} {
		if v := w.Header().Get(k); v != "" {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	if _, err := c.Write([]byte(b.String())); err != nil {
		c.Close()
		return nil, err
	}
	// Read what the server had buffered, then the connection itself: a
	// read through brw that meets the client's EOF (a half-close, which
	// docker clients send when their input ends) would cancel the
	// request's context, and with it the streams.
	buffered, _ := brw.Reader.Peek(brw.Reader.Buffered())
	return &conn{c: c, in: io.MultiReader(bytes.NewReader(bytes.Clone(buffered)), c), mux: mux}, nil
}

// write sends p as one frame of stream kind (or raw with a terminal).
func (c *conn) write(kind byte, p []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.mux {
		_, err := c.c.Write(p)
		return err
	}
	buf := make([]byte, 8+len(p))
	buf[0] = kind
	binary.BigEndian.PutUint32(buf[4:], uint32(len(p)))
	copy(buf[8:], p)
	_, err := c.c.Write(buf)
	return err
}

// writeFramed sends output that the tree framed already (logs): as it is
// when multiplexing, without the headers otherwise.
func (c *conn) writeFramed(data []byte) error {
	if c.mux {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, err := c.c.Write(data)
		return err
	}
	return eachFrame(data, func(_ byte, p []byte) error {
		_, err := c.c.Write(p)
		return err
	})
}

// eachFrame calls fn with the stream and payload of each frame of data.
func eachFrame(data []byte, fn func(kind byte, p []byte) error) error {
	for len(data) >= 8 {
		n := int(binary.BigEndian.Uint32(data[4:8]))
		if len(data) < 8+n {
			return errdefs.Unavailable("truncated log frame")
		}
		if err := fn(data[0], data[8:8+n]); err != nil {
			return err
		}
		data = data[8+n:]
	}
	return nil
}

// finish ends the session: the client reads EOF, then, once it has closed
// its side (or after a grace period), the connection is closed.
func (c *conn) finish(inputDone <-chan struct{}) {
	if cw, ok := c.c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		if inputDone != nil {
			select {
			case <-inputDone:
			case <-time.After(2 * time.Second):
			}
		}
	}
	c.c.Close()
}

// pumpOutput copies a stream file of the tree to the client until its EOF
// or ctx.
func pumpOutput(ctx context.Context, h fs.Handle, c *conn, kind byte) error {
	buf := make([]byte, 32*1024)
	for {
		n, err := h.ReadAt(ctx, buf, 0)
		if n > 0 {
			if werr := c.write(kind, buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF || (err == nil && n == 0) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// outputs are the open stream files of a session and their stream kinds.
type outputs struct {
	handles []fs.Handle
	kinds   []byte
}

// open opens dir's stdout and, without a terminal, stderr.
func (o *outputs) open(ctx context.Context, client fs.Client, dir string, stdout, stderr, tty bool) error {
	if tty {
		stdout, stderr = stdout || stderr, false
	}
	for _, s := range []struct {
		want bool
		name string
		kind byte
	}{{stdout, "stdout", streamStdout}, {stderr, "stderr", streamStderr}} {
		if !s.want {
			continue
		}
		h, err := client.Open(ctx, dir+s.name, os.O_RDONLY)
		if err != nil {
			o.close()
			return err
		}
		o.handles, o.kinds = append(o.handles, h), append(o.kinds, s.kind)
	}
	return nil
}

func (o *outputs) close() {
	for _, h := range o.handles {
		h.Close()
	}
}

// pump copies every output to c; it returns when all have ended, when ctx
// is done, or when the client cannot be written to.
func (o *outputs) pump(ctx context.Context, c *conn) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for i, h := range o.handles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := pumpOutput(ctx, h, c, o.kinds[i]); err != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
}

// stdinCopy copies what the client sends to a process's stdin file.
type stdinCopy struct {
	client fs.Client
	dir    string // the process's directory, ending in "/"
	// pending reports whether the process has yet to start; writes to a
	// process that has not started are retried until it has.
	pending func(ctx context.Context) bool
	keys    []byte // detach keys (with a terminal), or nil
}

// errDetached says the client typed the detach keys.
var errDetached = errors.New("detached")

// run copies until the client's EOF (which closes the process's input, as
// the tree does for a writer that closes) or the detach keys.
func (sc stdinCopy) run(ctx context.Context, in io.Reader) error {
	h, err := sc.client.Open(ctx, sc.dir+"stdin", os.O_WRONLY)
	if err != nil {
		return err
	}
	defer h.Close()
	esc := detachkeys.Scanner{Keys: sc.keys}
	buf := make([]byte, 32*1024)
	wrote := false
	for {
		n, rerr := in.Read(buf)
		data, detach := esc.Feed(buf[:n])
		if len(data) > 0 || (rerr == io.EOF && !wrote) {
			// A zero-length write at EOF makes the close count as a
			// writer's, so an empty input still ends the process's.
			if err := sc.write(ctx, h, data); err != nil {
				return err
			}
			wrote = true
		}
		if detach {
			return errDetached
		}
		if rerr != nil {
			return nil
		}
	}
}

func (sc stdinCopy) write(ctx context.Context, h fs.Handle, p []byte) error {
	for {
		_, err := h.WriteAt(ctx, p, 0)
		if err == nil || !errors.Is(err, errdefs.ErrBusy) || sc.pending == nil || !sc.pending(ctx) {
			return err
		}
		select {
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// attachContainer is POST /containers/{name}/attach: the container's
// output from now on (after its log with logs=1) and, with stdin=1 and an
// open stdin, its input, over the hijacked connection.
func (s *Server) attachContainer(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	ref := r.PathValue("name")
	ir, err := s.inspect(ctx, ref)
	if err != nil {
		return err
	}
	tty := ir.Config.Tty
	dir := "containers/" + ir.ID + "/"
	stdout, stderr := boolValue(r, "stdout"), boolValue(r, "stderr")
	keys, err := detachkeys.Parse(r.URL.Query().Get("detachKeys"))
	if err != nil {
		return err
	}
	if !tty {
		keys = nil
	}
	// With logs and stream, one follower of the log gives what was
	// written and then what comes, with nothing lost or repeated between;
	// with stream alone, the output files from now on.
	logs, stream := boolValue(r, "logs") && (stdout || stderr), boolValue(r, "stream")
	var replay []byte
	var follow fs.Handle
	var outs outputs
	switch lo := (logOptions{stdout: stdout || (tty && stderr), stderr: stderr && !tty}); {
	case logs && stream:
		lo.follow = true
		if follow, err = s.openLogs(ctx, ir.ID, lo); err != nil {
			return err
		}
		defer follow.Close()
	case logs:
		if replay, err = s.logs(ctx, ir.ID, lo); err != nil {
			return err
		}
	case stream:
		if err := outs.open(ctx, s.tree, dir, stdout, stderr, tty); err != nil {
			return noSuchContainer(err, ref)
		}
		defer outs.close()
	}
	c, err := hijack(w, r, !tty)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if logs {
		// docker-py reads a hijacked stream from the raw socket, past
		// the buffer its HTTP parser read the headers with: a log sent
		// at once would be lost in that buffer. Let it parse first.
		time.Sleep(replayDelay)
	}
	if err := c.writeFramed(replay); err != nil || !stream {
		c.finish(nil)
		return err
	}
	var inputDone chan struct{}
	if boolValue(r, "stdin") && ir.Config.OpenStdin {
		inputDone = make(chan struct{})
		sc := stdinCopy{client: s.tree, dir: dir, keys: keys, pending: func(ctx context.Context) bool {
			st, err := s.status(ctx, ir.ID)
			return err == nil && st == "created"
		}}
		go func() {
			defer close(inputDone)
			if err := sc.run(sctx, c.in); errors.Is(err, errDetached) {
				cancel()
			}
		}()
	}
	if follow != nil {
		_ = pumpFramed(sctx, follow, c)
	} else {
		outs.pump(sctx, c)
	}
	if sctx.Err() == nil {
		s.settle(sctx, ir.ID)
	}
	c.finish(inputDone)
	return nil
}

// replayDelay is how long an attach with logs waits after its headers
// before it sends the log.
const replayDelay = 100 * time.Millisecond

// settleTime bounds how long an attach whose output has ended waits for
// the container's exit to be recorded.
const settleTime = 5 * time.Second

// settle waits until the container whose output ended is recorded as
// exited (its wait file answers), so that a client that goes on with a
// remove or an inspect when the stream ends finds it stopped.
func (s *Server) settle(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(ctx, settleTime)
	defer cancel()
	if st, err := s.status(ctx, id); err == nil && (st == "running" || st == "paused") {
		_, _ = s.read(ctx, "containers/"+id+"/wait")
	}
}

// pumpFramed copies a logs file read in docker's framing (format=framed)
// to the client, whole frames at a time, until its EOF or ctx.
func pumpFramed(ctx context.Context, h fs.Handle, c *conn) error {
	buf := make([]byte, 32*1024)
	var pending []byte
	for {
		n, err := h.ReadAt(ctx, buf, 0)
		pending = append(pending, buf[:n]...)
		whole := 0
		for len(pending)-whole >= 8 {
			size := 8 + int(binary.BigEndian.Uint32(pending[whole+4:whole+8]))
			if len(pending)-whole < size {
				break
			}
			whole += size
		}
		if whole > 0 {
			if werr := c.writeFramed(pending[:whole]); werr != nil {
				return werr
			}
			pending = append(pending[:0], pending[whole:]...)
		}
		if err == io.EOF || (err == nil && n == 0) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
