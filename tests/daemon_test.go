//go:build linux

package tests

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/enginefs/enginefs/netdrv/netdrvtest"
)

// runDaemonOnce runs enginefs with args until it exits or 20 s pass (then
// it is stopped with SIGTERM, and SIGKILL after 20 s more) and returns its
// output and its exit code (-1 when it had to be stopped).
func runDaemonOnce(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out logBuffer
	cmd := exec.Command(bins.enginefs, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), exitCode(t, cmd, err)
	case <-time.After(20 * time.Second):
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	return out.String(), -1
}

// TestNinepTCPNeedsInsecureFlag: 9P has no authentication, so serving it
// on TCP (loopback included: any local user, any host-network container)
// is refused at start unless --insecure-tcp is given, and with the flag
// the daemon warns in its log, naming the address.
func TestNinepTCPNeedsInsecureFlag(t *testing.T) {
	needDaemon(t)
	base := t.TempDir()
	tcp := fmt.Sprintf("tcp:127.0.0.1:%d", freeLoopbackPort(t))
	out, code := runDaemonOnce(t, "--state", filepath.Join(base, "state"), "--run", filepath.Join(base, "run"),
		"--mount", "", "--docker", "", "--9p", tcp, "--bridge-name", netdrvtest.UniqueName("efsb"), "--firewall=false")
	if code != 2 || !strings.Contains(out, "--insecure-tcp") || !strings.Contains(out, tcp) {
		t.Errorf("enginefs --9p %s without --insecure-tcp: exit %d, output:\n%s\nwant exit 2 and an error naming the address and --insecure-tcp", tcp, code, out)
	}
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(tcp, "tcp:"), time.Second); err == nil {
		c.Close()
		t.Errorf("something listens on %s after the refusal", tcp)
	}
	if exists(filepath.Join(base, "state")) {
		t.Errorf("the refused daemon made its state directory")
	}

	d := startDaemon(t, "--insecure-tcp", "--9p", tcp)
	d.stop()
	want := "WARNING: 9P on " + tcp + " has no authentication: any local user or host-network container gets root through it"
	if n := strings.Count(d.out.String(), want); n != 1 {
		t.Errorf("the daemon logged %q %d times, want once:\n%s", want, n, d.out)
	}
}

