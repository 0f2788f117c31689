package keeper

import (
	"context"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/enginefs/enginefs/runtime"
)

// This file fixes the daemon-facing API of the keeper. The bodies are
// placeholders that the implementation replaces.

// Options says where the keeper lives and how to start it.
type Options struct {
	// Binary is the enginefs-keeper executable, started when no keeper
	// answers on the socket.
	Binary string
	// RunDir holds keeper.sock, keeper.pid and keeper.log.
	RunDir string
	// Runtimes maps a runtime name to what runs it: "builtin" (the
	// keeper's own runtime, the default) or the path of an OCI runtime
	// binary (runc, crun). A container names its runtime in StartRequest.
	Runtimes map[string]string
}

// Client is the daemon's connection to the keeper. It is safe for concurrent
// use; calls that block (Wait) do not hold up others.
type Client struct{}

// Connect connects to the keeper of opts.RunDir, starting it (detached, in
// its own session, so it outlives the daemon) if none answers.
func Connect(ctx context.Context, opts Options) (*Client, error) { panic("unimplemented") }

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
}

// State is what the keeper knows of a process: running, or its exit status
// until the daemon calls Forget.
type State struct {
	Proc
	Running bool
	Exit    runtime.ExitStatus // valid when !Running
}

// Start starts a container; it returns once the container runs.
func (c *Client) Start(ctx context.Context, r StartRequest) (Proc, error) { panic("unimplemented") }

// Exec starts a process in a running container.
func (c *Client) Exec(ctx context.Context, r ExecRequest) (Proc, error) { panic("unimplemented") }

// Signal sends sig to a process.
func (c *Client) Signal(ctx context.Context, id, execID string, sig syscall.Signal) error {
	panic("unimplemented")
}

// WriteStdin writes p to the stdin (or terminal) of a process.
func (c *Client) WriteStdin(ctx context.Context, id, execID string, p []byte) error {
	panic("unimplemented")
}

// CloseStdin closes the stdin of a process (EOF for the program); for a
// terminal it sends the terminal's EOF character.
func (c *Client) CloseStdin(ctx context.Context, id, execID string) error { panic("unimplemented") }

// Resize sets the window size of a process's terminal.
func (c *Client) Resize(ctx context.Context, id, execID string, rows, cols uint16) error {
	panic("unimplemented")
}

// Pause freezes a container; Resume thaws it.
func (c *Client) Pause(ctx context.Context, id string) error  { panic("unimplemented") }
func (c *Client) Resume(ctx context.Context, id string) error { panic("unimplemented") }

// Delete removes the runtime's state of a container (see runtime.Runtime.Delete).
func (c *Client) Delete(ctx context.Context, id string) error { panic("unimplemented") }

// Wait blocks until a process has exited and returns how. It answers for
// processes that exited while no daemon was connected, until Forget.
func (c *Client) Wait(ctx context.Context, id, execID string) (runtime.ExitStatus, error) {
	panic("unimplemented")
}

// List returns every process the keeper runs or remembers.
func (c *Client) List(ctx context.Context) ([]State, error) { panic("unimplemented") }

// Forget drops the exit status of a process the daemon has recorded.
func (c *Client) Forget(ctx context.Context, id, execID string) error { panic("unimplemented") }

// Close closes the connection; the keeper and its containers go on.
func (c *Client) Close() error { panic("unimplemented") }
