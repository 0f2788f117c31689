//go:build linux

package tests

import (
	"context"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/enginefs/enginefs/internal/testenv"
)

// dockerDefaultCapEff is CapEff of a root process with docker's default
// capability set (CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
// NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP).
const dockerDefaultCapEff = "00000000a80425fb"

// TestProcessSettings checks what run's flags change in the container, as a
// user of docker would look at it from inside.
func TestProcessSettings(t *testing.T) {
	d := startDaemon(t)
	run := func(args ...string) string {
		t.Helper()
		return d.mustDctl(append([]string{"run", "--rm"}, args...)...)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"default capabilities", []string{"busybox", "sh", "-c", "grep CapEff /proc/self/status"}, "CapEff:\t" + dockerDefaultCapEff + "\n"},
		{"cap-drop ALL", []string{"--cap-drop", "ALL", "busybox", "sh", "-c", "grep CapEff /proc/self/status"}, "CapEff:\t0000000000000000\n"},
		{"cap-add NET_ADMIN", []string{"--cap-drop", "ALL", "--cap-add", "net_admin", "busybox", "sh", "-c", "grep CapEff /proc/self/status"}, "CapEff:\t0000000000001000\n"},
		{"non-root has no capabilities", []string{"-u", "app", "busybox", "sh", "-c", "grep CapEff /proc/self/status"}, "CapEff:\t0000000000000000\n"},
		{"user and groups", []string{"-u", "1000:1000", "--group-add", "10", "busybox", "id"}, "uid=1000(app) gid=1000(app) groups=10\n"},
		{"no-new-privileges", []string{"--security-opt", "no-new-privileges", "busybox", "sh", "-c", "grep NoNewPrivs /proc/self/status"}, "NoNewPrivs:\t1\n"},
		{"ulimit", []string{"--ulimit", "nofile=100:200", "busybox", "sh", "-c", "ulimit -n; ulimit -Hn"}, "100\n200\n"},
		{"read-only rootfs", []string{"--read-only", "busybox", "sh", "-c", "touch /x 2>&1 || echo refused"}, "touch: /x: Read-only file system\nrefused\n"},
		{"hostname files", []string{"-h", "box", "busybox", "sh", "-c", "cat /etc/hostname; grep -c box /etc/hosts"}, "box\n1\n"},
		{"shm", []string{"--shm-size", "8m", "busybox", "sh", "-c", "df -k /dev/shm | tail -1 | awk '{print $2}'"}, "8192\n"},
		{"workdir and env", []string{"-w", "/tmp/new", "-e", "A=b c", "busybox", "sh", "-c", "pwd; echo $A"}, "/tmp/new\nb c\n"},
		{"masked /proc", []string{"busybox", "sh", "-c", "cat /proc/timer_list | wc -c; echo x > /proc/sysrq-trigger 2>/dev/null || echo ro"}, "0\nro\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := run(c.args...); got != c.want {
				t.Errorf("dctl run --rm %s\n got %q\nwant %q", strings.Join(c.args, " "), got, c.want)
			}
		})
	}
}

