package keeper

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/internal/testenv"
	"github.com/enginefs/enginefs/logs"
)

// These tests run busybox containers with the builtin runtime through a
// keeper started from the binary TestMain built: they need root.

func TestOutputAndExitCodes(t *testing.T) {
	c, _ := startKeeper(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name   string
		script string
		kill   syscall.Signal // sent once started
		code   int
		sig    syscall.Signal
		log    string
	}{
		{"streams", "echo out; sleep 0.1; echo err >&2", 0, 0, 0, "1:out\n 2:err\n END"},
		{"exit 3", "exit 3", 0, 3, 0, "END"},
		{"killed", "echo started; sleep 100", syscall.SIGKILL, 137, syscall.SIGKILL, "1:started\n END"},
		{"trapped", "trap 'echo term; exit 9' TERM; echo started; sleep 100 & wait", syscall.SIGTERM, 9, 0, "1:started\n 1:term\n END"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, logDir := newID(), t.TempDir()
			p, err := c.Start(ctx, StartRequest{ID: id, Bundle: bundle(t, id, false, "sh", "-c", tc.script), LogDir: logDir})
			if err != nil {
				t.Fatal(err)
			}
			if p.Pid <= 0 {
				t.Errorf("pid %d", p.Pid)
			}
			if tc.kill != 0 {
				waitLog(t, logDir, "started")
				if err := c.Signal(ctx, id, "", tc.kill); err != nil {
					t.Fatal(err)
				}
			}
			st, err := c.Wait(ctx, id, "")
			if err != nil || st.Code != tc.code || st.Signal != tc.sig {
				t.Errorf("Wait = %+v, %v; want code %d signal %d", st, err, tc.code, tc.sig)
			}
			if got := readLog(t, logDir); got != tc.log {
				t.Errorf("log %q, want %q", got, tc.log)
			}
			if err := c.Forget(ctx, id, ""); err != nil {
				t.Error(err)
			}
			if err := c.Delete(ctx, id); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestStdin(t *testing.T) {
	c, _ := startKeeper(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	id, logDir := newID(), t.TempDir()
	if _, err := c.Start(ctx, StartRequest{ID: id, Bundle: bundle(t, id, false, "cat"), LogDir: logDir, OpenStdin: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteStdin(ctx, id, "", []byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	waitLog(t, logDir, "hello\n") // echoed while cat runs
	if err := c.WriteStdin(ctx, id, "", []byte("bye\n")); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseStdin(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	if st, err := c.Wait(ctx, id, ""); err != nil || st.Code != 0 {
		t.Fatalf("Wait = %+v, %v", st, err)
	}
	if got := logText(t, logDir); got != "hello\nbye\n" {
		t.Errorf("log %q", got)
	}
}

func TestTerminal(t *testing.T) {
	c, _ := startKeeper(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	id, logDir := newID(), t.TempDir()
	if _, err := c.Start(ctx, StartRequest{ID: id, Bundle: bundle(t, id, true, "sh"), LogDir: logDir, OpenStdin: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.Resize(ctx, id, "", 31, 97); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteStdin(ctx, id, "", []byte("tty; stty size; echo $((6*7))\n")); err != nil {
		t.Fatal(err)
	}
	waitLog(t, logDir, "tty; stty size; echo $((6*7))") // the terminal echoes the input
	waitLog(t, logDir, "/dev/pts/")
	waitLog(t, logDir, "31 97")
	waitLog(t, logDir, "42\r\n")
	if err := c.Resize(ctx, id, "", 40, 120); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteStdin(ctx, id, "", []byte("stty size\n")); err != nil {
		t.Fatal(err)
	}
	waitLog(t, logDir, "40 120")
	// ^D at the start of a line ends the shell.
	if err := c.CloseStdin(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	if st, err := c.Wait(ctx, id, ""); err != nil || st.Code != 0 {
		t.Fatalf("Wait = %+v, %v", st, err)
	}
	r, err := logs.Open(logDir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		e, err := r.Next(ctx, false)
		if err != nil {
			break
		}
		if e.Stream != logs.Stdout {
			t.Errorf("terminal output on %v: %q", e.Stream, e.Data)
		}
	}
	if err := c.Resize(ctx, id, "", 1, 1); !errors.Is(err, errdefs.ErrBusy) {
		t.Errorf("Resize after exit: %v, want ErrBusy", err)
	}
}

// counter is a script that prints 0..n-1, one number every 10ms, then
// exits with code.
func counter(n, code int) string {
	return fmt.Sprintf("i=0; while [ $i -lt %d ]; do echo $i; i=$((i+1)); usleep 10000; done; exit %d", n, code)
}

// checkCounter checks that a log holds 0..n-1, each once, in order.
func checkCounter(t *testing.T, dir string, n int) {
	t.Helper()
	got := strings.Fields(logText(t, dir))
	if len(got) != n {
		t.Errorf("log holds %d numbers, want %d", len(got), n)
	}
	for i, s := range got {
		if s != strconv.Itoa(i) {
			t.Fatalf("number %d is %q: a gap or a repeat in %v", i, s, got)
		}
	}
	if !strings.HasSuffix(readLog(t, dir), "END") {
		t.Error("the log has no End")
	}
}

// TestClientDies loses the client while a container writes a counter
// every 10ms: killed with SIGKILL (a subprocess, with calls in progress),
// or closed without cleanup. A new client finds the container running,
// waits for its code, and the log has every number.
func TestClientDies(t *testing.T) {
	for _, how := range []string{"killed", "closed"} {
		t.Run(how, func(t *testing.T) {
			c, opts := startKeeper(t, nil)
			const n = 150
			id, logDir := newID(), t.TempDir()
			req := StartRequest{ID: id, Bundle: bundle(t, id, false, "sh", "-c", counter(n, 7)), LogDir: logDir, OpenStdin: true}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if how == "killed" {
				killedClient(t, opts, req)
			} else {
				if _, err := c.Start(ctx, req); err != nil {
					t.Fatal(err)
				}
				go c.Wait(context.Background(), id, "")
				time.Sleep(300 * time.Millisecond)
				c.Close()
			}
			time.Sleep(200 * time.Millisecond)
			c2, err := Connect(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c2.Close()
			states, err := c2.List(ctx)
			if err != nil || len(states) != 1 || states[0].ContainerID != id || !states[0].Running {
				t.Fatalf("List = %+v, %v; want %s running", states, err, id)
			}
			if st, err := c2.Wait(ctx, id, ""); err != nil || st.Code != 7 {
				t.Fatalf("Wait = %+v, %v; want code 7", st, err)
			}
			checkCounter(t, logDir, n)
		})
	}
}

// killedClient starts req from a subprocess client and kills it with
// SIGKILL while its calls are in progress.
func killedClient(t *testing.T, opts Options, req StartRequest) {
	t.Helper()
	arg, _ := json.Marshal(struct {
		Opts Options
		Req  StartRequest
	}{opts, req})
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), clientEnv+"="+string(arg))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "started\n" {
		t.Fatalf("client: %q", line)
	}
	time.Sleep(300 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

// TestExitWhileDisconnected: a container that exits while no client is
// connected has its status on reconnect, until Forget; then the keeper,
// with nothing left to keep, exits and leaves no socket or pid file.
func TestExitWhileDisconnected(t *testing.T) {
	c, opts := startKeeper(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	id, logDir := newID(), t.TempDir()
	if _, err := c.Start(ctx, StartRequest{ID: id, Bundle: bundle(t, id, false, "sh", "-c", "echo bye; exit 4"), LogDir: logDir}); err != nil {
		t.Fatal(err)
	}
	pid := c.Pid()
	c.Close()
	time.Sleep(4 * opts.Idle) // the keeper stays: it holds a status
	if !alive(pid) {
		t.Fatal("the keeper exited with a status to hand over")
	}
	c2, err := Connect(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if c2.Pid() != pid {
		t.Errorf("reconnected to keeper %d, want %d", c2.Pid(), pid)
	}
	states, err := c2.List(ctx)
	if err != nil || len(states) != 1 || states[0].Running || states[0].Exit.Code != 4 {
		t.Fatalf("List = %+v, %v; want %s exited with 4", states, err, id)
	}
	if st, err := c2.Wait(ctx, id, ""); err != nil || st.Code != 4 {
		t.Errorf("Wait = %+v, %v", st, err)
	}
	if got := readLog(t, logDir); got != "1:bye\n END" {
		t.Errorf("log %q", got)
	}
	if err := c2.Forget(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	if err := c2.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if states, err := c2.List(ctx); err != nil || len(states) != 0 {
		t.Errorf("List after Forget = %+v, %v", states, err)
	}
	c2.Close()
	if !waitGone(pid, 10*time.Second) {
		t.Fatal("the idle keeper does not exit")
	}
	for _, f := range []string{SocketName, PidFileName} {
		if _, err := os.Stat(filepath.Join(opts.RunDir, f)); err == nil {
			t.Errorf("the keeper left %s", f)
		}
	}
}

// TestSecondKeeperRefuses runs the keeper binary on the run directory of
// a running keeper.
func TestSecondKeeperRefuses(t *testing.T) {
	_, opts := startKeeper(t, nil)
	out, err := exec.Command(keeperBin, "--run", opts.RunDir).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "another keeper") {
		t.Errorf("second keeper: %v, %s", err, out)
	}
}

func TestExec(t *testing.T) {
	c, _ := startKeeper(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	id := newID()
	if _, err := c.Start(ctx, StartRequest{ID: id, Bundle: bundle(t, id, false, "sleep", "100"), LogDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		terminal bool
		args     []string
		code     int
		log      []string // what the log holds, each line where it is in its stream
	}{
		// Two pipes: the order between them is the copiers', not the
		// program's, so each line is looked for on its own.
		{"pipes", false, []string{"sh", "-c", "echo exec-out; echo exec-err >&2; exit 5"}, 5, []string{"exec-out\n", "exec-err\n"}},
		{"terminal", true, []string{"tty"}, 0, []string{"/dev/pts/"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logDir := t.TempDir()
			_, err := c.Exec(ctx, ExecRequest{ContainerID: id, ExecID: tc.name, LogDir: logDir, Process: specs.Process{
				Args: tc.args, Cwd: "/", Terminal: tc.terminal, Env: []string{"PATH=/bin"},
			}})
			if err != nil {
				t.Fatal(err)
			}
			if st, err := c.Wait(ctx, id, tc.name); err != nil || st.Code != tc.code {
				t.Fatalf("Wait = %+v, %v; want %d", st, err, tc.code)
			}
			got := logText(t, logDir)
			for _, want := range tc.log {
				if !strings.Contains(got, want) {
					t.Errorf("exec log %q, want %q in it", got, want)
				}
			}
			if err := c.Forget(ctx, id, tc.name); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestPauseResume(t *testing.T) {
	c, _ := startKeeper(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	id, logDir := newID(), t.TempDir()
	if _, err := c.Start(ctx, StartRequest{ID: id, Bundle: bundle(t, id, false, "sh", "-c", counter(100000, 0)), LogDir: logDir}); err != nil {
		t.Fatal(err)
	}
	waitLog(t, logDir, "3\n")
	err := c.Pause(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	before := logText(t, logDir)
	time.Sleep(200 * time.Millisecond)
	if after := logText(t, logDir); after != before {
		t.Errorf("a paused container wrote %q", after[len(before):])
	}
	if err := c.Resume(ctx, id); err != nil {
		t.Fatal(err)
	}
	// It writes again, on a loaded host maybe not at once.
	for deadline := time.Now().Add(10 * time.Second); logText(t, logDir) == before; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a resumed container writes nothing")
		}
	}
}

func TestRunc(t *testing.T) {
	runc := testenv.NeedBinary(t, "runc", "runc")
	c, _ := startKeeper(t, map[string]string{"runc": runc})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	id, logDir := newID(), t.TempDir()
	if _, err := c.Start(ctx, StartRequest{ID: id, Runtime: "runc", Bundle: bundle(t, id, false, "sh", "-c", "echo from runc; echo err >&2; exit 2"), LogDir: logDir}); err != nil {
		t.Fatal(err)
	}
	if st, err := c.Wait(ctx, id, ""); err != nil || st.Code != 2 {
		t.Fatalf("Wait = %+v, %v", st, err)
	}
	// Two pipes, two copiers: the streams' order in the log is the order
	// the keeper read them in, which nothing fixes here.
	if got := readLog(t, logDir); got != "1:from runc\n 2:err\n END" && got != "2:err\n 1:from runc\n END" {
		t.Errorf("log %q", got)
	}
	if err := c.Forget(ctx, id, ""); err != nil {
		t.Error(err)
	}
	if err := c.Delete(ctx, id); err != nil {
		t.Error(err)
	}
}

// TestConnectRace connects many clients at once to a run directory where
// no keeper runs: one keeper starts, and all reach it.
func TestConnectRace(t *testing.T) {
	c, opts := startKeeper(t, nil)
	pid := c.Pid()
	c.Close()
	if !waitGone(pid, 10*time.Second) {
		t.Fatal("the idle keeper does not exit")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 8
	pids := make(chan int, n)
	for range n {
		go func() {
			c, err := Connect(ctx, opts)
			if err != nil {
				t.Error(err)
				pids <- 0
				return
			}
			defer c.Close()
			if _, err := c.List(ctx); err != nil {
				t.Error(err)
			}
			pids <- c.Pid()
		}()
	}
	first := <-pids
	for range n - 1 {
		if p := <-pids; p != first {
			t.Errorf("clients reached keepers %d and %d", first, p)
		}
	}
	if !waitGone(first, 10*time.Second) {
		t.Errorf("keeper %d does not exit idle", first)
		_ = syscall.Kill(first, syscall.SIGKILL)
	}
}

// TestKeeperDies kills the keeper under a client: calls in progress fail
// with ErrUnavailable, and the next call starts a new keeper.
func TestKeeperDies(t *testing.T) {
	c, _ := startKeeper(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pid := c.Pid()
	id := newID()
	if _, err := c.Start(ctx, StartRequest{ID: id, Bundle: bundle(t, id, false, "sleep", "100"), LogDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() {
		_, err := c.Wait(ctx, id, "")
		waited <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := <-waited; !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("Wait when the keeper died: %v, want ErrUnavailable", err)
	}
	waitGone(pid, 10*time.Second)
	// The new keeper does not know the orphan; Delete cleans it up
	// through the runtimes the client knows.
	states, err := c.List(ctx)
	if err != nil || len(states) != 0 {
		t.Fatalf("List from a new keeper = %+v, %v", states, err)
	}
	if c.Pid() == pid {
		t.Error("the client did not reconnect")
	}
	if err := c.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
}
