package keeper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/enginefs/enginefs/errdefs"
)

// BinaryName is the keeper executable's name, looked up when
// Options.Binary is empty.
const BinaryName = "enginefs-keeper"

// connectTimeout bounds Connect when its ctx has no deadline.
const connectTimeout = 10 * time.Second

// respawnEvery is how often a client that cannot reach the keeper starts
// one: a keeper started while the last one exits refuses to run, and the
// next try succeeds.
const respawnEvery = 250 * time.Millisecond

// errRefused marks an error a keeper answered with: no retry helps.
var errRefused = errors.New("refused by the keeper")

// dial connects to the keeper of opts.RunDir, starting one when nobody
// listens on the socket, and retrying while the keeper starts or exits.
func dial(ctx context.Context, opts Options) (*clientConn, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, connectTimeout)
		defer cancel()
	}
	sock := filepath.Join(opts.RunDir, SocketName)
	var (
		lastSpawn time.Time
		lastErr   error
		delay     = 2 * time.Millisecond
	)
	for {
		cc, err := hello(ctx, sock)
		if err == nil {
			return cc, nil
		}
		if errors.Is(err, errRefused) {
			return nil, err
		}
		lastErr = err
		var dialErr *net.OpError
		if errors.As(err, &dialErr) && dialErr.Op == "dial" && time.Since(lastSpawn) >= respawnEvery {
			// Nobody listens (no socket, or a stale one).
			if err := spawn(opts); err != nil {
				return nil, err
			}
			lastSpawn = time.Now()
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, errdefs.Unavailable("keeper at %s does not answer: %v (see %s)",
				sock, lastErr, filepath.Join(opts.RunDir, LogFileName))
		case <-t.C:
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// hello opens a connection and checks the keeper's protocol version.
func hello(ctx context.Context, sock string) (*clientConn, error) {
	d := net.Dialer{Timeout: time.Second}
	nc, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(helloTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = nc.SetDeadline(deadline)
	cc := newClientConn(nc)
	dec := json.NewDecoder(nc)
	params, _ := json.Marshal(helloParams{Protocol: ProtocolVersion, Build: build()})
	var resp response
	if err := cc.send(request{Method: mHello, Params: params}); err != nil {
		nc.Close()
		return nil, err
	}
	if err := dec.Decode(&resp); err != nil {
		nc.Close()
		return nil, err // an exiting keeper closes at once: retry
	}
	var hr helloResult
	switch {
	case resp.Error != nil:
		nc.Close()
		return nil, fmt.Errorf("%w: %w", resp.Error.err(), errRefused)
	case json.Unmarshal(resp.Result, &hr) != nil || hr.Protocol != ProtocolVersion:
		nc.Close()
		return nil, errdefs.Unavailable("keeper %d (%s) at %s speaks protocol %d, this client (%s) speaks %d: %w",
			hr.Pid, hr.Build, sock, hr.Protocol, build(), ProtocolVersion, errRefused)
	}
	_ = nc.SetDeadline(time.Time{})
	cc.pid = hr.Pid
	go cc.read(dec)
	return cc, nil
}

// spawn starts a keeper, detached: the binary, run with --detach, starts
// the keeper in a new session and exits at once, so the keeper is nobody's
// child to wait for (init, or the nearest subreaper, adopts it), and the
// daemon may exit any time. Its output goes to keeper.log.
func spawn(opts Options) error {
	bin := opts.Binary
	if bin == "" {
		var err error
		if bin, err = defaultBinary(); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(opts.RunDir, 0o700); err != nil {
		return fmt.Errorf("keeper: %w", err)
	}
	logFile, err := os.OpenFile(filepath.Join(opts.RunDir, LogFileName), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("keeper: %w", err)
	}
	defer logFile.Close()
	args := []string{"--run", opts.RunDir, "--detach"}
	if opts.Idle > 0 {
		args = append(args, "--idle", opts.Idle.String())
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Run(); err != nil {
		return errdefs.Unavailable("keeper: start %s: %w (see %s)", bin, err, logFile.Name())
	}
	return nil
}

// defaultBinary finds the keeper beside the running executable, else in
// $PATH.
func defaultBinary() (string, error) {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), BinaryName)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath(BinaryName)
	if err != nil {
		return "", errdefs.Unavailable("keeper: no %s beside the daemon or in $PATH: %w", BinaryName, err)
	}
	return p, nil
}