// TestLimits checks memory, pids and cpu limits, and the OOM result.
func TestLimits(t *testing.T) {
	d := startDaemon(t)
	t.Run("memory limit visible", func(t *testing.T) {
		got := d.mustDctl("run", "--rm", "-m", "32m", "busybox", "sh", "-c",
			"cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max")
		if got != "33554432\n" {
			t.Errorf("memory limit inside = %q", got)
		}
	})
	t.Run("oom killed", func(t *testing.T) {
		_, _, code := d.dctl("run", "--name", "hog", "-m", "16m", "busybox", "dd", "if=/dev/zero", "of=/dev/null", "bs=128M", "count=1")
		if code != 137 {
			t.Errorf("exit code %d, want 137", code)
		}
		if out := d.mustDctl("inspect", "hog"); !strings.Contains(out, `"OOMKilled": true`) {
			t.Errorf("inspect does not say OOMKilled:\n%s", out)
		}
		if st := d.sh("cat containers/hog/status"); !strings.Contains(st, "oomkilled") {
			t.Errorf("status = %q", st)
		}
		d.mustDctl("rm", "hog")
	})
	t.Run("pids limit", func(t *testing.T) {
		out, _, _ := d.dctl("run", "--rm", "--pids-limit", "5", "busybox", "sh", "-c",
			"for i in 1 2 3 4 5 6 7 8; do sleep 2 & done 2>&1; wait")
		if !strings.Contains(out, "fork") {
			t.Errorf("8 background sleeps under --pids-limit 5 did not fail to fork: %q", out)
		}
	})
	t.Run("cpus", func(t *testing.T) {
		got := d.mustDctl("run", "--rm", "--cpus", "0.5", "busybox", "sh", "-c",
			"cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us 2>/dev/null || cat /sys/fs/cgroup/cpu.max")
		if got != "50000\n100000\n" && got != "50000 100000\n" {
			t.Errorf("cpu quota = %q", got)
		}
	})
}

