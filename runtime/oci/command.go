//go:build linux

package oci

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime"
)

// run runs the binary with args, a command and its arguments, after the
// global options. stdio, when not nil, becomes the binary's standard files
// (create and exec: the binary hands them to the container's process, so
// they are never pipes of ours that the container could hold open);
// otherwise the binary's output is captured. The log goes to a file in
// work, or in a temporary file when work is "". The error's class and text
// come from the last error the binary logged.
func (r *Runtime) run(ctx context.Context, work string, stdio *runtime.Stdio, args ...string) error {
	_, err := r.invoke(ctx, work, stdio, args)
	return err
}

// output runs a command whose standard output is wanted (state).
func (r *Runtime) output(ctx context.Context, args ...string) ([]byte, error) {
	return r.invoke(ctx, "", nil, args)
}

func (r *Runtime) invoke(ctx context.Context, work string, stdio *runtime.Stdio, args []string) ([]byte, error) {
	verb := args[0]
	logFile, done, err := r.logFile(work, verb)
	if err != nil {
		return nil, err
	}
	defer done()

	global := []string{"--root", r.root, "--log", logFile, "--log-format", "json"}
	cmd := exec.CommandContext(ctx, r.binary, append(global, args...)...)
	cmd.Dir = "/"
	cmd.Env = binaryEnv()
	// Its own session: a signal for the caller's terminal or process
	// group reaches neither the binary nor the container it starts.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	var stdout, stderr bytes.Buffer
	if stdio != nil {
		// create and exec are not killed when ctx ends: a binary
		// killed half way leaves processes nobody knows the pids of,
		// while one that finishes leaves a container or a process
		// that the caller's cleanup knows how to remove. Only one
		// that is still at it after startGrace is killed.
		cmd.Cancel = func() error { return nil }
		cmd.WaitDelay = startGrace
		// Left nil, they are /dev/null. A nil *os.File must not become
		// a non-nil io.Reader.
		if stdio.Stdin != nil {
			cmd.Stdin = stdio.Stdin
		}
		if stdio.Stdout != nil {
			cmd.Stdout = stdio.Stdout
		}
		if stdio.Stderr != nil {
			cmd.Stderr = stdio.Stderr
		}
	} else {
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.WaitDelay = time.Second
	}
	err = cmd.Run()
	if st := cmd.ProcessState; stdio != nil && st != nil && !st.Exited() {
		// Killed (after startGrace, or by someone else): reap what
		// it left in its session.
		reapStrays(inSession(cmd.Process.Pid, bootTicks()))
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s %s: %w", r.name, verb, ctx.Err())
	}
	if err == nil {
		return stdout.Bytes(), nil
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		// The binary could not be run at all.
		return nil, errdefs.Unavailable("%s %s: %w", r.name, verb, err)
	}
	msg := loggedError(logFile)
	if msg == "" {
		msg = lastLine(stderr.String())
	}
	if msg == "" {
		msg = err.Error()
	}
	if !strings.HasPrefix(msg, r.name) {
		msg = r.name + " " + verb + ": " + msg
	}
	return nil, errdefs.New(classify(msg), "%s", msg)
}

// binaryEnv is the caller's environment without what would change what the
// binary does: NOTIFY_SOCKET (a daemon run by systemd as Type=notify would
// have runc hand the socket to every container and wait for it to say it
// is ready) and libcontainer's own variables.
func binaryEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "NOTIFY_SOCKET=") || strings.HasPrefix(kv, "_LIBCONTAINER_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// startGrace is how long create and exec may go on once the caller's
// context has ended; a variable for the tests.
var startGrace = 10 * time.Second

// logFile names the file the binary logs to, and returns what removes it.
func (r *Runtime) logFile(work, verb string) (string, func(), error) {
	if work != "" {
		return filepath.Join(work, verb+".log"), func() {}, nil
	}
	f, err := os.CreateTemp(r.tempDir, "enginefs-oci-*.log")
	if err != nil {
		return "", nil, fmt.Errorf("%s %s: log file: %w", r.name, verb, err)
	}
	f.Close()
	return f.Name(), func() { os.Remove(f.Name()) }, nil
}

// loggedError returns the message of the last error in a log written with
// --log-format json (runc's and crun's: one object per line with level and
// msg), or "" when there is none.
func loggedError(file string) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	var last string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		var entry struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if json.Unmarshal(sc.Bytes(), &entry) != nil {
			continue
		}
		switch entry.Level {
		case "error", "fatal", "panic":
			if entry.Msg != "" {
				last = entry.Msg
			}
		}
	}
	return last
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// execError matches Go's exec.Error, which runc returns when the program
// cannot be found or is not executable: `exec: "name": <reason>`.
var execError = regexp.MustCompile(`exec: "[^"]*": `)

// classify reads the errdefs class of a failure from the binary's message.
// The messages are runc's (1.1) and crun's; Docker reads the same ones to
// tell a bad command (its exit code 127 or 126, an invalid-parameter
// error) from a daemon failure.
func classify(msg string) error {
	m := strings.ToLower(msg)
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(m, s) {
				return true
			}
		}
		return false
	}
	switch {
	case execError.MatchString(msg),
		has("executable file not found", "not found in $path", // runc, crun
			"can't exec user process", "exec format error", // runc: the program is not executable
			"open executable", "set in config.json failed"): // crun; runc: no such cwd
		return errdefs.ErrInvalid
	case has("already exists"):
		return errdefs.ErrAlreadyExists
	case has("container does not exist", "container not found", // runc
		"/status`: no such file or directory") || // crun: no state file
		(has("container") && has("does not exist")):
		return errdefs.ErrNotFound
	case has("not running", "not paused", "stopped container", "paused container", "is paused", "is not running"):
		return errdefs.ErrBusy
	}
	return errdefs.ErrUnavailable
}
