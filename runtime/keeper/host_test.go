package keeper

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// hostRuntime is a runtime.Runtime double that runs a bundle's process
// args on the host, without a container, so the keeper's own logic (the
// protocol, stdio, logs, statuses, idle exit) is tested without root. It
// has no terminal, exec, pause or resume.
type hostRuntime struct{}

var _ runtime.Runtime = hostRuntime{}

func (hostRuntime) Start(ctx context.Context, c runtime.Container) (runtime.Process, error) {
	spec, err := runtime.ReadBundle(c.Bundle)
	if err != nil {
		return nil, err
	}
	if spec.Process.Terminal {
		return nil, errdefs.Unavailable("host runtime: no terminal")
	}
	path, err := exec.LookPath(spec.Process.Args[0])
	if err != nil {
		return nil, errdefs.Invalid("host runtime: %w", err)
	}
	files := []*os.File{c.Stdio.Stdin, c.Stdio.Stdout, c.Stdio.Stderr}
	null, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer null.Close()
	for i, f := range files {
		if f == nil {
			files[i] = null
		}
	}
	p, err := os.StartProcess(path, spec.Process.Args, &os.ProcAttr{Files: files, Env: spec.Process.Env})
	if err != nil {
		return nil, err
	}
	hp := &hostProcess{p: p, done: make(chan struct{})}
	go func() {
		ps, err := p.Wait()
		if err == nil {
			ws := ps.Sys().(syscall.WaitStatus)
			hp.st.Code = ws.ExitStatus()
			if ws.Signaled() {
				hp.st.Signal, hp.st.Code = ws.Signal(), 128+int(ws.Signal())
			}
		}
		hp.st.ExitedAt = time.Now()
		close(hp.done)
	}()
	return hp, nil
}

func (hostRuntime) Exec(context.Context, string, runtime.ExecProcess) (runtime.Process, error) {
	return nil, errdefs.Unavailable("host runtime: no exec")
}
func (hostRuntime) Pause(context.Context, string) error {
	return errdefs.Unavailable("host runtime: no pause")
}
func (hostRuntime) Resume(context.Context, string) error {
	return errdefs.Unavailable("host runtime: no resume")
}
func (hostRuntime) Delete(context.Context, string) error { return nil }

type hostProcess struct {
	p    *os.Process
	done chan struct{}
	st   runtime.ExitStatus
}

func (h *hostProcess) Pid() int          { return h.p.Pid }
func (h *hostProcess) Console() *os.File { return nil }
func (h *hostProcess) Signal(sig syscall.Signal) error {
	select {
	case <-h.done:
		return errdefs.Busy("exited: %w", os.ErrProcessDone)
	default:
		return h.p.Signal(sig)
	}
}
func (h *hostProcess) Wait(ctx context.Context) (runtime.ExitStatus, error) {
	select {
	case <-h.done:
		return h.st, nil
	case <-ctx.Done():
		return runtime.ExitStatus{}, ctx.Err()
	}
}