// TestLifecycle covers stop signals, pause, restart, restart policies and
// exec, through dctl and the tree.
func TestLifecycle(t *testing.T) {
	d := startDaemon(t)
	t.Run("stop signal", func(t *testing.T) {
		d.mustDctl("run", "-d", "--name", "trapper", "--stop-signal", "USR1", "busybox", "sh", "-c",
			`trap "echo got usr1; exit 5" USR1; echo ready; while true; do sleep 0.1; done`)
		waitFor(t, func() bool { return d.mustDctl("logs", "trapper") == "ready\n" })
		start := time.Now()
		d.mustDctl("stop", "trapper")
		if time.Since(start) > 5*time.Second {
			t.Errorf("stop took %v: the stop signal was not delivered", time.Since(start))
		}
		if out := d.mustDctl("wait", "trapper"); out != "5\n" {
			t.Errorf("exit code after stop = %q, want 5", out)
		}
		if logs := d.mustDctl("logs", "trapper"); logs != "ready\ngot usr1\n" {
			t.Errorf("logs = %q", logs)
		}
		d.mustDctl("rm", "trapper")
	})
	t.Run("pause and resume", func(t *testing.T) {
		d.createSh("ticker", "", counter)
		d.mustDctl("start", "ticker")
		time.Sleep(200 * time.Millisecond)
		d.mustDctl("pause", "ticker")
		if st := d.sh("cat containers/ticker/status"); !strings.HasPrefix(st, "paused ") {
			t.Errorf("status while paused = %q", st)
		}
		n1 := len(d.sh("cat containers/ticker/log"))
		time.Sleep(300 * time.Millisecond)
		if n2 := len(d.sh("cat containers/ticker/log")); n2 != n1 {
			t.Errorf("the log grew from %d to %d bytes while paused", n1, n2)
		}
		if _, errOut, code := d.dctl("exec", "ticker", "true"); code == 0 || !strings.Contains(errOut, "paused") {
			t.Errorf("exec in a paused container: exit %d %q", code, errOut)
		}
		d.mustDctl("unpause", "ticker")
		time.Sleep(200 * time.Millisecond)
		if n3 := len(d.sh("cat containers/ticker/log")); n3 <= n1 {
			t.Errorf("the log did not grow after resume")
		}
		d.mustDctl("rm", "-f", "ticker")
	})
	t.Run("restart", func(t *testing.T) {
		d.mustDctl("run", "-d", "--name", "again", "busybox", "sh", "-c", "echo run; sleep 300")
		d.mustDctl("restart", "-t", "0", "again")
		waitFor(t, func() bool { return d.mustDctl("logs", "again") == "run\nrun\n" })
		if st := d.sh("cat containers/again/status"); !strings.HasPrefix(st, "running ") {
			t.Errorf("again is not running after restart: %q", st)
		}
		d.mustDctl("rm", "-f", "again")
	})
	t.Run("restart policy on-failure", func(t *testing.T) {
		d.mustDctl("run", "-d", "--name", "flaky", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo try; exit 3")
		waitFor(t, func() bool {
			return d.mustDctl("logs", "flaky") == "try\ntry\ntry\n" && strings.HasPrefix(d.sh("cat containers/flaky/status"), "exited code=3")
		})
		if out := d.sh("grep RestartCount containers/flaky/inspect"); !strings.Contains(out, "2") {
			t.Errorf("RestartCount: %s", out)
		}
		d.mustDctl("rm", "flaky")
	})
	t.Run("restart policy always, stopped by the user", func(t *testing.T) {
		d.mustDctl("run", "-d", "--name", "phoenix", "--restart", "always", "busybox", "sh", "-c", "echo up; sleep 0.2")
		waitFor(t, func() bool { return strings.Count(d.mustDctl("logs", "phoenix"), "up") >= 3 })
		d.mustDctl("stop", "-t", "0", "phoenix")
		n := strings.Count(d.mustDctl("logs", "phoenix"), "up")
		time.Sleep(800 * time.Millisecond)
		if m := strings.Count(d.mustDctl("logs", "phoenix"), "up"); m != n {
			t.Errorf("a stopped always-restart container restarted (%d runs, then %d)", n, m)
		}
		d.mustDctl("rm", "phoenix")
	})
	t.Run("exec", func(t *testing.T) {
		d.mustDctl("run", "-d", "--name", "host", "-h", "exechost", "busybox", "sleep", "300")
		out := d.mustDctl("exec", "-e", "X=1", "-w", "/tmp", "-u", "app", "host", "sh", "-c", `echo $X $(pwd) $(hostname) $(id -u); ps -o pid,comm | grep -c sleep`)
		if out != "1 /tmp exechost 1000\n1\n" {
			t.Errorf("exec printed %q", out)
		}
		if _, _, code := d.dctl("exec", "host", "sh", "-c", "exit 9"); code != 9 {
			t.Errorf("exec exit code %d, want 9", code)
		}
		if out := d.mustDctl("top", "host"); !strings.Contains(out, "PID") || !strings.Contains(out, "sleep 300") {
			t.Errorf("top:\n%s", out)
		}
		if out := d.mustDctl("stats", "--no-stream", "host"); !strings.Contains(out, "MEM USAGE / LIMIT") || !regexp.MustCompile(`host +[0-9.]+% +[0-9.]+[KMG]iB / `).MatchString(out) {
			t.Errorf("stats:\n%s", out)
		}
		// The same through the tree: exec/clone, create, start, wait, stdout.
		got := d.sh(`exec 3<> containers/host/exec/clone; read n <&3; echo "create -- hostname" >&3; echo start >&3; ` +
			`cat containers/host/exec/$n/wait containers/host/exec/$n/stdout containers/host/exec/$n/status`)
		if got != "0\nexechost\nexited code=0\n" {
			t.Errorf("exec through the tree: %q", got)
		}
		d.mustDctl("rm", "-f", "host")
	})
}

// TestAttach covers stdin, the stdout/stderr streams and terminals.
func TestAttach(t *testing.T) {
	d := startDaemon(t)
	t.Run("stdin through the tree", func(t *testing.T) {
		d.sh("echo 'create name=upper image=busybox stdin=true stdin-once=true -- tr a-z A-Z' > containers/ctl")
		got := d.sh(`cat containers/upper/stdout > /tmp/upper.$$ & echo start > containers/upper/ctl; ` +
			`echo hello > containers/upper/stdin; cat containers/upper/wait; wait; cat /tmp/upper.$$; rm /tmp/upper.$$`)
		if got != "0\nHELLO\n" {
			t.Errorf("got %q", got)
		}
	})
	t.Run("stdout and stderr apart", func(t *testing.T) {
		cmd := exec.Command(bins.dctl, "-H", d.sock, "run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2")
		var o, e strings.Builder
		cmd.Stdout, cmd.Stderr = &o, &e
		if err := cmd.Run(); err != nil || o.String() != "out\n" || e.String() != "err\n" {
			t.Errorf("stdout %q, stderr %q, %v", o.String(), e.String(), err)
		}
	})
	t.Run("run -i pipes stdin", func(t *testing.T) {
		cmd := exec.Command(bins.dctl, "-H", d.sock, "run", "--rm", "-i", "busybox", "wc", "-l")
		cmd.Stdin = strings.NewReader("a\nb\nc\n")
		out, err := cmd.Output()
		if err != nil || strings.TrimSpace(string(out)) != "3" {
			t.Errorf("wc -l of 3 lines: %q, %v", out, err)
		}
	})
	t.Run("run -it on a terminal", func(t *testing.T) {
		cmd := onTerminal(t, d.sock+" run --rm -it busybox sh -c 'tty; stty size; read x; echo got $x; exit 4'", "hi\n")
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		got := strings.ReplaceAll(string(out), "\r", "")
		if code != 4 || !strings.Contains(got, "/dev/pts/0\n") || !strings.Contains(got, "got hi\n") {
			t.Errorf("exit %d, output %q", code, got)
		}
	})
	t.Run("detach keys", func(t *testing.T) {
		cmd := onTerminal(t, d.sock+" run -it --name det busybox sh", "echo before\n", "\x10\x11")
		if err := cmd.Run(); err != nil {
			t.Fatalf("dctl did not detach cleanly: %v", err)
		}
		if st := d.sh("cat containers/det/status"); !strings.HasPrefix(st, "running ") {
			t.Errorf("after detaching the container should run: %q", st)
		}
		d.mustDctl("rm", "-f", "det")
	})
}

// TestRuntimes runs the same container under the built-in runtime and runc.
func TestRuntimes(t *testing.T) {
	testenv.NeedBinary(t, "runc", "runc")
	d := startDaemon(t)
	for _, rt := range []string{"builtin", "runc"} {
		t.Run(rt, func(t *testing.T) {
			out := d.mustDctl("run", "--rm", "--runtime", rt, "-u", "app", "-h", "h-"+rt, "busybox", "sh", "-c",
				"echo $$ $(hostname) $(id -u); grep CapEff /proc/self/status; exit 0")
			if want := "1 h-" + rt + " 1000\nCapEff:\t0000000000000000\n"; out != want {
				t.Errorf("got %q, want %q", out, want)
			}
			d.mustDctl("run", "-d", "--name", "r-"+rt, "--runtime", rt, "busybox", "sleep", "300")
			if out := d.mustDctl("exec", "r-"+rt, "sh", "-c", "echo $$"); out == "" {
				t.Errorf("exec under %s printed nothing", rt)
			}
			if out := d.sh("grep '\"Runtime\"' containers/r-" + rt + "/inspect"); !strings.Contains(out, rt) {
				t.Errorf("inspect Runtime: %s", out)
			}
			d.mustDctl("rm", "-f", "r-"+rt)
		})
	}
}

// onTerminal returns dctl -H ARGS run under script(1), which gives it a
// pseudo-terminal, with each input chunk typed 500 ms apart (after dctl has
// set its terminal raw: in cooked mode ^Q would be eaten as flow control).
// It is killed if it runs for more than 30 s.
func onTerminal(t *testing.T, args string, input ...string) *exec.Cmd {
	t.Helper()
	script := testenv.NeedBinary(t, "script", "bsdutils") // gives dctl a terminal
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, script, "-qec", bins.dctl+" -H "+args, "/dev/null")
	r, w := io.Pipe()
	cmd.Stdin = r
	go func() {
		for _, in := range input {
			time.Sleep(500 * time.Millisecond)
			w.Write([]byte(in))
		}
		time.Sleep(2 * time.Second) // then EOF, which script passes on
		w.Close()
	}()
	return cmd
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("condition not met within 10 s")
}
