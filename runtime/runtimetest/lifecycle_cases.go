//go:build linux

package runtimetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The container's life: exec, pause and resume, delete; and what is left.

// waiting starts a container that says ready and runs until its stdin
// ends; closing the returned file ends it.
func (h *harness) waiting(opts runtime.SpecOptions) (*ctr, *os.File) {
	h.t.Helper()
	in, feed := pipe(h.t)
	if opts.Args == nil {
		opts.Args = []string{"sh", "-c", "echo ready; read x; exit 0"}
	}
	c := h.bundle(opts, nil)
	c.start(in)
	c.waitOutput("ready")
	return c, feed
}

// exec runs process in c with its output to a file; the process is killed
// and waited for when the case ends.
func (c *ctr) exec(process *specs.Process, stdin *os.File) (runtime.Process, *os.File, error) {
	t := c.h.t
	out, err := os.Create(filepath.Join(t.TempDir(), "exec-output"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	p, err := c.h.rt.Exec(ctx, c.id, runtime.ExecProcess{
		ID: NewID(), Bundle: c.bundle, Pid: c.p.Pid(), Process: process,
		Stdio: runtime.Stdio{Stdin: stdin, Stdout: out, Stderr: out},
	})
	if err != nil {
		return nil, out, err
	}
	t.Cleanup(func() { stop(t, p) })
	return p, out, nil
}

// execProcess is the container's process spec (capabilities, rlimits...)
// with args, as the engine builds an exec's.
func (c *ctr) execProcess(args ...string) *specs.Process {
	p := *c.spec.Process
	p.Args = args
	p.Terminal = false
	return &p
}

// testExec: a second process shares the container's namespaces (it sees
// its pid 1 and hostname) and runs with its own user, cwd and environment.
func testExec(t *testing.T, h *harness) {
	opts := runtime.SpecOptions{Hostname: "exec-host"}
	c, feed := h.waiting(opts)
	proc := c.execProcess("sh", "-c", `echo pid=$$; tr '\0' ' ' < /proc/1/cmdline; echo; hostname; id -u; id -g; pwd; echo FOO=$FOO; exit 4`)
	proc.User = specs.User{UID: 1000, GID: 1000}
	proc.Cwd = "/tmp"
	proc.Env = []string{"PATH=" + runtime.DefaultPathEnv, "FOO=exec"}
	p, out, err := c.exec(proc, nil)
	if err != nil {
		t.Fatalf("Exec: %v", err)
	}
	if p.Pid() <= 0 || p.Pid() == c.p.Pid() {
		t.Errorf("exec Pid() = %d, init's is %d", p.Pid(), c.p.Pid())
	}
	wantStatus(t, wait(t, p), 4, 0)
	got := lines(readFile(t, out.Name()))
	want := []string{"", "sh -c echo ready; read x; exit 0", "exec-host", "1000", "1000", "/tmp", "FOO=exec"}
	if len(got) != len(want) || got[0] == "pid=1" || !strings.HasPrefix(got[0], "pid=") {
		t.Fatalf("exec output = %q, want a pid other than 1, then %q", got, want[1:])
	}
	if strings.Join(got[1:], "\n") != strings.Join(want[1:], "\n") {
		t.Errorf("exec output = %q, want %q", got[1:], want[1:])
	}
	// The container goes on.
	if err := c.p.Signal(0); err != nil {
		t.Errorf("the container stopped with its exec: %v", err)
	}
	feed.Close()
	wantStatus(t, c.wait(), 0, 0)
}

// testExecExitCodes: processes that end at once (before the runtime's
// Exec returns, maybe) report their own exit codes.
func testExecExitCodes(t *testing.T, h *harness) {
	c, feed := h.waiting(runtime.SpecOptions{})
	for _, code := range []int{0, 3, 0, 7} {
		p, _, err := c.exec(c.execProcess("sh", "-c", "exit "+strconv.Itoa(code)), nil)
		if err != nil {
			t.Fatalf("Exec: %v", err)
		}
		wantStatus(t, wait(t, p), code, 0)
	}
	feed.Close()
	wantStatus(t, c.wait(), 0, 0)
}

func testExecTerminal(t *testing.T, h *harness) {
	c, feed := h.waiting(runtime.SpecOptions{})
	proc := c.execProcess("sh", "-c", `tty; read x; echo "got:$x"`)
	proc.Terminal = true
	p, out, err := c.exec(proc, nil)
	if err != nil {
		t.Fatalf("Exec: %v", err)
	}
	console := p.Console()
	if console == nil {
		t.Fatal("Console() is nil for an exec with a terminal")
	}
	output := readConsole(t, console)
	if _, err := console.Write([]byte("typed\n")); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, wait(t, p), 0, 0)
	text := output()
	if !ptyName.MatchString(text) || !strings.Contains(text, "got:typed") {
		t.Errorf("exec terminal output = %q, want a /dev/pts/N and got:typed", text)
	}
	if got := readFile(t, out.Name()); got != "" {
		t.Errorf("the Stdio files got %q; a terminal replaces them", got)
	}
	feed.Close()
	wantStatus(t, c.wait(), 0, 0)
}

func testExecMissingProgram(t *testing.T, h *harness) {
	c, feed := h.waiting(runtime.SpecOptions{})
	p, _, err := c.exec(c.execProcess("no-such-program"), nil)
	if err == nil {
		t.Fatalf("Exec of a missing program succeeded: %+v", wait(t, p))
	}
	if !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("Exec error %q is of class %v, want errdefs.ErrInvalid", err, errdefs.Class(err))
	}
	if msg := err.Error(); !strings.Contains(msg, "executable file not found in $PATH") && !strings.Contains(msg, "no-such-program") {
		t.Errorf("Exec error %q names neither the program nor `executable file not found in $PATH`", msg)
	}
	feed.Close()
	wantStatus(t, c.wait(), 0, 0)
}

