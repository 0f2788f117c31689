//go:build linux

package builtin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/cgroups/v3"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// runtimes are the built-in runtime of the host and, on a hybrid host, one
// driving the cgroup v2 tree, so that both cgroup paths of Exec and Pause
// run.
func runtimes(t *testing.T) map[string]*Runtime {
	r := newRuntime(t)
	out := map[string]*Runtime{"host": r}
	if cgroups.Mode() == cgroups.Hybrid {
		out["v2 on hybrid"] = &Runtime{bin: r.bin, cg: &cgroupHost{v2: "/sys/fs/cgroup/unified"}}
	}
	return out
}

// sleeper starts a container that sleeps, for processes to be exec'd in.
func sleeper(t testing.TB, r *Runtime, opts runtime.SpecOptions) (id, bundle string, p runtime.Process) {
	t.Helper()
	if opts.Args == nil {
		opts.Args = []string{"sleep", "1000"}
	}
	id, bundle = newBundle(t, opts, nil)
	p, _ = start(t, r, id, bundle, nil)
	return id, bundle, p
}

// execSpec is the process the engine would exec: the container's, with
// other arguments and no terminal.
func execSpec(t testing.TB, bundle string, args ...string) *specs.Process {
	t.Helper()
	s, err := runtime.ReadBundle(bundle)
	if err != nil {
		t.Fatal(err)
	}
	p := *s.Process
	p.Args, p.Terminal = args, false
	return &p
}

