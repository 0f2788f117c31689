//go:build linux

package runtimetest

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime"
)

// The process: what it runs with, how it ends, its input and output.

func testEnv(t *testing.T, h *harness) {
	opts := sh("env")
	opts.Hostname = "envhost"
	opts.Env = []string{"FOO=bar", "EMPTY="}
	out, st := h.run(opts, nil)
	wantStatus(t, st, 0, 0)
	env := map[string]bool{}
	for _, l := range lines(out) {
		env[l] = true
	}
	for _, want := range []string{"PATH=" + runtime.DefaultPathEnv, "HOSTNAME=envhost", "FOO=bar", "EMPTY="} {
		if !env[want] {
			t.Errorf("environment lacks %q: %q", want, lines(out))
		}
	}
}

// testEnvPathLookup: the program is looked up in the container's PATH, not
// the runtime's.
func testEnvPathLookup(t *testing.T, h *harness) {
	opts := runtime.SpecOptions{Args: []string{"hello"}, Env: []string{"PATH=/custom:/bin"}}
	c := h.bundle(opts, nil)
	dir := filepath.Join(c.bundle, "rootfs", "custom")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho hello from $0 with PATH=$PATH\n"
	if err := os.WriteFile(filepath.Join(dir, "hello"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	c.start(nil)
	wantStatus(t, c.wait(), 0, 0)
	wantLines(t, c.out(), "hello from /custom/hello with PATH=/custom:/bin")
}

func testUserRoot(t *testing.T, h *harness) {
	out, st := h.run(sh("id -u; id -g; grep '^Groups:' /proc/self/status"), nil)
	wantStatus(t, st, 0, 0)
	wantLines(t, out, "0", "0", "Groups:")
}

// testUser: uid, gid and exactly the additional gids, none of the
// runtime's own groups.
func testUser(t *testing.T, h *harness) {
	opts := sh("id -u; id -g; id -un; grep '^Groups:' /proc/self/status; id")
	opts.User = "1000:1000"
	opts.AdditionalGids = []uint32{10, 50}
	out, st := h.run(opts, nil)
	wantStatus(t, st, 0, 0)
	got := lines(out)
	if len(got) != 5 {
		t.Fatalf("output = %q, want 5 lines", got)
	}
	if got[0] != "1000" || got[1] != "1000" || got[2] != "app" {
		t.Errorf("uid, gid, name = %q, want 1000, 1000, app", got[:3])
	}
	if f := strings.Fields(got[3]); strings.Join(f, " ") != "Groups: 10 50" {
		t.Errorf("supplementary groups: %q, want Groups: 10 50", got[3])
	}
	if !strings.HasPrefix(got[4], "uid=1000(app) gid=1000(app)") || !strings.Contains(got[4], "10(wheel)") || !strings.Contains(got[4], "50(staff)") {
		t.Errorf("id = %q, want uid=1000(app) gid=1000(app) with groups 10(wheel) and 50(staff)", got[4])
	}
}

func testCwd(t *testing.T, h *harness) {
	opts := sh("pwd")
	opts.Cwd = "/home/app"
	out, st := h.run(opts, nil)
	wantStatus(t, st, 0, 0)
	wantLines(t, out, "/home/app")
}

func testHostname(t *testing.T, h *harness) {
	opts := sh("hostname; cat /proc/sys/kernel/hostname")
	opts.Hostname = "conformance"
	out, st := h.run(opts, nil)
	wantStatus(t, st, 0, 0)
	wantLines(t, out, "conformance", "conformance")
}

// testPidOne: the program is pid 1 of a pid namespace of its own.
func testPidOne(t *testing.T, h *harness) {
	out, st := h.run(sh("echo $$; ls /proc | grep -c '^[0-9]'"), nil)
	wantStatus(t, st, 0, 0)
	got := lines(out)
	if len(got) != 2 || got[0] != "1" {
		t.Fatalf("output = %q, want pid 1 and a process count", got)
	}
	// sh, ls and grep: a few, not the host's.
	if n, _ := strconv.Atoi(got[1]); n > 5 {
		t.Errorf("%d processes visible in the container's /proc, want the container's few", n)
	}
}

// testNetwork: a network namespace of its own with only the loopback
// interface, up.
func testNetwork(t *testing.T, h *harness) {
	out, st := h.run(sh("ls /sys/class/net; cat /sys/class/net/lo/flags"), nil)
	wantStatus(t, st, 0, 0)
	got := lines(out)
	if len(got) != 2 || got[0] != "lo" {
		t.Fatalf("interfaces and lo's flags = %q, want only lo", got)
	}
	flags, err := strconv.ParseUint(got[1], 0, 64)
	if err != nil || flags&syscall.IFF_UP == 0 {
		t.Errorf("lo flags = %q, want IFF_UP set", got[1])
	}
}

func testExitCodes(t *testing.T, h *harness) {
	for _, tc := range []struct {
		name, script string
		code         int
	}{
		{"Zero", "true", 0},
		{"Three", "exit 3", 3},
		{"ShellCommandNotFound", "no-such-command", 127},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, st := (&harness{t: t, rt: h.rt}).run(sh(tc.script), nil)
			wantStatus(t, st, tc.code, 0)
		})
	}
}

