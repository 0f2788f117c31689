package keeper

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/logs"
	"github.com/enginefs/enginefs/runtime"
)

// This file fixes the daemon-facing API of the keeper.

// Options says where the keeper lives and how to start it.
type Options struct {
	// Binary is the enginefs-keeper executable, started when no keeper
	// answers on the socket. Default: enginefs-keeper in the directory
	// of the running executable, else in $PATH.
	Binary string
	// RunDir holds keeper.sock, keeper.pid and keeper.log.
	RunDir string
	// Runtimes maps a runtime name to what runs it: "builtin" (the
	// keeper's own runtime, the default) or the path of an OCI runtime
	// binary (runc, crun). A container names its runtime in StartRequest.
	// The client resolves the name and sends the keeper what it stands
	// for, so each container keeps the runtime it was started with
	// whatever a later daemon's map says.
	Runtimes map[string]string
	// Idle is how long a keeper this client starts lingers once it has
	// nothing to keep and no client (--idle). Default DefaultIdle.
	Idle time.Duration
}

// Client is the daemon's connection to the keeper. It is safe for concurrent
// use; calls that block (Wait) do not hold up others.
//
// A lost connection (the keeper died) fails the calls in progress with
// errdefs.ErrUnavailable; the next call connects again, starting a keeper
// if none answers.
type Client struct {
	opts Options

	mu     sync.Mutex
	cc     *clientConn // nil once broken
	closed bool
}

// Connect connects to the keeper of opts.RunDir, starting it (detached, in
// its own session, so it outlives the daemon) if none answers. It retries
// until ctx is done, or for 10 seconds if ctx has no deadline. A keeper
// speaking another protocol version is errdefs.ErrUnavailable, at once.
func Connect(ctx context.Context, opts Options) (*Client, error) {
	if opts.RunDir == "" {
		return nil, errdefs.Invalid("keeper: no run directory")
	}
	// The keeper runs in /: paths it is given are absolute.
	var err error
	if opts.RunDir, err = filepath.Abs(opts.RunDir); err != nil {
		return nil, errdefs.Invalid("keeper: %w", err)
	}
	for name, v := range opts.Runtimes {
		if v != "builtin" && !filepath.IsAbs(v) {
			return nil, errdefs.Invalid("keeper: runtime %s: %q is neither builtin nor an absolute path", name, v)
		}
	}
	c := &Client{opts: opts}
	cc, err := dial(ctx, opts)
	if err != nil {
		return nil, err
	}
	c.cc = cc
	return c, nil
}

// Pid returns the process id of the keeper, as of the last connection.
func (c *Client) Pid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cc == nil {
		return 0
	}
	return c.cc.pid
}

// StartRequest starts a container's init process.
type StartRequest struct {
	ID      string
	Bundle  string // config.json + rootfs; process.terminal says whether it gets a tty
	Runtime string // a key of Options.Runtimes; "" is "builtin"
	// OpenStdin keeps a stdin for the process that WriteStdin feeds;
	// otherwise its stdin is /dev/null.
	OpenStdin bool
	// LogDir receives the output: the plain log (log) and its index of
	// streams and times (log.idx), written by package logs.
	LogDir string
	// JSONLog, if not nil, also receives the output in docker's json-file
	// format, rotated (the json-file and local logging drivers).
	JSONLog *logs.JSONFileConfig `json:",omitempty"`
	// Syslog, if not nil, also receives each line of the output as a
	// syslog message (the syslog logging driver).
	Syslog *logs.SyslogConfig `json:",omitempty"`
	// LogMax, if not 0, rotates the log of LogDir at that many bytes
	// (logs.WithMaxSize): it then holds at most twice that on disk.
	LogMax int64 `json:",omitempty"`
}

// ExecRequest starts a process in a running container.
type ExecRequest struct {
	ContainerID string
	ExecID      string
	Process     specs.Process // terminal says whether it gets a tty
	OpenStdin   bool
	LogDir      string // as StartRequest.LogDir, for this process's output
}

// Proc identifies a process the keeper runs: a container's init (ExecID "")
// or an exec'd process.
type Proc struct {
	ContainerID string
	ExecID      string
	Pid         int
	// StartedAt is when the runtime's start returned, on the keeper's
	// clock. The process's exit status is never earlier (the keeper
	// moves an ExitedAt before it up to it): a process as short as
	// `true` can exit before its start returns, and a start time taken
	// by the client after the call could then follow its exit. Zero
	// from a keeper that does not report it.
	StartedAt time.Time `json:",omitzero"`
}

// State is what the keeper knows of a process: running, or its exit status
// until the daemon calls Forget.
type State struct {
	Proc
	Running bool
	Exit    runtime.ExitStatus // valid when !Running
}