// TestNinepSocketRootOnly: the 9P unix socket is root's alone: mode 0600,
// in a run directory of mode 0700 even when it existed with a wider mode,
// and a process of another user (uid 65534) cannot connect to it, neither
// in the run directory nor in a directory anyone may enter.
func TestNinepSocketRootOnly(t *testing.T) {
	d := newDaemon(t)
	base := filepath.Dir(d.run)
	pub := filepath.Join(base, "pub")
	for _, dir := range []string{d.run, pub} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, dir := range []string{filepath.Dir(base), base} { // others may pass through, not list
		if err := os.Chmod(dir, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	// dctl, where uid 65534 may run it.
	dctl := filepath.Join(pub, "dctl")
	data, err := os.ReadFile(bins.dctl)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dctl, data, 0o755); err != nil {
		t.Fatal(err)
	}
	pubSock := filepath.Join(pub, "9p.sock")
	d.start("--9p", "unix:"+pubSock)
	t.Cleanup(d.teardown)

	if st, err := os.Stat(d.run); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("run directory %s: %v %v, want mode 0700 (it holds sockets that give root)", d.run, st.Mode().Perm(), err)
	}
	for _, sock := range []string{strings.TrimPrefix(d.sock, "unix:"), pubSock} {
		st, err := os.Stat(sock)
		if err != nil || st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o600 {
			t.Errorf("9P socket %s: %v %v, want a socket of mode 0600", sock, st.Mode(), err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		// root reaches it...
		if out, errOut, code := runCmd(t, exec.CommandContext(ctx, dctl, "-H", "unix:"+sock, "version")); code != 0 {
			t.Errorf("root: dctl -H unix:%s version: exit %d %s %s", sock, code, out, errOut)
		}
		// ...nobody does not.
		cmd := exec.CommandContext(ctx, dctl, "-H", "unix:"+sock, "version")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, errOut, code := runCmd(t, cmd)
		cancel()
		if code == 0 || !strings.Contains(errOut, "permission denied") {
			t.Errorf("uid 65534: dctl -H unix:%s version: exit %d, stdout %q, stderr %q; want permission denied", sock, code, out, errOut)
		}
	}
}

// TestMountOfLiveDaemonNotTaken: a second daemon (its own state and run
// directories) pointed at the mount point of a running one refuses to
// start, naming the first one's pid, and leaves its mount alone.
func TestMountOfLiveDaemonNotTaken(t *testing.T) {
	d := startDaemon(t)
	base := t.TempDir()
	bridge := netdrvtest.UniqueName("efsb")
	defer func() { // only a daemon that took the mount over made one
		if link, err := netlink.LinkByName(bridge); err == nil {
			_ = netlink.LinkDel(link)
		}
	}()
	out, code := runDaemonOnce(t, "--state", filepath.Join(base, "state"), "--run", filepath.Join(base, "run"),
		"--mount", d.mnt, "--docker", "", "--keeper-idle", "200ms", "--bridge-name", bridge,
		"--bridge-subnet", netdrvtest.FreeSubnet(t, 24).String(), "--network-pool", netdrvtest.FreeSubnet(t, 20).String(),
		"--firewall=false", "--dns-forward", "none")
	want := "pid " + strconv.Itoa(d.cmd.Process.Pid)
	if code <= 0 || !strings.Contains(out, "another enginefs") || !strings.Contains(out, want) {
		t.Errorf("a second daemon on %s: exit %d, output:\n%s\nwant a refusal naming the running daemon (%s)", d.mnt, code, out, want)
	}
	if got := d.sh("cat version"); !strings.HasPrefix(got, "enginefs ") {
		t.Errorf("the first daemon's mount after the second's try: version = %q", got)
	}
	// A keeper the second daemon may have started exits once idle.
	data, _ := os.ReadFile(filepath.Join(base, "run", "keeper.pid"))
	if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid > 0 {
		_ = killPid(pid)
	}
}

// TestStartedNotAfterFinished: a container as short as `true` may exit
// before its start returns; its status must never show it started after
// it finished.
func TestStartedNotAfterFinished(t *testing.T) {
	d := startDaemon(t)
	const workers, runs = 4, 100
	var script strings.Builder
	for w := 0; w < workers; w++ {
		fmt.Fprintf(&script, "echo 'create name=t%d image=busybox -- true' > containers/ctl\n", w)
	}
	outDir := t.TempDir()
	for w := 0; w < workers; w++ {
		fmt.Fprintf(&script, "(for i in $(seq %d); do echo start > containers/t%d/ctl && cat containers/t%d/wait >/dev/null && cat containers/t%d/status || exit 1; done) > %s/status%d & pids=\"$pids $!\"\n",
			runs, w, w, w, outDir, w)
	}
	script.WriteString("for p in $pids; do wait $p || exit 1; done\n")
	d.sh(script.String())
	bad, total := 0, 0
	for w := 0; w < workers; w++ {
		data, err := os.ReadFile(filepath.Join(outDir, fmt.Sprintf("status%d", w)))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			started, finished, err := statusTimes(line)
			if err != nil {
				t.Fatalf("t%d: %v", w, err)
			}
			total++
			if started.After(finished) {
				bad++
				if bad <= 5 {
					t.Errorf("t%d: %q: started %v after finished", w, line, started.Sub(finished))
				}
			}
		}
	}
	if total != workers*runs {
		t.Errorf("read %d statuses, want %d", total, workers*runs)
	}
	if bad > 0 {
		t.Errorf("%d of %d runs of true show started after finished", bad, total)
	}
}

// statusTimes reads started= and finished= of an exited container's status
// line.
func statusTimes(line string) (started, finished time.Time, err error) {
	for _, f := range strings.Fields(line) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "started":
			started, err = time.Parse(time.RFC3339Nano, v)
		case "finished":
			finished, err = time.Parse(time.RFC3339Nano, v)
		}
		if err != nil {
			return started, finished, fmt.Errorf("status %q: %w", line, err)
		}
	}
	if started.IsZero() || finished.IsZero() {
		return started, finished, errors.New("status " + strconv.Quote(line) + ": no started= or finished=")
	}
	return started, finished, nil
}