// testExecKill: an exec'd process is signalled on its own; its death does
// not end the container.
func testExecKill(t *testing.T, h *harness) {
	c, feed := h.waiting(runtime.SpecOptions{})
	p, out, err := c.exec(c.execProcess("sh", "-c", "echo exec-ready; while :; do sleep 1; done"), nil)
	if err != nil {
		t.Fatalf("Exec: %v", err)
	}
	deadline := time.Now().Add(Timeout)
	for !strings.Contains(readFile(t, out.Name()), "exec-ready") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("Signal: %v", err)
	}
	wantStatus(t, wait(t, p), 137, syscall.SIGKILL)
	if err := p.Signal(syscall.SIGKILL); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("Signal after exit = %v, want os.ErrProcessDone", err)
	}
	if err := c.p.Signal(0); err != nil {
		t.Errorf("the container stopped with its exec: %v", err)
	}
	feed.Close()
	wantStatus(t, c.wait(), 0, 0)
}

// testPauseResume: a counter does not advance while the container is
// paused, and goes on once resumed.
func testPauseResume(t *testing.T, h *harness) {
	c := h.bundle(sh("i=0; while :; do i=$((i+1)); echo $i; sleep 0.02; done"), nil)
	c.start(nil)
	c.waitOutput("3\n")
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := h.rt.Pause(ctx, c.id); err != nil {
		t.Fatalf("Pause: %v", err)
	}
	if err := h.rt.Pause(ctx, c.id); err != nil {
		t.Errorf("Pause of a paused container: %v", err)
	}
	time.Sleep(50 * time.Millisecond) // what was being written lands
	before := len(lines(c.out()))
	time.Sleep(300 * time.Millisecond)
	if after := len(lines(c.out())); after != before {
		t.Errorf("the counter went from %d to %d while paused", before, after)
	}
	if err := h.rt.Resume(ctx, c.id); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	c.waitOutput(fmt.Sprintf("\n%d\n", before+3))
	// A paused container can be killed and deleted (docker rm -f).
	if err := h.rt.Pause(ctx, c.id); err != nil {
		t.Fatalf("Pause: %v", err)
	}
	if err := h.rt.Delete(ctx, c.id); err != nil {
		t.Fatalf("Delete of a paused container: %v", err)
	}
	if st := c.wait(); st.Code != 137 {
		t.Errorf("exit status after Delete = %+v, want 137", st)
	}
}