// hostKeeper serves a keeper with the host runtime in this process and
// returns a client of it. The keeper ends with the test: it must have
// exited idle by then, or the test fails.
func hostKeeper(t *testing.T, idle time.Duration) (Options, *Client, <-chan error) {
	t.Helper()
	opts := Options{RunDir: shortTempDir(t), Binary: "/nonexistent"}
	served := make(chan error, 1)
	go func() {
		served <- Serve(context.Background(), Config{
			RunDir: opts.RunDir, Idle: idle,
			NewRuntime: func(string) (runtime.Runtime, error) { return hostRuntime{}, nil },
		})
	}()
	var c *Client
	deadline := time.Now().Add(10 * time.Second)
	for {
		cc, err := hello(context.Background(), filepath.Join(opts.RunDir, SocketName))
		if err == nil {
			c = &Client{opts: opts, cc: cc}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("in-process keeper does not answer: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return opts, c, served
}

// shortTempDir is a temporary directory with a path short enough for a
// unix socket.
func shortTempDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "keeper")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// hostBundle writes a bundle running args on the host.
func hostBundle(t *testing.T, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	s := &specs.Spec{Process: &specs.Process{Args: args, Env: []string{"PATH=/usr/bin:/bin"}}, Root: &specs.Root{Path: "rootfs"}}
	if err := runtime.WriteBundle(dir, s); err != nil {
		t.Fatal(err)
	}
	return dir
}

var lastID struct {
	sync.Mutex
	n int
}

// newID returns a container id unique on the host.
func newID() string {
	lastID.Lock()
	defer lastID.Unlock()
	lastID.n++
	return fmt.Sprintf("keeper-test-%d-%d", os.Getpid(), lastID.n)
}

func TestHostLifecycle(t *testing.T) {
	_, c, served := hostKeeper(t, 300*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, logDir := newID(), t.TempDir()
	p, err := c.Start(ctx, StartRequest{ID: id, Bundle: hostBundle(t, "sh", "-c", "echo out; echo err >&2; exit 3"), LogDir: logDir})
	if err != nil {
		t.Fatal(err)
	}
	if p.ContainerID != id || p.Pid <= 0 {
		t.Errorf("Start = %+v", p)
	}
	st, err := c.Wait(ctx, id, "")
	if err != nil || st.Code != 3 {
		t.Fatalf("Wait = %+v, %v; want code 3", st, err)
	}
	// The log is complete when Wait answers.
	if got := readLog(t, logDir); got != "1:out\n 2:err\n END" && got != "2:err\n 1:out\n END" {
		t.Errorf("log = %q", got)
	}
	// Answered again, at once, until forgotten.
	if st, err := c.Wait(ctx, id, ""); err != nil || st.Code != 3 {
		t.Errorf("second Wait = %+v, %v", st, err)
	}
	states, err := c.List(ctx)
	if err != nil || len(states) != 1 || states[0].Running || states[0].Exit.Code != 3 {
		t.Errorf("List = %+v, %v", states, err)
	}
	if err := c.Signal(ctx, id, "", syscall.SIGTERM); !errors.Is(err, errdefs.ErrBusy) || !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("Signal of an exited process: %v, want ErrBusy and os.ErrProcessDone", err)
	}
	if err := c.Forget(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Wait(ctx, id, ""); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Wait after Forget: %v, want ErrNotFound", err)
	}
	if err := c.Forget(ctx, id, ""); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("second Forget: %v, want ErrNotFound", err)
	}
	c.Close()
	select {
	case err := <-served:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the idle keeper did not exit")
	}
}

func TestHostErrors(t *testing.T) {
	opts, c, served := hostKeeper(t, 100*time.Millisecond)
	defer func() { c.Close(); <-served }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bundle := hostBundle(t, "sleep", "10")
	for _, tc := range []struct {
		name  string
		call  func() error
		class error
	}{
		{"start bad id", func() error {
			_, err := c.Start(ctx, StartRequest{ID: "../x", Bundle: bundle, LogDir: t.TempDir()})
			return err
		}, errdefs.ErrInvalid},
		{"start no bundle", func() error {
			_, err := c.Start(ctx, StartRequest{ID: newID(), Bundle: t.TempDir(), LogDir: t.TempDir()})
			return err
		}, errdefs.ErrNotFound},
		{"start unknown runtime", func() error {
			_, err := c.Start(ctx, StartRequest{ID: newID(), Bundle: bundle, Runtime: "nope", LogDir: t.TempDir()})
			return err
		}, errdefs.ErrInvalid},
		{"start missing program", func() error {
			_, err := c.Start(ctx, StartRequest{ID: newID(), Bundle: hostBundle(t, "no-such-program"), LogDir: t.TempDir()})
			return err
		}, errdefs.ErrInvalid},
		{"wait unknown", func() error { _, err := c.Wait(ctx, "nope", ""); return err }, errdefs.ErrNotFound},
		{"signal unknown", func() error { return c.Signal(ctx, "nope", "", syscall.SIGTERM) }, errdefs.ErrNotFound},
		{"pause unknown", func() error { return c.Pause(ctx, "nope") }, errdefs.ErrNotFound},
		{"exec not running", func() error {
			_, err := c.Exec(ctx, ExecRequest{ContainerID: "nope", ExecID: "e1", LogDir: t.TempDir()})
			return err
		}, errdefs.ErrBusy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, tc.class) {
				t.Errorf("error %v, want class %v", err, tc.class)
			}
		})
	}

	// A running process: a second start, resize without a terminal and
	// stdin without OpenStdin fail; a cancelled Wait leaves others be.
	id := newID()
	if _, err := c.Start(ctx, StartRequest{ID: id, Bundle: bundle, LogDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Start(ctx, StartRequest{ID: id, Bundle: bundle, LogDir: t.TempDir()}); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Errorf("second Start: %v, want ErrAlreadyExists", err)
	}
	if err := c.Resize(ctx, id, "", 10, 10); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("Resize without a terminal: %v, want ErrInvalid", err)
	}
	if err := c.WriteStdin(ctx, id, "", []byte("x")); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("WriteStdin without OpenStdin: %v, want ErrInvalid", err)
	}
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	if _, err := c.Wait(short, id, ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait with a short deadline: %v", err)
	}
	waited := make(chan runtime.ExitStatus, 1)
	go func() {
		st, err := c.Wait(ctx, id, "")
		if err != nil {
			t.Error(err)
		}
		waited <- st
	}()
	// Other calls go on while Wait blocks.
	if _, err := c.List(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Signal(ctx, id, "", syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if st := <-waited; st.Code != 137 || st.Signal != syscall.SIGKILL {
		t.Errorf("Wait after SIGKILL = %+v", st)
	}
	if err := c.Forget(ctx, id, ""); err != nil {
		t.Fatal(err)
	}

	// A client of another protocol version is refused, clearly.
	nc, err := hello(ctx, filepath.Join(opts.RunDir, SocketName))
	if err != nil {
		t.Fatal(err)
	}
	nc.close()
	if err := helloVersion(t, filepath.Join(opts.RunDir, SocketName), ProtocolVersion+1); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("hello of protocol %d: %v, want ErrUnavailable", ProtocolVersion+1, err)
	} else {
		t.Logf("refused: %v", err)
	}
}