// Start starts a container; it returns once the container runs. An id the
// keeper runs already is errdefs.ErrAlreadyExists; an unknown runtime
// name errdefs.ErrInvalid; otherwise the runtime's errors (see
// runtime.Runtime.Start). The status of a previous run of the same id is
// dropped.
func (c *Client) Start(ctx context.Context, r StartRequest) (Proc, error) {
	bin, err := c.runtimeBinary(r.Runtime)
	if err != nil {
		return Proc{}, fmt.Errorf("container %s: %w", r.ID, err)
	}
	if r.Bundle, err = abs(r.Bundle); err == nil {
		r.LogDir, err = abs(r.LogDir)
	}
	if err != nil {
		return Proc{}, fmt.Errorf("container %s: %w", r.ID, err)
	}
	var p Proc
	err = c.call(ctx, mStart, startParams{StartRequest: r, RuntimeBinary: bin}, &p)
	return p, err
}

// runtimeBinary resolves a runtime name.
func (c *Client) runtimeBinary(name string) (string, error) {
	if name == "" {
		name = "builtin"
	}
	if v, ok := c.opts.Runtimes[name]; ok {
		return v, nil
	}
	if name == "builtin" {
		return name, nil
	}
	return "", errdefs.Invalid("unknown runtime %q", name)
}

// Exec starts a process in a running container (errdefs.ErrBusy if it is
// not running), with the runtime that started the container.
func (c *Client) Exec(ctx context.Context, r ExecRequest) (Proc, error) {
	var (
		p   Proc
		err error
	)
	if r.LogDir, err = abs(r.LogDir); err != nil {
		return Proc{}, fmt.Errorf("container %s exec %s: %w", r.ContainerID, r.ExecID, err)
	}
	err = c.call(ctx, mExec, r, &p)
	return p, err
}

// abs makes a path absolute for the keeper, which runs in /; "" stays "".
func abs(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	a, err := filepath.Abs(p)
	if err != nil {
		return "", errdefs.Invalid("%w", err)
	}
	return a, nil
}

// Signal sends sig to a process. One that has exited is errdefs.ErrBusy
// wrapping os.ErrProcessDone.
func (c *Client) Signal(ctx context.Context, id, execID string, sig syscall.Signal) error {
	return c.call(ctx, mSignal, signalParams{procParams{id, execID}, sig}, nil)
}

// WriteStdin writes p to the stdin (or terminal) of a process. It blocks
// while the process does not read, until ctx is done. A process without a
// stdin (no OpenStdin, or closed) is errdefs.ErrInvalid; one that has
// exited errdefs.ErrBusy.
func (c *Client) WriteStdin(ctx context.Context, id, execID string, p []byte) error {
	return c.call(ctx, mWrite, writeParams{procParams{id, execID}, p}, nil)
}

// CloseStdin closes the stdin of a process (EOF for the program); for a
// terminal it sends the terminal's EOF character (VEOF, ^D), which a
// program reading in canonical mode sees as the end of its input when it
// starts a line.
func (c *Client) CloseStdin(ctx context.Context, id, execID string) error {
	return c.call(ctx, mCloseStdin, procParams{id, execID}, nil)
}

// Resize sets the window size of a process's terminal; one without a
// terminal is errdefs.ErrInvalid.
func (c *Client) Resize(ctx context.Context, id, execID string, rows, cols uint16) error {
	return c.call(ctx, mResize, resizeParams{procParams{id, execID}, rows, cols}, nil)
}

// Pause freezes a container; Resume thaws it. A container the keeper did
// not start is errdefs.ErrNotFound.
func (c *Client) Pause(ctx context.Context, id string) error {
	return c.call(ctx, mPause, procParams{ID: id}, nil)
}

// Resume thaws a container Pause froze.
func (c *Client) Resume(ctx context.Context, id string) error {
	return c.call(ctx, mResume, procParams{ID: id}, nil)
}

// Delete removes the runtime's state of a container (see runtime.Runtime.Delete),
// through the runtime that started it, or, for a container the keeper does
// not know, through every runtime of Options.Runtimes.
func (c *Client) Delete(ctx context.Context, id string) error {
	var rts []string
	for _, v := range c.opts.Runtimes {
		if v != "builtin" {
			rts = append(rts, v)
		}
	}
	return c.call(ctx, mDelete, deleteParams{ID: id, Runtimes: rts}, nil)
}

// Wait blocks until a process has exited and returns how. It answers for
// processes that exited while no daemon was connected, until Forget. When
// it returns, the process's log holds all its output and its End record.
// An unknown process is errdefs.ErrNotFound.
func (c *Client) Wait(ctx context.Context, id, execID string) (runtime.ExitStatus, error) {
	var st runtime.ExitStatus
	err := c.call(ctx, mWait, procParams{id, execID}, &st)
	return st, err
}

