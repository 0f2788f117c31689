package keeper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/enginefs/enginefs/internal/testenv"
	"github.com/enginefs/enginefs/logs"
	"github.com/enginefs/enginefs/runtime"
)

// keeperBin is the enginefs-keeper TestMain builds, with enginefs-init
// beside it (the built-in runtime's child, see NewRuntime); buildErr says
// why there are none.
var (
	keeperBin string
	buildErr  error
)

// TestMain builds the keeper binary, runs the subprocess client of
// TestClientDies when asked to, and removes the cgroup parents the tests
// created.
func TestMain(m *testing.M) {
	if os.Getenv(clientEnv) != "" {
		clientMain()
		return
	}
	dir, err := os.MkdirTemp("", "keeper-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	keeperBin = filepath.Join(dir, BinaryName)
	for _, cmd := range []string{"enginefs-keeper", InitBinaryName} {
		out, err := testenv.GoBuild(context.Background(), filepath.Join(dir, cmd), "github.com/enginefs/enginefs/cmd/"+cmd, cmd == InitBinaryName).CombinedOutput()
		if err != nil && buildErr == nil {
			buildErr = fmt.Errorf("go build cmd/%s: %v\n%s", cmd, err, out)
		}
	}
	var created []string
	hierarchies, _ := filepath.Glob("/sys/fs/cgroup/*/cgroup.procs")
	for _, h := range append(hierarchies, "/sys/fs/cgroup/cgroup.procs") {
		p := filepath.Join(filepath.Dir(h), runtime.CgroupParent)
		if _, err := os.Stat(p); err != nil {
			created = append(created, p)
		}
	}
	code := m.Run()
	for _, p := range created {
		_ = os.Remove(p) // only if empty
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// needContainers skips a test where containers cannot run, naming what is
// missing, and fails it if the keeper did not build.
func needContainers(tb testing.TB) {
	tb.Helper()
	testenv.NeedContainers(tb)
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
}

// applets are linked to busybox in the test rootfs.
var applets = []string{"sh", "echo", "sleep", "usleep", "cat", "tty", "stty", "seq", "true", "false", "kill", "ls", "ps"}

// rootfs returns a busybox rootfs, made once per test.
func rootfs(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "rootfs")
	for _, d := range []string{"bin", "etc", "proc", "sys", "dev", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	data, err := os.ReadFile("/bin/busybox")
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/busybox"), data, 0o755); err != nil {
		tb.Fatal(err)
	}
	for _, a := range applets {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", a)); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// bundle writes a busybox bundle running args, with a terminal if asked.
func bundle(tb testing.TB, id string, terminal bool, args ...string) string {
	tb.Helper()
	return bundleWith(tb, rootfs(tb), id, terminal, args...)
}

// bundleWith writes a bundle of container id whose root is the rootfs at
// root, which bundles can share.
func bundleWith(tb testing.TB, root, id string, terminal bool, args ...string) string {
	tb.Helper()
	dir := tb.TempDir()
	s, err := runtime.Spec(runtime.SpecOptions{ID: id, Args: args, Terminal: terminal})
	if err != nil {
		tb.Fatal(err)
	}
	s.Root.Path = root
	if err := runtime.WriteBundle(dir, s); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// startKeeper connects to a fresh keeper (started by Connect from the test
// binary) in a temporary run directory. At the end of the test it kills
// and forgets whatever the keeper still runs or remembers, and checks that
// the keeper then exits idle and leaves no socket or pid file; a keeper
// that does not is killed.
func startKeeper(t *testing.T, runtimes map[string]string) (*Client, Options) {
	t.Helper()
	return startKeeperBinary(t, keeperBin, runtimes)
}

// startKeeperBinary is startKeeper with the keeper binary bin.
func startKeeperBinary(t *testing.T, bin string, runtimes map[string]string) (*Client, Options) {
	t.Helper()
	needContainers(t)
	opts := Options{Binary: bin, RunDir: shortTempDir(t), Runtimes: runtimes, Idle: 300 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Connect(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	first := c.Pid()
	t.Cleanup(func() {
		// The keeper of the end of the test: the first, or one that a
		// client started after it.
		pids := []int{first, c.Pid()}
		if b, err := os.ReadFile(filepath.Join(opts.RunDir, PidFileName)); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				pids = append(pids, pid)
			}
		}
		c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if slices.ContainsFunc(pids, alive) {
			if c, err := Connect(ctx, opts); err != nil {
				t.Errorf("cleanup: %v", err)
			} else {
				pids = append(pids, c.Pid())
				drain(ctx, t, c)
				c.Close()
			}
		}
		for _, pid := range pids {
			if !waitGone(pid, 10*time.Second) {
				t.Errorf("keeper %d still runs with nothing to keep: killing it", pid)
				_ = syscall.Kill(pid, syscall.SIGKILL)
				waitGone(pid, 10*time.Second)
			}
		}
		for _, f := range []string{SocketName, PidFileName} {
			if _, err := os.Stat(filepath.Join(opts.RunDir, f)); err == nil {
				t.Errorf("the keeper left %s behind", f)
			}
		}
		b, _ := os.ReadFile(filepath.Join(opts.RunDir, LogFileName))
		if !testenv.CheckOutput(t, "the keeper", b) && t.Failed() {
			t.Logf("keeper.log:\n%s", b)
		}
	})
	return c, opts
}

// drain kills, waits for, forgets and deletes everything c's keeper has.
func drain(ctx context.Context, t *testing.T, c *Client) {
	states, err := c.List(ctx)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	for _, st := range states {
		if st.Running {
			_ = c.Signal(ctx, st.ContainerID, st.ExecID, syscall.SIGKILL)
			if _, err := c.Wait(ctx, st.ContainerID, st.ExecID); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
		_ = c.Forget(ctx, st.ContainerID, st.ExecID)
		if st.ExecID == "" {
			if err := c.Delete(ctx, st.ContainerID); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	}
}

// alive reports whether process pid runs: a zombie does not (the test
// machine's init may be slow to reap the keeper).
func alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// waitGone waits until process pid is gone (reaped by its parent).
func waitGone(pid int, d time.Duration) bool {
	for deadline := time.Now().Add(d); alive(pid); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// readLog reads a log up to its first End: "1:text" per entry, "END".
func readLog(t *testing.T, dir string) string {
	t.Helper()
	r, err := logs.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out []string
	for {
		e, err := r.Next(ctx, true)
		if err == io.EOF {
			return strings.Join(append(out, "END"), " ")
		}
		if err != nil {
			return strings.Join(append(out, err.Error()), " ")
		}
		out = append(out, fmt.Sprintf("%d:%s", e.Stream, e.Data))
	}
}

// logText is the plain text of a log, whatever the streams.
func logText(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, logs.LogName))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitLog waits until the log of dir contains want.
func waitLog(t *testing.T, dir, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(dir, logs.LogName))
		if strings.Contains(string(b), want) {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("log never showed %q; it holds %q", want, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// helloVersion says hello with another protocol version and returns the
// keeper's answer as an error.
func helloVersion(t *testing.T, sock string, version int) error {
	t.Helper()
	nc, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	params, _ := json.Marshal(helloParams{Protocol: version, Build: "test"})
	if err := json.NewEncoder(nc).Encode(request{ID: 1, Method: mHello, Params: params}); err != nil {
		t.Fatal(err)
	}
	var resp response
	if err := json.NewDecoder(nc).Decode(&resp); err != nil {
		t.Fatal(err)
	}
	if resp.Error == nil {
		return errors.New("accepted")
	}
	return resp.Error.err()
}

// The subprocess client of TestClientDies: it starts a container and
// waits to be killed.
const clientEnv = "KEEPER_TEST_CLIENT"

func clientMain() {
	var a struct {
		Opts Options
		Req  StartRequest
	}
	if err := json.Unmarshal([]byte(os.Getenv(clientEnv)), &a); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Connect(ctx, a.Opts)
	if err == nil {
		_, err = c.Start(ctx, a.Req)
	}
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	// Calls in progress when the kill comes.
	go c.Wait(context.Background(), a.Req.ID, "")
	go c.WriteStdin(context.Background(), a.Req.ID, "", make([]byte, 1<<20))
	fmt.Println("started")
	select {}
}