// testMissingProgram: a program that does not exist fails Start with
// errdefs.ErrInvalid and a message naming it (Docker's exit code 127 case),
// leaving nothing behind.
func testMissingProgram(t *testing.T, h *harness) {
	for _, tc := range []struct{ name, prog string }{
		{"Name", "no-such-program"},
		{"Path", "/no/such/program"},
		{"NotExecutable", "/etc/passwd"}, // Docker's 126
		{"Directory", "/tmp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &harness{t: t, rt: h.rt}
			c := h.bundle(runtime.SpecOptions{Args: []string{tc.prog}}, nil)
			p, err := c.tryStart(nil)
			if err == nil {
				st := wait(t, p)
				t.Fatalf("Start of %s succeeded (exit status %+v), want an error", tc.prog, st)
			}
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("Start error %q is of class %v, want errdefs.ErrInvalid", err, errdefs.Class(err))
			}
			if msg := err.Error(); !strings.Contains(msg, "executable file not found in $PATH") && !strings.Contains(msg, tc.prog) {
				t.Errorf("Start error %q names neither the program nor `executable file not found in $PATH`", msg)
			}
			if dirs := cgroupDirs(c.spec.Linux.CgroupsPath); len(dirs) > 0 {
				t.Errorf("failed Start left cgroups %q", dirs)
			}
		})
	}
}

func testMissingBundle(t *testing.T, h *harness) {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	id := NewID()
	p, err := h.rt.Start(ctx, runtime.Container{ID: id, Bundle: filepath.Join(t.TempDir(), "none")})
	if err == nil {
		stop(t, p)
		t.Fatal("Start of a missing bundle succeeded")
	}
	if !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Start error %q is of class %v, want errdefs.ErrNotFound", err, errdefs.Class(err))
	}
	if err := h.rt.Delete(ctx, id); err != nil {
		t.Errorf("Delete after a failed Start: %v", err)
	}
}

// testDuplicateID: a second container with the id of a running one fails
// with errdefs.ErrAlreadyExists and leaves the first one alone.
func testDuplicateID(t *testing.T, h *harness) {
	in, feed := pipe(t)
	first := h.bundle(sh("echo ready; read x; echo first done"), nil)
	p := first.start(in)
	first.waitOutput("ready")
	second := h.bundle(runtime.SpecOptions{ID: first.id, Args: []string{"true"}}, nil)
	if q, err := second.tryStart(nil); err == nil {
		st := wait(t, q)
		t.Fatalf("second Start with id %s succeeded (exit status %+v)", first.id, st)
	} else if !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Errorf("second Start error %q is of class %v, want errdefs.ErrAlreadyExists", err, errdefs.Class(err))
	}
	if err := p.Signal(0); err != nil {
		t.Fatalf("the first container does not run any more: %v", err)
	}
	feed.Close()
	wantStatus(t, wait(t, p), 0, 0)
	wantLines(t, first.out(), "ready", "first done")
}

func testSignalKill(t *testing.T, h *harness) {
	c := h.bundle(sh("echo ready; while :; do sleep 1; done"), nil)
	p := c.start(nil)
	c.waitOutput("ready")
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("Signal(SIGKILL): %v", err)
	}
	wantStatus(t, c.wait(), 137, syscall.SIGKILL)
}

// testSignalTermTrapped: a pid 1 that handles SIGTERM ends as it chooses.
func testSignalTermTrapped(t *testing.T, h *harness) {
	c := h.bundle(sh(`trap "exit 42" TERM; echo ready; while :; do sleep 0.1; done`), nil)
	p := c.start(nil)
	c.waitOutput("ready")
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("Signal(SIGTERM): %v", err)
	}
	wantStatus(t, c.wait(), 42, 0)
}