// testDeleteAfterWait: Wait leaves no cgroup, and Delete then has nothing
// to do.
func testDeleteAfterWait(t *testing.T, h *harness) {
	c := h.bundle(runtime.SpecOptions{Args: []string{"true"}}, nil)
	c.start(nil)
	if dirs := cgroupDirs(c.spec.Linux.CgroupsPath); len(dirs) == 0 {
		// Only a hint that the cgroup check below means something.
		t.Logf("no cgroup seen under %s while the container ran (it may have ended already)", c.spec.Linux.CgroupsPath)
	}
	wantStatus(t, c.wait(), 0, 0)
	if dirs := cgroupDirs(c.spec.Linux.CgroupsPath); len(dirs) > 0 {
		t.Errorf("cgroups left after Wait: %q", dirs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := h.rt.Delete(ctx, c.id); err != nil {
		t.Errorf("Delete after Wait: %v", err)
	}
}

// testDeleteRunning: Delete kills what runs and removes the cgroup, as
// after a daemon that started the container died; the Process still sees
// the end.
func testDeleteRunning(t *testing.T, h *harness) {
	c, _ := h.waiting(runtime.SpecOptions{})
	if len(cgroupDirs(c.spec.Linux.CgroupsPath)) == 0 {
		t.Fatalf("no cgroup at %s while the container runs", c.spec.Linux.CgroupsPath)
	}
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := h.rt.Delete(ctx, c.id); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if dirs := cgroupDirs(c.spec.Linux.CgroupsPath); len(dirs) > 0 {
		t.Errorf("cgroups left after Delete: %q", dirs)
	}
	if st := c.wait(); st.Code != 137 || st.Signal != syscall.SIGKILL {
		t.Errorf("exit status after Delete = %+v, want 137 by SIGKILL", st)
	}
	if err := c.p.Signal(syscall.SIGTERM); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("Signal after Delete = %v, want os.ErrProcessDone", err)
	}
}

func testDeleteUnknown(t *testing.T, h *harness) {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := h.rt.Delete(ctx, NewID()); err != nil {
		t.Errorf("Delete of a container that never was: %v", err)
	}
}

// testOrphansKilled: when pid 1 ends, so does everything else in the
// container (the kernel kills the pid namespace), and Wait returns then.
func testOrphansKilled(t *testing.T, h *harness) {
	c := h.bundle(sh("sleep 100 & sleep 100 & echo started"), nil)
	c.start(nil)
	t0 := time.Now()
	wantStatus(t, c.wait(), 0, 0)
	if d := time.Since(t0); d > 10*time.Second {
		t.Errorf("Wait returned after %v, with the background sleeps of 100s", d)
	}
	if dirs := cgroupDirs(c.spec.Linux.CgroupsPath); len(dirs) > 0 {
		t.Errorf("cgroups left after Wait: %q", dirs)
	}
}

// testConcurrent: containers started at once each run on their own.
func testConcurrent(t *testing.T, h *harness) {
	const n = 4
	cs := make([]*ctr, n)
	for i := range cs {
		opts := sh("hostname")
		opts.Hostname = "host" + strconv.Itoa(i)
		cs[i] = h.bundle(opts, nil)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() { _, errs[i] = c.tryStart(nil) })
	}
	wg.Wait()
	for i, c := range cs {
		if errs[i] != nil {
			t.Errorf("Start %d: %v", i, errs[i])
			continue
		}
		wantStatus(t, c.wait(), 0, 0)
		wantLines(t, c.out(), "host"+strconv.Itoa(i))
	}
}

// testNoProcessLeft: once every case has ended, the test process has no
// child left, running or unreaped: the runtimes reaped what they adopted.
func testNoProcessLeft(t *testing.T) {
	var left []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		left = children(os.Getpid())
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(left) > 0 {
		t.Errorf("children of the test process left after the suite: %q", left)
	}
}

// children lists the children of pid as "pid state command".
func children(pid int) []string {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []string
	for _, f := range stats {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		j := strings.IndexByte(s, '(')
		if i < 0 || j < 0 {
			continue
		}
		fields := strings.Fields(s[i+1:])
		if len(fields) < 2 || fields[1] != strconv.Itoa(pid) {
			continue
		}
		out = append(out, strings.TrimSpace(s[:j])+" "+fields[0]+" "+s[j+1:i])
	}
	return out
}