// execIn execs e in container id with stdout and stderr going to a file,
// whose content out returns. The process is killed and waited for at the
// end of the test.
func execIn(t *testing.T, r *Runtime, id string, e runtime.ExecProcess) (p runtime.Process, out func() string) {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if e.ID == "" {
		e.ID = "e" + strconv.FormatInt(lastID.Add(1), 10)
	}
	e.Stdio = runtime.Stdio{Stdin: e.Stdio.Stdin, Stdout: f, Stderr: f}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err = r.Exec(ctx, id, e)
	if err != nil {
		t.Fatalf("Exec: %v", err)
	}
	t.Cleanup(func() {
		_ = p.Signal(syscall.SIGKILL)
		wait(t, p)
	})
	return p, func() string {
		data, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
}

func TestExec(t *testing.T) {
	for name, r := range runtimes(t) {
		t.Run(name, func(t *testing.T) {
			id, bundle, init := sleeper(t, r, runtime.SpecOptions{Hostname: "box1"})
			proc := execSpec(t, bundle, "sh", "-c", `echo $$; tr '\0' ' ' < /proc/1/cmdline; echo; hostname
grep NSpid /proc/$$/status; cat /proc/self/cgroup; id; pwd; echo "$FOO"; cat /marker
grep -E 'Cap(Eff|Bnd)' /proc/self/status`)
			proc.User = specs.User{UID: 1000, GID: 1001, AdditionalGids: []uint32{10}}
			proc.Env = append(proc.Env, "FOO=bar")
			proc.Cwd = "/tmp"
			p, out := execIn(t, r, id, runtime.ExecProcess{Bundle: bundle, Pid: init.Pid(), Process: proc})
			if st := wait(t, p); st.Code != 0 {
				t.Fatalf("status %+v: %s", st, out())
			}
			l := lines(out())
			if len(l) < 11 {
				t.Fatalf("output:\n%s", out())
			}
			if l[0] == "1" || l[1] != "sleep 1000" || l[2] != "box1" {
				t.Errorf("pid %s, pid 1 %q, hostname %q; want the container's", l[0], l[1], l[2])
			}
			// The container's /proc knows it by its pid there only.
			if f := strings.Fields(l[3]); len(f) != 2 || f[1] != l[0] {
				t.Errorf("%s; want NSpid %s", l[3], l[0])
			}
			cg := runtime.CgroupParent + "/" + id
			var cgLines []string
			for _, line := range l[4:] {
				if strings.HasPrefix(line, "uid=") {
					break
				}
				cgLines = append(cgLines, line)
				parts := strings.SplitN(line, ":", 3)
				if len(parts) == 3 && (r.cg.v2 != "") == (parts[0] == "0") && parts[2] != cg {
					t.Errorf("in cgroup %s, want %s", line, cg)
				}
			}
			rest := l[4+len(cgLines):]
			want := []string{"uid=1000 gid=1001 groups=10", "/tmp", "bar", "rootfs-marker"}
			if len(rest) < 6 || strings.Join(rest[:4], "|") != strings.Join(want, "|") {
				t.Fatalf("user, cwd, env, root: %q, want %q", rest, want)
			}
			// A non-root user: the bounding set only.
			if got := statusCaps(t, strings.Join(rest[4:], "\n")+"\nCapPrm: 0\nCapInh: 0\nCapAmb: 0\n"); got["CapEff"] != 0 ||
				got["CapBnd"] != capMask(t, runtime.DefaultCapabilities()) {
				t.Errorf("capabilities %x", got)
			}
		})
	}
}

func TestExecNamespacesFromTheHost(t *testing.T) {
	for name, r := range runtimes(t) {
		t.Run(name, func(t *testing.T) {
			id, bundle, init := sleeper(t, r, runtime.SpecOptions{})
			p, _ := execIn(t, r, id, runtime.ExecProcess{Bundle: bundle, Pid: init.Pid(), Process: execSpec(t, bundle, "sleep", "999")})
			status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
			if err != nil {
				t.Fatal(err)
			}
			// NSpid: the host's pid, then the container's (not 1).
			for _, l := range lines(string(status)) {
				if f := strings.Fields(l); len(f) > 0 && f[0] == "NSpid:" {
					if len(f) != 3 || f[1] != strconv.Itoa(p.Pid()) || f[2] == "1" {
						t.Errorf("%s; want NSpid %d and a pid of the container", l, p.Pid())
					}
				}
			}
			for _, ns := range []string{"pid", "mnt", "net", "uts", "ipc", "cgroup"} {
				want, err1 := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", init.Pid(), ns))
				got, err2 := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", p.Pid(), ns))
				if err1 != nil || err2 != nil || got != want {
					t.Errorf("%s namespace %s, want %s (%v %v)", ns, got, want, err1, err2)
				}
			}
			want, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", init.Pid()))
			if got, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", p.Pid())); string(got) != string(want) || len(got) == 0 {
				t.Errorf("cgroups:\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestExecRootSecurity(t *testing.T) {
	r := newRuntime(t)
	id, bundle, init := sleeper(t, r, runtime.SpecOptions{CapDrop: []string{"NET_RAW"}})
	proc := execSpec(t, bundle, "sh", "-c", "cat /proc/self/status; ulimit -n; ulimit -Hn")
	proc.NoNewPrivileges = true
	proc.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 123, Hard: 456}}
	p, out := execIn(t, r, id, runtime.ExecProcess{Bundle: bundle, Pid: init.Pid(), Process: proc})
	wait(t, p)
	caps := statusCaps(t, out())
	want := capMask(t, withoutCaps(runtime.DefaultCapabilities(), "CAP_NET_RAW"))
	if caps["CapEff"] != want || caps["CapBnd"] != want || caps["CapPrm"] != want || caps["CapInh"] != 0 || caps["NoNewPrivs"] != 1 {
		t.Errorf("capabilities %x, want %x with no_new_privs", caps, want)
	}
	if l := lines(out()); len(l) < 2 || l[len(l)-2] != "123" || l[len(l)-1] != "456" {
		t.Errorf("rlimits: %q", l[max(0, len(l)-2):])
	}
}

func TestExecExitCodes(t *testing.T) {
	r := newRuntime(t)
	id, bundle, init := sleeper(t, r, runtime.SpecOptions{})
	for _, tc := range []struct {
		script string
		code   int
		sig    syscall.Signal
	}{
		{"true", 0, 0},
		{"exit 5", 5, 0},
		{"kill -9 $$", 137, syscall.SIGKILL},
	} {
		t.Run(tc.script, func(t *testing.T) {
			p, _ := execIn(t, r, id, runtime.ExecProcess{Bundle: bundle, Pid: init.Pid(), Process: execSpec(t, bundle, "sh", "-c", tc.script)})
			st := wait(t, p)
			if st.Code != tc.code || st.Signal != tc.sig || st.ExitedAt.IsZero() {
				t.Errorf("status %+v, want code %d signal %d", st, tc.code, tc.sig)
			}
			if err := p.Signal(syscall.SIGKILL); !errors.Is(err, os.ErrProcessDone) || !errors.Is(err, errdefs.ErrBusy) {
				t.Errorf("Signal after exit = %v", err)
			}
		})
	}
}

func TestExecErrors(t *testing.T) {
	r := newRuntime(t)
	id, bundle, init := sleeper(t, r, runtime.SpecOptions{})
	ok := execSpec(t, bundle, "true")
	withCwd := func(cwd string) *specs.Process { p := *ok; p.Cwd = cwd; return &p }
	for _, tc := range []struct {
		name  string
		id    string
		e     runtime.ExecProcess
		class error
		msg   string
	}{
		{"not found", id, runtime.ExecProcess{Pid: init.Pid(), Process: execSpec(t, bundle, "nosuch")},
			errdefs.ErrInvalid, `exec: "nosuch": executable file not found in $PATH`},
		{"absolute not found", id, runtime.ExecProcess{Pid: init.Pid(), Process: execSpec(t, bundle, "/bin/nosuch")},
			errdefs.ErrInvalid, `exec: "/bin/nosuch": stat /bin/nosuch: no such file or directory`},
		{"missing cwd", id, runtime.ExecProcess{Pid: init.Pid(), Process: withCwd("/nosuch")}, errdefs.ErrInvalid, "/nosuch"},
		{"relative cwd", id, runtime.ExecProcess{Pid: init.Pid(), Process: withCwd("tmp")}, errdefs.ErrInvalid, "not absolute"},
		{"no args", id, runtime.ExecProcess{Pid: init.Pid(), Process: execSpec(t, bundle)}, errdefs.ErrInvalid, "no program"},
		{"pid of another process", id, runtime.ExecProcess{Pid: os.Getpid(), Process: ok}, errdefs.ErrNotFound, "not in the container's cgroup"},
		{"no such container", "nosuch-" + id, runtime.ExecProcess{Pid: init.Pid(), Process: ok}, errdefs.ErrNotFound, ""},
		{"bad id", "../x", runtime.ExecProcess{Pid: init.Pid(), Process: ok}, errdefs.ErrInvalid, ""},
		{"apparmor", id, runtime.ExecProcess{Pid: init.Pid(), Process: &specs.Process{Args: []string{"true"}, ApparmorProfile: "x"}},
			errdefs.ErrUnavailable, "apparmor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := r.Exec(context.Background(), tc.id, tc.e)
			if err == nil {
				p.Signal(syscall.SIGKILL)
				p.Wait(context.Background())
				t.Fatal("Exec succeeded")
			}
			if !errors.Is(err, tc.class) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Exec = %v; want %v saying %s", err, tc.class, tc.msg)
			}
		})
	}

	t.Run("not a subreaper", func(t *testing.T) {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0); err != nil {
			t.Fatal(err)
		}
		defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
		if _, err := r.Exec(context.Background(), id, runtime.ExecProcess{Pid: init.Pid(), Process: ok}); !errors.Is(err, errdefs.ErrUnavailable) {
			t.Errorf("Exec = %v, want ErrUnavailable", err)
		}
	})

	t.Run("container exited", func(t *testing.T) {
		pid := init.Pid()
		init.Signal(syscall.SIGKILL)
		wait(t, init)
		if _, err := r.Exec(context.Background(), id, runtime.ExecProcess{Pid: pid, Process: ok}); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("Exec = %v, want ErrNotFound", err)
		}
	})
}

