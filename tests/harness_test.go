//go:build linux

// Package tests holds the end-to-end tests: they build the real binaries,
// start the daemon as root in a temporary directory, and drive it through the
// FUSE mount with shell tools, over 9P with the Go client and Debian's diodcat,
// and with dctl.
package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"

	"github.com/enginefs/enginefs/internal/testenv"
	"github.com/enginefs/enginefs/netdrv"
	"github.com/enginefs/enginefs/netdrv/firewall"
	"github.com/enginefs/enginefs/netdrv/netdrvtest"
	"github.com/enginefs/enginefs/tests/fixture"
)

// bins holds the binaries and the fixture built once by TestMain.
var bins struct {
	dir      string // holds enginefs, enginefs-keeper, enginefs-init and dctl
	enginefs string
	keeper   string
	init     string // the keeper's container init, beside it
	dctl     string
	busybox  string // the busybox image archive
	// missing is the host feature the end-to-end tests cannot run
	// without, if one is missing, and why (testenv.Need's arguments).
	missing struct {
		feature string
		err     error
	}
}

// needDaemon skips t (fails it under CI) when the host lacks what a daemon
// needs.
func needDaemon(t *testing.T) {
	t.Helper()
	if bins.missing.err != nil {
		testenv.Need(t, bins.missing.feature, bins.missing.err)
	}
}

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "enginefs-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		bins.dir = dir
		bins.enginefs = filepath.Join(dir, "enginefs")
		bins.dctl = filepath.Join(dir, "dctl")
		bins.keeper = filepath.Join(dir, "enginefs-keeper")
		bins.init = filepath.Join(dir, "enginefs-init")
		bins.busybox = filepath.Join(dir, "busybox.tar")
		for _, f := range []struct {
			feature string
			check   func() error
		}{
			{"root", testenv.Root}, {"/dev/fuse", testenv.FUSE}, {"overlayfs", testenv.Overlayfs},
			{"a cgroup file system", testenv.Cgroups}, {"Debian's busybox-static", testenv.StaticBusybox},
		} {
			if err := f.check(); err != nil {
				bins.missing.feature, bins.missing.err = f.feature, err
				break
			}
		}
		if bins.missing.err == nil {
			// With -race when the tests have it: the daemon, the keeper
			// and the init are the programs under test.
			for _, b := range []struct {
				out, pkg string
				static   bool
			}{{bins.enginefs, "./cmd/enginefs", false}, {bins.dctl, "./cmd/dctl", false}, {bins.keeper, "./cmd/enginefs-keeper", false}, {bins.init, "./cmd/enginefs-init", true}} {
				cmd := testenv.GoBuild(context.Background(), b.out, b.pkg, b.static)
				cmd.Dir = ".."
				if out, err := cmd.CombinedOutput(); err != nil {
					fmt.Fprintf(os.Stderr, "go build %s: %v\n%s", b.pkg, err, out)
					return 1
				}
			}
			f, err := os.Create(bins.busybox)
			if err == nil {
				err = fixture.Busybox(context.Background(), f)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "building the busybox fixture:", err)
				return 1
			}
		}
		return m.Run()
	}())
}

