//go:build linux

package builtin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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

func TestOutputAndExitCodes(t *testing.T) {
	r := newRuntime(t)
	for _, tc := range []struct {
		name string
		args []string
		out  string
		code int
	}{
		{"echo", []string{"echo", "hello", "world"}, "hello world\n", 0},
		{"exit 3", []string{"sh", "-c", "echo before; exit 3"}, "before\n", 3},
		{"false", []string{"false"}, "", 1},
		{"stderr too", []string{"sh", "-c", "echo err >&2"}, "err\n", 0},
		{"absolute path", []string{"/bin/echo", "abs"}, "abs\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, st := run(t, r, runtime.SpecOptions{Args: tc.args}, nil)
			if out != tc.out || st.Code != tc.code || st.Signal != 0 {
				t.Errorf("got %q, code %d, signal %d; want %q, code %d", out, st.Code, st.Signal, tc.out, tc.code)
			}
			if st.ExitedAt.IsZero() || time.Since(st.ExitedAt) > time.Minute {
				t.Errorf("ExitedAt = %v", st.ExitedAt)
			}
		})
	}
}

func TestSignalKill(t *testing.T) {
	r := newRuntime(t)
	id, bundle := newBundle(t, runtime.SpecOptions{Args: []string{"sleep", "1000"}}, nil)
	p, _ := start(t, r, id, bundle, nil)
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	st := wait(t, p)
	if st.Code != 128+9 || st.Signal != syscall.SIGKILL || st.OOMKilled {
		t.Errorf("status = %+v, want code 137 by SIGKILL", st)
	}
	if err := p.Signal(syscall.SIGKILL); !errors.Is(err, errdefs.ErrBusy) {
		t.Errorf("Signal after exit = %v, want ErrBusy", err)
	}
}

func TestPidNamespace(t *testing.T) {
	r := newRuntime(t)
	out, st := run(t, r, sh("echo $$; ps -o pid,comm; true"), nil)
	l := lines(out)
	if st.Code != 0 || len(l) == 0 || l[0] != "1" {
		t.Fatalf("pid of the program = %q (code %d), want 1", out, st.Code)
	}
	// ps lists the shell (pid 1) and itself, nothing of the host.
	var pids []string
	for _, line := range l[2:] {
		pids = append(pids, strings.Fields(line)[0])
	}
	if len(pids) != 2 || pids[0] != "1" {
		t.Errorf("ps shows %v:\n%s", pids, out)
	}
}

func TestHostname(t *testing.T) {
	r := newRuntime(t)
	opts := runtime.SpecOptions{Hostname: "box1", Args: []string{"hostname"}}
	if out, _ := run(t, r, opts, nil); out != "box1\n" {
		t.Errorf("hostname = %q, want box1", out)
	}
	host, _ := os.Hostname()
	if host == "box1" {
		t.Error("the host's hostname changed")
	}
}

func TestNetworkNamespace(t *testing.T) {
	r := newRuntime(t)
	out, st := run(t, r, sh("ls /sys/class/net; cat /sys/class/net/lo/flags"), nil)
	l := lines(out)
	if st.Code != 0 || len(l) != 2 || l[0] != "lo" {
		t.Fatalf("interfaces: %q (code %d), want only lo", out, st.Code)
	}
	flags, err := strconv.ParseUint(strings.TrimPrefix(l[1], "0x"), 16, 32)
	if err != nil || flags&syscall.IFF_UP == 0 {
		t.Errorf("lo flags %s: not up", l[1])
	}
}