// testSignalTermIgnored: the kernel drops a signal to a pid 1 that has no
// handler for it (SIGKILL and SIGSTOP aside), as Docker users know from
// `docker stop` waiting 10 seconds.
func testSignalTermIgnored(t *testing.T, h *harness) {
	in, feed := pipe(t)
	c := h.bundle(sh("echo ready; read x; echo still here; exit 5"), nil)
	p := c.start(in)
	c.waitOutput("ready")
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("Signal(SIGTERM): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if st, err := p.Wait(ctx); err == nil {
		t.Fatalf("SIGTERM ended pid 1 without a handler: %+v", st)
	}
	if _, err := feed.WriteString("go\n"); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, c.wait(), 5, 0)
	wantLines(t, c.out(), "ready", "still here")
}

func testSignalAfterExit(t *testing.T, h *harness) {
	c := h.bundle(runtime.SpecOptions{Args: []string{"true"}}, nil)
	p := c.start(nil)
	c.wait()
	err := p.Signal(syscall.SIGTERM)
	if !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("Signal after exit = %v, want an error wrapping os.ErrProcessDone", err)
	}
}

// testWaitMany: every waiter sees the same status.
func testWaitMany(t *testing.T, h *harness) {
	c := h.bundle(sh("sleep 0.2; exit 7"), nil)
	p := c.start(nil)
	const n = 4
	got := make([]runtime.ExitStatus, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), Timeout)
			defer cancel()
			got[i], errs[i] = p.Wait(ctx)
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("waiter %d: %v", i, errs[i])
		}
		if got[i] != got[0] {
			t.Errorf("waiter %d got %+v, waiter 0 %+v", i, got[i], got[0])
		}
	}
	wantStatus(t, got[0], 7, 0)
}

// testStdio: stdin piped in, stdout and stderr kept apart; no stdin is
// /dev/null.
func testStdio(t *testing.T, h *harness) {
	t.Run("Piped", func(t *testing.T) {
		h := &harness{t: t, rt: h.rt}
		in, feed := pipe(t)
		c := h.bundle(sh("cat; echo to-stderr >&2"), nil)
		c.start(in)
		in.Close() // the container has its copy
		if _, err := feed.WriteString("hello\nworld\n"); err != nil {
			t.Fatal(err)
		}
		feed.Close()
		wantStatus(t, c.wait(), 0, 0)
		if got := c.out(); got != "hello\nworld\n" {
			t.Errorf("stdout = %q, want the input", got)
		}
		if got := c.errOut(); got != "to-stderr\n" {
			t.Errorf("stderr = %q, want to-stderr", got)
		}
	})
	t.Run("NoStdin", func(t *testing.T) {
		h := &harness{t: t, rt: h.rt}
		c := h.bundle(sh("cat; echo eof"), nil)
		c.start(nil)
		wantStatus(t, c.wait(), 0, 0)
		wantLines(t, c.out(), "eof")
	})
}

// readConsole reads the terminal's master until the slave side is gone
// (EIO) and returns a function waiting for all of it.
func readConsole(t *testing.T, f *os.File) func() string {
	var buf strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(&buf, f)
	}()
	return func() string {
		t.Helper()
		select {
		case <-done:
		case <-time.After(Timeout):
			t.Fatal("the terminal's output does not end")
		}
		return buf.String()
	}
}

// ptyName matches what tty prints on a pseudo-terminal.
var ptyName = regexp.MustCompile(`(?m)^/dev/pts/[0-9]+\r?$`)

// testTerminal: a terminal replaces the Stdio files: tty sees a pty, and
// the input and output go through its master.
func testTerminal(t *testing.T, h *harness) {
	opts := sh(`tty; echo TERM=$TERM; read x; echo "got:$x"`)
	opts.Terminal = true
	c := h.bundle(opts, nil)
	p := c.start(nil)
	console := p.Console()
	if console == nil {
		t.Fatal("Console() is nil for a process.terminal spec")
	}
	output := readConsole(t, console)
	if _, err := console.Write([]byte("typed\n")); err != nil {
		t.Fatalf("write to the console: %v", err)
	}
	wantStatus(t, c.wait(), 0, 0)
	out := output()
	if !ptyName.MatchString(out) {
		t.Errorf("tty did not print a /dev/pts/N: %q", out)
	}
	for _, want := range []string{"TERM=xterm", "got:typed"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output %q lacks %q", out, want)
		}
	}
	if got := c.out() + c.errOut(); got != "" {
		t.Errorf("the Stdio files got %q; a terminal replaces them", got)
	}
}