func TestHostStdin(t *testing.T) {
	_, c, served := hostKeeper(t, 100*time.Millisecond)
	defer func() { c.Close(); <-served }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, logDir := newID(), t.TempDir()
	if _, err := c.Start(ctx, StartRequest{ID: id, Bundle: hostBundle(t, "cat"), LogDir: logDir, OpenStdin: true}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"hello\n", "world\n"} {
		if err := c.WriteStdin(ctx, id, "", []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.CloseStdin(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	if st, err := c.Wait(ctx, id, ""); err != nil || st.Code != 0 {
		t.Fatalf("Wait = %+v, %v", st, err)
	}
	if got := logText(t, logDir); got != "hello\nworld\n" {
		t.Errorf("log = %q", got)
	}
	if err := c.WriteStdin(ctx, id, "", []byte("late")); !errors.Is(err, errdefs.ErrInvalid) && !errors.Is(err, errdefs.ErrBusy) {
		t.Errorf("WriteStdin after exit: %v", err)
	}
	if err := c.Forget(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
}

// TestHostForgetRunning forgets a process before it exits: its status goes
// when it does, and the keeper can exit idle.
func TestHostForgetRunning(t *testing.T) {
	_, c, served := hostKeeper(t, 100*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id := newID()
	if _, err := c.Start(ctx, StartRequest{ID: id, Bundle: hostBundle(t, "sleep", "0.2"), LogDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if err := c.Forget(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	c.Close()
	select {
	case <-served:
	case <-time.After(10 * time.Second):
		t.Fatal("the keeper did not exit once the forgotten process exited")
	}
}