// List returns every process the keeper runs or remembers, sorted by
// container and exec id.
func (c *Client) List(ctx context.Context) ([]State, error) {
	var out []State
	err := c.call(ctx, mList, nil, &out)
	return out, err
}

// Forget drops the exit status of a process the daemon has recorded. The
// status of a process still running is dropped when it exits. An unknown
// process is errdefs.ErrNotFound.
func (c *Client) Forget(ctx context.Context, id, execID string) error {
	return c.call(ctx, mForget, procParams{id, execID}, nil)
}

// Close closes the connection; the keeper and its containers go on. Calls
// in progress fail with errdefs.ErrUnavailable, later calls too.
func (c *Client) Close() error {
	c.mu.Lock()
	cc := c.cc
	c.cc, c.closed = nil, true
	c.mu.Unlock()
	if cc != nil {
		return cc.close()
	}
	return nil
}

// call makes one call on the connection, connecting again if it broke.
func (c *Client) call(ctx context.Context, method string, params, result any) error {
	cc, err := c.conn(ctx)
	if err != nil {
		return err
	}
	return cc.call(ctx, method, params, result)
}

// conn returns the live connection, making a new one if the last broke.
func (c *Client) conn(ctx context.Context) (*clientConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return nil, errdefs.Unavailable("keeper: client closed")
	case c.cc != nil && !c.cc.broken():
		return c.cc, nil
	}
	cc, err := dial(ctx, c.opts)
	if err != nil {
		return nil, err
	}
	c.cc = cc
	return cc, nil
}

// clientConn is one connection: a reader goroutine hands each response to
// the call waiting for its id.
type clientConn struct {
	nc  net.Conn
	pid int // the keeper's

	wmu sync.Mutex
	enc *json.Encoder

	mu      sync.Mutex
	next    uint64
	pending map[uint64]chan response
	err     error         // why the connection broke
	done    chan struct{} // closed when it broke
}

func newClientConn(nc net.Conn) *clientConn {
	return &clientConn{nc: nc, enc: json.NewEncoder(nc), pending: map[uint64]chan response{}, done: make(chan struct{})}
}

// read delivers responses until the connection fails.
func (cc *clientConn) read(dec *json.Decoder) {
	for {
		var resp response
		if err := dec.Decode(&resp); err != nil {
			cc.fail(errdefs.Unavailable("keeper connection lost: %w", err))
			return
		}
		cc.mu.Lock()
		ch := cc.pending[resp.ID]
		delete(cc.pending, resp.ID)
		cc.mu.Unlock()
		if ch != nil {
			ch <- resp // buffered
		}
	}
}

// fail marks the connection broken (once) and closes it.
func (cc *clientConn) fail(err error) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.err == nil {
		cc.err = err
		close(cc.done)
		cc.nc.Close()
	}
}

func (cc *clientConn) broken() bool {
	select {
	case <-cc.done:
		return true
	default:
		return false
	}
}

func (cc *clientConn) close() error {
	cc.fail(errdefs.Unavailable("keeper: client closed"))
	return nil
}

// call sends a request and waits for its response. A done ctx abandons
// the call and tells the keeper to cancel it.
func (cc *clientConn) call(ctx context.Context, method string, params, result any) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("keeper: %s: %w", method, err)
	}
	req := request{Method: method}
	if params != nil {
		b, err := json.Marshal(params)
		if err != nil {
			return errdefs.Invalid("keeper: %s: %w", method, err)
		}
		req.Params = b
	}
	ch := make(chan response, 1)
	cc.mu.Lock()
	if cc.err != nil {
		err := cc.err
		cc.mu.Unlock()
		return err
	}
	cc.next++
	req.ID = cc.next
	cc.pending[req.ID] = ch
	cc.mu.Unlock()
	if err := cc.send(req); err != nil {
		cc.fail(errdefs.Unavailable("keeper connection lost: %w", err))
	}
	select {
	case resp := <-ch:
		if resp.Error != nil {
			return resp.Error.err()
		}
		if result != nil && resp.Result != nil {
			if err := json.Unmarshal(resp.Result, result); err != nil {
				return errdefs.Invalid("keeper: %s: decode result: %w", method, err)
			}
		}
		return nil
	case <-cc.done:
		return cc.err
	case <-ctx.Done():
		cc.mu.Lock()
		delete(cc.pending, req.ID)
		cc.mu.Unlock()
		if b, err := json.Marshal(cancelParams{ID: req.ID}); err == nil {
			_ = cc.send(request{Method: mCancel, Params: b})
		}
		return fmt.Errorf("keeper: %s: %w", method, ctx.Err())
	}
}

// send writes one request.
func (cc *clientConn) send(req request) error {
	cc.wmu.Lock()
	defer cc.wmu.Unlock()
	return cc.enc.Encode(req)
}