func TestRootfs(t *testing.T) {
	r := newRuntime(t)
	// A directory of the host's own root that the rootfs does not have.
	host, err := os.MkdirTemp("/", "enginefs-host-only-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(host)
	out, _ := run(t, r, sh("cat /marker; test -e "+host+" && echo host dir visible; readlink /dev/ptmx; readlink /dev/fd"), nil)
	if want := "rootfs-marker\npts/ptmx\n/proc/self/fd\n"; out != want {
		t.Errorf("output %q, want %q", out, want)
	}
}

func TestEnvCwdUser(t *testing.T) {
	r := newRuntime(t)
	opts := runtime.SpecOptions{
		Args:           []string{"sh", "-c", `echo "$FOO|$HOSTNAME|$PATH"; pwd; id`},
		Env:            []string{"FOO=bar", "PATH=/bin"},
		Hostname:       "h",
		Cwd:            "/srv/app",
		User:           "1000:1001",
		AdditionalGids: []uint32{10},
	}
	out, st := run(t, r, opts, nil)
	want := "bar|h|/bin\n/srv/app\nuid=1000 gid=1001 groups=10\n"
	if st.Code != 0 || out != want {
		t.Errorf("output %q (code %d), want %q", out, st.Code, want)
	}
}

func TestStdin(t *testing.T) {
	r := newRuntime(t)
	in := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(in, []byte("from stdin\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	id, bundle := newBundle(t, runtime.SpecOptions{Args: []string{"cat"}}, nil)
	p, out := start(t, r, id, bundle, f)
	if st := wait(t, p); st.Code != 0 || out() != "from stdin\n" {
		t.Errorf("cat printed %q, code %d", out(), st.Code)
	}
}

func TestExecutableNotFound(t *testing.T) {
	r := newRuntime(t)
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"in PATH", []string{"nosuch"}, `exec: "nosuch": executable file not found in $PATH`},
		{"absolute", []string{"/nosuch"}, `exec: "/nosuch": stat /nosuch: no such file or directory`},
		{"not executable", []string{"/marker"}, `exec: "/marker"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, bundle := newBundle(t, runtime.SpecOptions{Args: tc.args}, nil)
			cg := runtime.CgroupParent + "/" + id
			cleanupCgroup(t, r, cg)
			p, err := r.Start(context.Background(), runtime.Container{ID: id, Bundle: bundle})
			if err == nil {
				p.Signal(syscall.SIGKILL)
				p.Wait(context.Background())
				t.Fatal("Start succeeded")
			}
			if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Start = %v; want ErrInvalid saying %s", err, tc.msg)
			}
			for _, d := range cgroupDirs(r, cg) {
				if _, err := os.Stat(d); !os.IsNotExist(err) {
					t.Errorf("cgroup %s left behind", d)
				}
			}
		})
	}
}

func TestStartErrors(t *testing.T) {
	r := newRuntime(t)
	_, bundle := newBundle(t, runtime.SpecOptions{Args: []string{"true"}}, nil)
	for _, tc := range []struct {
		name   string
		bundle string
		edit   func(*specs.Spec)
		class  error
	}{
		{"missing bundle", filepath.Join(t.TempDir(), "nosuch"), nil, errdefs.ErrNotFound},
		{"missing rootfs", "", func(s *specs.Spec) { s.Root.Path = "/nosuch" }, errdefs.ErrNotFound},
		{"unknown capability", "", func(s *specs.Spec) {
			s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: []string{"CAP_NOSUCH"}}
		}, errdefs.ErrInvalid},
		{"seccomp without an action", "", func(s *specs.Spec) { s.Linux.Seccomp = &specs.LinuxSeccomp{} }, errdefs.ErrInvalid},
		{"seccomp notify", "", func(s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActNotify}
		}, errdefs.ErrInvalid},
		{"user namespace", "", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		}, errdefs.ErrUnavailable},
		{"bind source missing", "", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "/nosuch", Options: []string{"rbind"}})
		}, errdefs.ErrInvalid},
		{"bad cwd", "", func(s *specs.Spec) { s.Process.Cwd = "/marker" }, errdefs.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.bundle
			if b == "" {
				b = filepath.Join(t.TempDir(), "b")
				s, err := runtime.ReadBundle(bundle)
				if err != nil {
					t.Fatal(err)
				}
				s.Root.Path = filepath.Join(bundle, "rootfs")
				tc.edit(s)
				if err := runtime.WriteBundle(b, s); err != nil {
					t.Fatal(err)
				}
			}
			id := newID()
			if s, err := runtime.ReadBundle(b); err == nil {
				cleanupCgroup(t, r, s.Linux.CgroupsPath)
			}
			p, err := r.Start(context.Background(), runtime.Container{ID: id, Bundle: b})
			if err == nil {
				p.Signal(syscall.SIGKILL)
				p.Wait(context.Background())
				t.Fatal("Start succeeded")
			}
			if errdefs.Class(err) != tc.class {
				t.Errorf("Start = %v (class %v), want class %v", err, errdefs.Class(err), tc.class)
			}
		})
	}
}

func TestReadonlyRootfs(t *testing.T) {
	r := newRuntime(t)
	opts := sh("touch /x 2>/dev/null || echo ro; touch /dev/shm/x && echo shm rw")
	opts.ReadonlyRootfs = true
	if out, _ := run(t, r, opts, nil); out != "ro\nshm rw\n" {
		t.Errorf("output %q", out)
	}
}

func TestSecurityParts(t *testing.T) {
	r := newRuntime(t)
	out, _ := run(t, r, sh(`ulimit -n; ulimit -Hn
head -c 1 /proc/version | wc -c
ls /sys/firmware | wc -l
(echo x > /proc/sys/kernel/domainname) 2>/dev/null || echo sys ro
cat /proc/self/status | grep NoNewPrivs`), func(s *specs.Spec) {
		s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200}}
		s.Process.NoNewPrivileges = true
		s.Linux.MaskedPaths = []string{"/proc/version", "/sys/firmware", "/proc/nosuch"}
		s.Linux.ReadonlyPaths = []string{"/proc/sys"}
	})
	l := lines(out)
	want := []string{"100", "200", "0", "0", "sys ro", "NoNewPrivs:\t1"}
	if len(l) == 6 {
		l[5] = strings.Join(strings.Fields(l[5]), "\t")
	}
	if !slices.Equal(l, want) {
		t.Errorf("output %q, want %q", l, want)
	}
}

func TestWaitFromManyGoroutines(t *testing.T) {
	r := newRuntime(t)
	id, bundle := newBundle(t, runtime.SpecOptions{Args: []string{"sh", "-c", "sleep 0.2; exit 7"}}, nil)
	p, _ := start(t, r, id, bundle, nil)
	var wg sync.WaitGroup
	results := make([]runtime.ExitStatus, 5)
	for i := range results {
		wg.Go(func() { results[i] = wait(t, p) })
	}
	wg.Wait()
	for _, st := range results {
		if st != results[0] || st.Code != 7 {
			t.Errorf("statuses %+v", results)
			break
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Wait(ctx); err != nil {
		// Either answer is right for a process that has exited.
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Wait with a cancelled context: %v", err)
		}
	}
}

func TestConcurrentStarts(t *testing.T) {
	r := newRuntime(t)
	const n = 10
	type job struct {
		id, bundle string
	}
	jobs := make([]job, n)
	for i := range jobs {
		jobs[i].id, jobs[i].bundle = newBundle(t, runtime.SpecOptions{Args: []string{"sh", "-c", fmt.Sprintf("echo %d; hostname", i)}}, nil)
	}
	outs := make([]string, n)
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i, j := range jobs {
		// start and wait call t.Fatal, which is for the test's goroutine:
		// collect results instead.
		wg.Go(func() {
			f, err := os.Create(filepath.Join(t.TempDir(), "out"))
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			cleanupCgroup(t, r, runtime.CgroupParent+"/"+j.id)
			p, err := r.Start(context.Background(), runtime.Container{ID: j.id, Bundle: j.bundle, Stdio: runtime.Stdio{Stdout: f, Stderr: f}})
			if err != nil {
				t.Errorf("container %d: %v", i, err)
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			st, err := p.Wait(ctx)
			if err != nil {
				p.Signal(syscall.SIGKILL)
				t.Errorf("container %d: %v", i, err)
				return
			}
			data, _ := os.ReadFile(f.Name())
			outs[i], codes[i] = string(data), st.Code
		})
	}
	wg.Wait()
	for i := range jobs {
		want := fmt.Sprintf("%d\n%s\n", i, jobs[i].id[:min(12, len(jobs[i].id))])
		if outs[i] != want || codes[i] != 0 {
			t.Errorf("container %d: %q code %d, want %q", i, outs[i], codes[i], want)
		}
	}
}

func TestBindMounts(t *testing.T) {
	r := newRuntime(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello"), []byte("hello from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "greeting")
	if err := os.WriteFile(file, []byte("a file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := run(t, r, sh("cat /data/hello /srv/greeting; (touch /data/x) 2>/dev/null || echo data ro; echo rw > /srv/greeting && echo file rw"),
		func(s *specs.Spec) {
			s.Mounts = append(s.Mounts,
				specs.Mount{Destination: "/data", Type: "bind", Source: dir, Options: []string{"rbind", "ro", "nosuid"}},
				specs.Mount{Destination: "/srv/greeting", Type: "bind", Source: file, Options: []string{"bind"}})
		})
	if want := "hello from the host\na file\ndata ro\nfile rw\n"; out != want {
		t.Errorf("output %q, want %q", out, want)
	}
	if data, _ := os.ReadFile(file); string(data) != "rw\n" {
		t.Errorf("the host's file holds %q", data)
	}
}

func TestStartCancelled(t *testing.T) {
	r := newRuntime(t)
	id, bundle := newBundle(t, runtime.SpecOptions{Args: []string{"true"}}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Start(ctx, runtime.Container{ID: id, Bundle: bundle}); !errors.Is(err, context.Canceled) {
		t.Errorf("Start with a cancelled context = %v", err)
	}
}