// logBuffer holds a daemon's output; a test may read it while the daemon
// writes.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// Bytes returns a copy of what was written so far.
func (l *logBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

func (l *logBuffer) String() string { return string(l.Bytes()) }

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// daemon is one enginefs started by a test.
type daemon struct {
	t     *testing.T
	state string
	run   string
	mnt   string
	sock  string // unix:PATH of the 9P socket
	tcp   string // tcp:127.0.0.1:PORT, if asked for
	cmd   *exec.Cmd
	// exited is closed when cmd has exited, with its Wait error in waitErr.
	exited  chan struct{}
	waitErr error
	out     *logBuffer // the daemon's stdout and stderr
	// net are the daemon's networking flags: a bridge and subnets of its
	// own, published ports on loopback, no DNS forwarding to the host.
	net []string
	// readyIn is how long the last start took, from exec to the tree
	// and the 9P socket answering.
	readyIn time.Duration
}

// startDaemon starts enginefs in a temporary directory with its mount, a 9P
// unix socket and optional extra flags, loads the busybox image, and stops it
// (SIGTERM, then SIGKILL) when the test ends.
func startDaemon(t *testing.T, extra ...string) *daemon {
	t.Helper()
	d := newDaemon(t)
	d.start(extra...)
	t.Cleanup(d.teardown)
	d.sh("echo load " + bins.busybox + " > " + d.mnt + "/images/ctl")
	return d
}

// newDaemon lays out a daemon in a temporary directory (base, holding
// state, run and mnt) without starting it; a test that calls start must
// register teardown.
func newDaemon(t *testing.T) *daemon {
	t.Helper()
	needDaemon(t)
	base := t.TempDir()
	d := &daemon{
		t:     t,
		state: filepath.Join(base, "state"),
		run:   filepath.Join(base, "run"),
		mnt:   filepath.Join(base, "mnt"),
		out:   &logBuffer{},
	}
	d.sock = "unix:" + filepath.Join(d.run, "9p.sock")
	d.net = []string{"--bridge-name", netdrvtest.UniqueName("efsb"), "--bridge-subnet", netdrvtest.FreeSubnet(t, 24).String(),
		"--network-pool", netdrvtest.FreeSubnet(t, 20).String(), "--ip", "127.0.0.1", "--dns-forward", "none"}
	return d
}

func (d *daemon) start(extra ...string) {
	d.t.Helper()
	args := append([]string{"--state", d.state, "--run", d.run, "--mount", d.mnt, "--9p", d.sock, "--keeper-idle", "200ms"}, d.net...)
	args = append(args, extra...)
	for i, a := range extra {
		if a == "--9p" && i+1 < len(extra) && strings.HasPrefix(extra[i+1], "tcp:") {
			d.tcp = extra[i+1]
		}
	}
	d.cmd = exec.Command(bins.enginefs, args...)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	begin := time.Now()
	if err := d.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	cmd, exited := d.cmd, make(chan struct{})
	d.exited = exited
	go func() { d.waitErr = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := os.ReadFile(filepath.Join(d.mnt, "version")); err == nil && exists(strings.TrimPrefix(d.sock, "unix:")) {
			d.readyIn = time.Since(begin)
			return
		}
		select {
		case <-d.exited:
			d.cmd = nil
			d.t.Fatalf("enginefs exited (%v) before it came up:\n%s", d.waitErr, d.out)
		default:
		}
		if time.Now().After(deadline) {
			d.stop()
			d.t.Fatalf("enginefs did not come up:\n%s", d.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// teardown removes every container (they would outlive the daemon under the
// keeper), stops the daemon, and waits for the keeper to exit once idle, so
// nothing the test started outlives it.
func (d *daemon) teardown() {
	if d.cmd == nil {
		d.start()
	}
	ls, errOut, err := d.trySh("ls containers")
	if err != nil { // stop the daemon all the same
		d.t.Errorf("teardown: ls containers: %v %s", err, errOut)
	}
	for _, n := range strings.Fields(ls) {
		if len(n) == 64 {
			if _, errOut, err := d.trySh("echo rm force > containers/" + n + "/ctl"); err != nil {
				d.t.Errorf("teardown: rm force %s: %v %s", n[:12], err, errOut)
			}
		}
	}
	bridges := d.bridges()
	d.stop()
	d.checkLinksGone(bridges)
	if pid := d.keeperPid(); pid > 0 {
		for i := 0; i < 500 && syscall.Kill(pid, 0) == nil; i++ {
			time.Sleep(10 * time.Millisecond)
		}
		if syscall.Kill(pid, 0) == nil {
			d.t.Errorf("the keeper (pid %d) did not exit once idle; killing it", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if log, err := os.ReadFile(filepath.Join(d.run, "keeper.log")); err == nil {
		testenv.CheckOutput(d.t, "enginefs-keeper", log)
	}
	if m := append(mountsUnder(d.state), mountsUnder(d.run)...); len(m) > 0 { // rootfs, volumes, namespaces
		d.t.Errorf("mounts left after teardown: %v", m)
		for _, p := range m {
			_ = syscall.Unmount(p, syscall.MNT_DETACH)
		}
	}
}

// bridges returns the names of the bridges of the daemon's bridge
// networks.
func (d *daemon) bridges() []string {
	var out []string
	nets, _, _ := d.trySh("ls networks")
	for _, n := range strings.Fields(nets) {
		var doc struct {
			ID      string `json:"Id"`
			Driver  string
			Options map[string]string
		}
		data, err := os.ReadFile(filepath.Join(d.mnt, "networks", n, "config"))
		if err != nil || json.Unmarshal(data, &doc) != nil || doc.Driver != "bridge" || len(doc.ID) < 12 {
			continue
		}
		if name := doc.Options[netdrv.OptionBridgeName]; name != "" {
			out = append(out, name)
		} else {
			out = append(out, "br-"+doc.ID[:12])
		}
	}
	return out
}

// checkLinksGone reports and removes the bridges a daemon that stopped
// with no container running left behind, and its nftables table.
func (d *daemon) checkLinksGone(bridges []string) {
	for _, name := range bridges {
		if link, err := netlink.LinkByName(name); err == nil {
			d.t.Errorf("bridge %s left after teardown", name)
			_ = netlink.LinkDel(link)
		}
	}
	if conn, err := nftables.New(); err == nil {
		table := &nftables.Table{Name: firewall.TableName(d.run), Family: nftables.TableFamilyINet}
		if _, err := conn.ListTableOfFamily(table.Name, table.Family); err == nil {
			d.t.Errorf("nftables table %s left after teardown", table.Name)
			conn.DelTable(table)
			_ = conn.Flush()
		}
	}
}

// keeperPid returns the pid of the daemon's keeper.
func (d *daemon) keeperPid() int {
	data, _ := os.ReadFile(filepath.Join(d.run, "keeper.pid"))
	var pid int
	fmt.Sscan(string(data), &pid)
	return pid
}

// stop sends SIGTERM and waits; a daemon that does not stop is killed and
// its mount lazily unmounted. The containers go on under the keeper. A
// daemon that exits with a status other than 0, or printed a panic or a
// data race, fails the test.
func (d *daemon) stop() {
	if d.cmd == nil {
		return
	}
	cmd := d.cmd
	d.cmd = nil
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
		if d.waitErr != nil {
			d.t.Errorf("enginefs exited on SIGTERM with %v", d.waitErr)
		}
	case <-time.After(20 * time.Second):
		d.t.Errorf("enginefs did not stop on SIGTERM; killing it\n%s", d.out)
		_ = cmd.Process.Kill()
		<-d.exited
	}
	testenv.CheckOutput(d.t, "enginefs", d.out.Bytes())
	if isMounted(d.mnt) {
		d.t.Errorf("%s is still mounted after the daemon stopped", d.mnt)
		_ = syscall.Unmount(d.mnt, syscall.MNT_DETACH)
	}
	if d.t.Failed() {
		d.t.Logf("daemon output:\n%s", d.out)
	}
}

// kill9 kills the daemon with SIGKILL, as a crash would. Its FUSE mount
// is left behind, dead (ENOTCONN), as a crash leaves it: the next start
// must cope with it on its own.
func (d *daemon) kill9() {
	d.t.Helper()
	_ = d.cmd.Process.Kill()
	<-d.exited
	d.cmd = nil
	testenv.CheckOutput(d.t, "enginefs", d.out.Bytes())
}

// isMounted reports whether path is a mount point in /proc/self/mounts.
func isMounted(path string) bool {
	data, _ := os.ReadFile("/proc/self/mounts")
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == path {
			return true
		}
	}
	return false
}

// mountsUnder lists the mount points below dir.
func mountsUnder(dir string) []string {
	var out []string
	data, _ := os.ReadFile("/proc/self/mounts")
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], dir+"/") {
			out = append(out, f[1])
		}
	}
	return out
}

// sh runs a bash command line in the mount directory and fails the test if
// it fails; it returns stdout.
func (d *daemon) sh(script string) string {
	d.t.Helper()
	out, errOut, err := d.trySh(script)
	if err != nil {
		d.t.Fatalf("sh -c %q: %v\nstdout: %s\nstderr: %s", script, err, out, errOut)
	}
	return out
}

// trySh runs a bash command line in the mount directory.
func (d *daemon) trySh(script string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// bash, not dash: dash reports every failed write as "I/O error"
	// whatever the errno, which would hide what the test checks.
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir = d.mnt
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// dctl runs dctl against the daemon's 9P socket; it returns stdout, stderr
// and the exit code.
func (d *daemon) dctl(args ...string) (string, string, int) {
	d.t.Helper()
	return d.dctlAt(d.sock, args...)
}

func (d *daemon) dctlAt(host string, args ...string) (string, string, int) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return runCmd(d.t, exec.CommandContext(ctx, bins.dctl, append([]string{"-H", host}, args...)...))
}

// runCmd runs cmd and returns its stdout, stderr and exit code; a command
// that cannot run at all fails the test.
func runCmd(t testing.TB, cmd *exec.Cmd) (string, string, int) {
	t.Helper()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	code := exitCode(t, cmd, cmd.Run())
	return o.String(), e.String(), code
}

// exitCode returns the exit code of cmd from the error of its Run or Wait;
// a command that could not run fails the test.
func exitCode(t testing.TB, cmd *exec.Cmd, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("%s %v: %v", cmd.Path, cmd.Args[1:], err)
	}
	return 0
}

// mustDctl runs dctl and fails the test unless it exits 0.
func (d *daemon) mustDctl(args ...string) string {
	d.t.Helper()
	out, errOut, code := d.dctl(args...)
	if code != 0 {
		d.t.Fatalf("dctl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// cgroupsOf lists the cgroup directories the engine has for a container id.
func cgroupsOf(id string) []string {
	var out []string
	for _, pattern := range []string{"/sys/fs/cgroup/*/enginefs/" + id, "/sys/fs/cgroup/enginefs/" + id} {
		m, _ := filepath.Glob(pattern)
		out = append(out, m...)
	}
	return out
}

// killPid kills a process with SIGKILL and waits for it to go.
func killPid(pid int) error {
	if pid <= 0 {
		return fmt.Errorf("no pid")
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 500; i++ {
		if syscall.Kill(pid, 0) != nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("pid %d does not die", pid)
}

// createSh creates a container running sh -c script, plus any create options,
// writing the ctl line through a here-document so the test's shell expands
// nothing of the script.
func (d *daemon) createSh(name, opts, script string) {
	d.t.Helper()
	d.sh("cat > containers/ctl <<'EOF'\ncreate name=" + name + " image=busybox " + opts + " -- sh -c '" +
		strings.ReplaceAll(script, "'", `'\''`) + "'\nEOF")
}
