//go:build linux

// Package runtimetest is the conformance suite of runtime.Runtime: what a
// user of a container sees, checked the same way for every runtime (the
// built-in one and runc through runtime/oci), as testing/fstest checks an
// fs.FS and containerd's content testsuite checks a content store.
//
// Entry point: [Run], called from a runtime's tests:
//
//	func TestConformance(t *testing.T) {
//		runtimetest.Run(t, func(t *testing.T) runtime.Runtime { return newRuntime(t) })
//	}
//
// The suite builds its bundles itself, with runtime.Spec and
// runtime.WriteBundle, in a rootfs made of the host's static busybox
// ([NewBundle]); where runtime.SpecOptions has no field for what a case
// needs (resource limits), the case edits the spec before writing it: the
// bundle is the contract. It needs root, cgroups and /bin/busybox, and
// skips, naming them, without them. The test process becomes a child
// subreaper ([SetSubreaper]).
package runtimetest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/enginefs/enginefs/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Timeout bounds every runtime call of the suite and every wait for a
// container to say something.
const Timeout = 30 * time.Second

// testCase is one behaviour of the suite.
type testCase struct {
	name string
	run  func(t *testing.T, h *harness)
}

// cases is the table of the suite, in the order it runs them.
var cases = []testCase{
	{"Env", testEnv},
	{"EnvPathLookup", testEnvPathLookup},
	{"UserRoot", testUserRoot},
	{"User", testUser},
	{"Cwd", testCwd},
	{"Hostname", testHostname},
	{"PidOne", testPidOne},
	{"NetworkLoopbackOnly", testNetwork},
	{"ExitCodes", testExitCodes},
	{"MissingProgram", testMissingProgram},
	{"MissingBundle", testMissingBundle},
	{"DuplicateID", testDuplicateID},
	{"SignalKill", testSignalKill},
	{"SignalTermTrapped", testSignalTermTrapped},
	{"SignalTermPid1Ignored", testSignalTermIgnored},
	{"SignalAfterExit", testSignalAfterExit},
	{"WaitMany", testWaitMany},
	{"Stdio", testStdio},
	{"Terminal", testTerminal},
	{"CapabilitiesRoot", testCapabilitiesRoot},
	{"CapabilitiesUser", testCapabilitiesUser},
	{"MaskedPaths", testMaskedPaths},
	{"SysReadonly", testSysReadonly},
	{"ReadonlyRootfs", testReadonlyRootfs},
	{"Devices", testDevices},
	{"CustomDevices", testCustomDevices},
	{"HostNamespaces", testHostNamespaces},
	{"CgroupNamespace", testCgroupNamespace},
	{"NoNewPrivileges", testNoNewPrivileges},
	{"SeccompDefault", testSeccompDefault},
	{"SeccompUnconfined", testSeccompUnconfined},
	{"SeccompProfile", testSeccompProfile},
	{"SeccompExec", testSeccompExec},
	{"Rlimits", testRlimits},
	{"Umask", testUmask},
	{"Cgroup", testCgroup},
	{"PidsLimit", testPidsLimit},
	{"MemoryLimit", testMemoryLimit},
	{"OOMKilled", testOOMKilled},
	{"Exec", testExec},
	{"ExecExitCodes", testExecExitCodes},
	{"ExecTerminal", testExecTerminal},
	{"ExecMissingProgram", testExecMissingProgram},
	{"ExecKill", testExecKill},
	{"PauseResume", testPauseResume},
	{"DeleteAfterWait", testDeleteAfterWait},
	{"DeleteRunning", testDeleteRunning},
	{"DeleteUnknown", testDeleteUnknown},
	{"OrphansKilled", testOrphansKilled},
	{"Concurrent", testConcurrent},
}

// Run runs the suite: one subtest per behaviour, each with a runtime from
// newRuntime (which may skip), then a check that no process of the suite
// is left, running or unreaped. Every container a case makes is killed,
// waited for and deleted when the case ends, pass or fail, and a cgroup
// left behind is reported and removed.
func Run(t *testing.T, newRuntime func(t *testing.T) runtime.Runtime) {
	NeedContainers(t)
	SetSubreaper(t)
	parents := missingCgroupParents()
	t.Cleanup(func() {
		for _, p := range parents {
			_ = os.Remove(p) // only when empty; others may use it meanwhile
		}
	})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, &harness{t: t, rt: newRuntime(t)})
		})
	}
	t.Run("NoProcessLeft", testNoProcessLeft)
}

// harness runs containers for one case.
type harness struct {
	t  *testing.T
	rt runtime.Runtime
}

// ctr is a container of a case: its bundle, and once started its process
// and the files its output goes to.
type ctr struct {
	h      *harness
	id     string
	bundle string
	spec   *specs.Spec
	p      runtime.Process
	stdout *os.File
	stderr *os.File
}

// bundle writes a bundle for opts and edit (see NewBundle). When the case
// ends the container is deleted, and no cgroup may be left.
func (h *harness) bundle(opts runtime.SpecOptions, edit func(*specs.Spec)) *ctr {
	h.t.Helper()
	if opts.ID == "" {
		opts.ID = NewID()
	}
	dir, s := NewBundle(h.t, opts, edit)
	c := &ctr{h: h, id: opts.ID, bundle: dir, spec: s}
	h.t.Cleanup(c.cleanup)
	return c
}