func TestExecTerminal(t *testing.T) {
	r := newRuntime(t)
	id, bundle, init := sleeper(t, r, runtime.SpecOptions{})
	proc := execSpec(t, bundle, "sh", "-c", terminalScript)
	proc.Terminal = true
	proc.Env = append(proc.Env, "TERM=xterm")
	p, _ := execIn(t, r, id, runtime.ExecProcess{Bundle: bundle, Pid: init.Pid(), Process: proc})
	checkTerminal(t, p, console(t, p), func(tty string) bool { return strings.HasPrefix(tty, "/dev/pts/") })
}

func TestExecSeenByPs(t *testing.T) {
	r := newRuntime(t)
	id, bundle, init := sleeper(t, r, runtime.SpecOptions{})
	sleep, _ := execIn(t, r, id, runtime.ExecProcess{Bundle: bundle, Pid: init.Pid(), Process: execSpec(t, bundle, "sleep", "999")})
	ps, out := execIn(t, r, id, runtime.ExecProcess{Bundle: bundle, Pid: init.Pid(), Process: execSpec(t, bundle, "ps", "-o", "pid,args")})
	wait(t, ps)
	if !strings.Contains(out(), "sleep 999") || !strings.Contains(out(), "1 sleep 1000") {
		t.Errorf("ps in the container:\n%s", out())
	}
	infos, err := runtime.Processes(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	for _, p := range infos {
		cmds = append(cmds, p.CMD)
		if p.PID == sleep.Pid() && (p.PPID != os.Getpid() || p.User != "root" || p.TTY != "?") {
			t.Errorf("exec'd process: %+v", p)
		}
		if p.PID == init.Pid() && p.PPID != os.Getpid() {
			t.Errorf("init: %+v", p)
		}
	}
	if fmt.Sprint(cmds) != "[sleep 1000 sleep 999]" {
		t.Errorf("Processes: %q, want the init and the exec'd sleep", cmds)
	}
	if err := sleep.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if st := wait(t, sleep); st.Code != 137 {
		t.Errorf("status %+v", st)
	}
}

func TestExecDiesWithContainer(t *testing.T) {
	r := newRuntime(t)
	id, bundle, init := sleeper(t, r, runtime.SpecOptions{})
	p, _ := execIn(t, r, id, runtime.ExecProcess{Bundle: bundle, Pid: init.Pid(), Process: execSpec(t, bundle, "sleep", "999")})
	if err := init.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if st := wait(t, p); st.Code != 137 {
		t.Errorf("exec'd process: %+v", st)
	}
	if st := wait(t, init); st.Code != 137 {
		t.Errorf("init: %+v", st)
	}
	for _, d := range cgroupDirs(r, runtime.CgroupParent+"/"+id) {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("cgroup %s left", d)
		}
	}
}