// cleanup deletes the container and checks that its cgroup went, removing
// what is left.
func (c *ctr) cleanup() {
	t := c.h.t
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := c.h.rt.Delete(ctx, c.id); err != nil {
		t.Errorf("cleanup: Delete(%s): %v", c.id, err)
	}
	for _, d := range cgroupDirs(c.spec.Linux.CgroupsPath) {
		t.Errorf("cleanup: cgroup %s left behind after Delete", d)
		removeCgroup(t, d)
	}
}

// removeCgroup kills what runs in the cgroup directory d and removes it.
func removeCgroup(t *testing.T, d string) {
	for i := 0; i < 200; i++ {
		data, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		pids := strings.Fields(string(data))
		if len(pids) == 0 {
			break
		}
		for _, p := range pids {
			if pid, err := strconv.Atoi(p); err == nil {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := 0; i < 100; i++ {
		if err := unix.Rmdir(d); err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("cleanup: cannot remove cgroup %s", d)
}

// tryStart starts the container with its stdout and stderr going to files
// of the case, and stdin (nil for /dev/null). A started container is killed
// and waited for when the case ends.
func (c *ctr) tryStart(stdin *os.File) (runtime.Process, error) {
	t := c.h.t
	dir := t.TempDir()
	var err error
	if c.stdout, err = os.Create(filepath.Join(dir, "stdout")); err != nil {
		return nil, err
	}
	if c.stderr, err = os.Create(filepath.Join(dir, "stderr")); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.stdout.Close(); c.stderr.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	p, err := c.h.rt.Start(ctx, runtime.Container{
		ID: c.id, Bundle: c.bundle,
		Stdio: runtime.Stdio{Stdin: stdin, Stdout: c.stdout, Stderr: c.stderr},
	})
	if err != nil {
		return nil, err
	}
	c.p = p
	t.Cleanup(func() { stop(t, p) })
	return p, nil
}

// start is tryStart failing the case on error.
func (c *ctr) start(stdin *os.File) runtime.Process {
	c.h.t.Helper()
	p, err := c.tryStart(stdin)
	if err != nil {
		c.h.t.Fatalf("Start: %v", err)
	}
	return p
}

// stop kills p and waits for it, for the end of a case.
func stop(t *testing.T, p runtime.Process) {
	_ = p.Signal(syscall.SIGKILL)
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if _, err := p.Wait(ctx); err != nil {
		t.Errorf("cleanup: Wait: %v", err)
	}
	if f := p.Console(); f != nil {
		f.Close()
	}
}

// wait waits for the container's process.
func (c *ctr) wait() runtime.ExitStatus {
	c.h.t.Helper()
	return wait(c.h.t, c.p)
}

func wait(t *testing.T, p runtime.Process) runtime.ExitStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	st, err := p.Wait(ctx)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return st
}

// out and errOut return what the container wrote so far.
func (c *ctr) out() string    { return readFile(c.h.t, c.stdout.Name()) }
func (c *ctr) errOut() string { return readFile(c.h.t, c.stderr.Name()) }

func readFile(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// waitOutput waits until the container's stdout holds s.
func (c *ctr) waitOutput(s string) {
	c.h.t.Helper()
	deadline := time.Now().Add(Timeout)
	for !strings.Contains(c.out(), s) {
		if time.Now().After(deadline) {
			c.h.t.Fatalf("no %q in the output after %v; stdout %q, stderr %q", s, Timeout, c.out(), c.errOut())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// run runs a container to its end and returns its stdout and status.
func (h *harness) run(opts runtime.SpecOptions, edit func(*specs.Spec)) (string, runtime.ExitStatus) {
	h.t.Helper()
	c := h.bundle(opts, edit)
	c.start(nil)
	st := c.wait()
	if errOut := c.errOut(); errOut != "" {
		h.t.Logf("stderr: %s", errOut)
	}
	return c.out(), st
}

// sh runs script with sh -c.
func sh(script string) runtime.SpecOptions {
	return runtime.SpecOptions{Args: []string{"sh", "-c", script}}
}

// lines splits output into trimmed non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// wantLines fails unless output is exactly the lines want.
func wantLines(t *testing.T, output string, want ...string) {
	t.Helper()
	got := lines(output)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("output lines = %q, want %q", got, want)
	}
}

// wantStatus fails unless st has the code and signal, and is not an OOM
// kill.
func wantStatus(t *testing.T, st runtime.ExitStatus, code int, sig syscall.Signal) {
	t.Helper()
	if st.Code != code || st.Signal != sig || st.OOMKilled {
		t.Errorf("exit status = %+v, want code %d signal %d, not OOM-killed", st, code, sig)
	}
	if st.ExitedAt.IsZero() {
		t.Errorf("exit status %+v has no ExitedAt", st)
	}
}

// pipe returns a pipe whose ends are closed when the case ends.
func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}
