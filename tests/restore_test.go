//go:build linux

package tests

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// counter is a container command writing 0, 1, 2... every 10 ms.
const counter = `i=0; while true; do echo $i; i=$((i+1)); sleep 0.01; done`

// checkCounter checks that a counter's log holds every number from 0 with no
// gap and returns how many it holds.
func checkCounter(t *testing.T, name, log string) int {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(log, "\n"), "\n")
	for i, l := range lines {
		if n, err := strconv.Atoi(l); err != nil || n != i {
			t.Errorf("%s: line %d is %q, want %d: a line was lost or torn", name, i+1, l, i)
			return len(lines)
		}
	}
	return len(lines)
}

// TestLiveRestoreKill9: the daemon is killed with SIGKILL while 20
// containers run and write logs; the next daemon finds all 20 running, with
// no log line lost, and knows the exit code of a container that exited while
// no daemon ran.
func TestLiveRestoreKill9(t *testing.T) {
	d := startDaemon(t)
	const n = 20
	pids := map[string]string{}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("c%02d", i)
		d.createSh(name, "", counter)
		d.sh("echo start > containers/" + name + "/ctl")
		pids[name] = strings.Fields(d.sh("cat containers/" + name + "/status"))[1]
	}
	d.createSh("quitter", "", "sleep 1; exit 7")
	d.sh("echo start > containers/quitter/ctl")
	quitter := strings.TrimPrefix(strings.Fields(d.sh("cat containers/quitter/status"))[1], "pid=")
	time.Sleep(300 * time.Millisecond)
	keeper := d.keeperPid()
	d.kill9()
	// The containers go on; quitter exits meanwhile (the keeper reaps it).
	time.Sleep(1500 * time.Millisecond)
	for deadline := time.Now().Add(20 * time.Second); exists("/proc/" + quitter); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("quitter (pid %s) still runs 20 s after its 1 s sleep", quitter)
		}
	}
	d.start()
	if got := d.keeperPid(); got != keeper {
		t.Errorf("the daemon started another keeper (pid %d, was %d)", got, keeper)
	}
	for name, pid := range pids {
		st := d.sh("cat containers/" + name + "/status")
		if !strings.HasPrefix(st, "running "+pid+" ") {
			t.Errorf("%s after the crash: %q, want running with %s", name, st, pid)
		}
	}
	if st := d.sh("cat containers/quitter/status"); !strings.HasPrefix(st, "exited code=7 ") {
		t.Errorf("quitter, which exited while no daemon ran: %q, want exited code=7", st)
	}
	time.Sleep(200 * time.Millisecond)
	for name := range pids {
		d.sh("echo kill > containers/" + name + "/ctl")
		got := checkCounter(t, name, d.sh("cat containers/"+name+"/log"))
		if got < 100 {
			t.Errorf("%s wrote only %d lines in ~2 s: its output was not kept while the daemon was down", name, got)
		}
	}
}

// TestLiveRestoreSIGTERM: a clean daemon stop unmounts the tree and leaves
// the containers running; the next daemon takes them back and can stop them.
func TestLiveRestoreSIGTERM(t *testing.T) {
	d := startDaemon(t)
	d.sh("echo 'create name=long image=busybox -- sleep 300' > containers/ctl; echo start > containers/long/ctl")
	d.sh("echo 'create name=idle image=busybox -- true' > containers/ctl")
	pid := strings.TrimPrefix(strings.Fields(d.sh("cat containers/long/status"))[1], "pid=")
	d.stop()
	if isMounted(d.mnt) {
		t.Fatal("the tree is still mounted after SIGTERM")
	}
	if data, err := os.ReadFile("/proc/" + pid + "/cmdline"); err != nil || !strings.HasPrefix(string(data), "sleep") {
		t.Fatalf("the container (pid %s) did not survive the daemon's stop: %q %v", pid, data, err)
	}
	d.start()
	if got := d.sh("cat containers/long/status"); !strings.HasPrefix(got, "running pid="+pid+" ") {
		t.Errorf("after restart, long = %q, want running pid=%s", got, pid)
	}
	if got := d.sh("cat containers/idle/status"); got != "created\n" {
		t.Errorf("after restart, idle = %q, want created", got)
	}
	d.sh("echo 'stop 1' > containers/long/ctl")
	if got := d.sh("cat containers/long/status"); !strings.HasPrefix(got, "exited code=137 ") {
		t.Errorf("after stop, long = %q", got)
	}
	if cg := cgroupsOf(d.sh("cat containers/long/inspect | grep '\"Id\"' | cut -d'\"' -f4")); len(cg) > 0 {
		t.Errorf("cgroups left after stop: %v", cg)
	}
}

// TestKeeperLost: a keeper killed with SIGKILL takes the exit codes of its
// containers with it; the daemon, on its next start, kills what is left,
// marks the containers exited and can run them again.
func TestKeeperLost(t *testing.T) {
	d := startDaemon(t)
	d.sh("echo 'create name=orphan image=busybox -- sleep 300' > containers/ctl; echo start > containers/orphan/ctl")
	pid := strings.TrimPrefix(strings.Fields(d.sh("cat containers/orphan/status"))[1], "pid=")
	d.kill9()
	if err := killPid(d.keeperPid()); err != nil {
		t.Fatal(err)
	}
	d.start()
	if got := d.sh("cat containers/orphan/status"); !strings.HasPrefix(got, "exited code=137 ") || !strings.Contains(got, "lost") {
		t.Errorf("orphan after the keeper was lost: %q", got)
	}
	if data, err := os.ReadFile("/proc/" + pid + "/cmdline"); err == nil && strings.HasPrefix(string(data), "sleep") {
		t.Errorf("the orphan (pid %s) still runs", pid)
	}
	if m := mountsUnder(d.state); len(m) > 0 {
		t.Errorf("mounts left: %v", m)
	}
	if got := d.sh("echo start > containers/orphan/ctl; echo kill > containers/orphan/ctl; cat containers/orphan/wait"); got != "137\n" {
		t.Errorf("orphan did not run again: %q", got)
	}
}

// TestLiveRestoreStaleMount: the daemon is killed with -9 while 100
// containers write numbered lines, which leaves its FUSE mount dead
// (ENOTCONN). The next daemon, started on the same mount point with no
// unmount by hand, detaches the dead mount, mounts afresh and finds all 100
// containers, each log complete (no line lost or doubled) and each exit
// code kept, whether the container exited before, during or after the
// daemon's absence.
func TestLiveRestoreStaleMount(t *testing.T) {
	d := startDaemon(t)
	const n, lines = 100, 400
	var names []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("w%03d", i)
		names = append(names, name)
		d.createSh(name, "", fmt.Sprintf(`i=0; while [ $i -lt %d ]; do echo $i; i=$((i+1)); sleep 0.01; done; exit %d`, lines, i+1))
	}
	// Start them together, ten shells at a time, so that most still write
	// when the daemon dies.
	var script strings.Builder
	for g := 0; g < 10; g++ {
		script.WriteString("(for c in")
		for _, name := range names[g*10 : g*10+10] {
			script.WriteString(" " + name)
		}
		script.WriteString("; do echo start > containers/$c/ctl || exit 1; done) & pids=\"$pids $!\"\n")
	}
	script.WriteString("for p in $pids; do wait $p || exit 1; done\n")
	d.sh(script.String())
	time.Sleep(500 * time.Millisecond)
	statuses := "for c in " + strings.Join(names, " ") + "; do cat containers/$c/status; done"
	running := strings.Count(d.sh(statuses), "running ")
	d.kill9()
	if _, err := os.Stat(d.mnt); !errors.Is(err, syscall.ENOTCONN) {
		t.Fatalf("after kill -9, stat %s: %v, want ENOTCONN (a dead FUSE mount)", d.mnt, err)
	}
	t.Logf("%d of %d containers were running when the daemon was killed", running, n)
	if running < n/2 {
		t.Errorf("only %d of %d containers ran at the kill: the test did not test a restore under load", running, n)
	}
	time.Sleep(time.Second)
	d.start()
	t.Logf("the daemon restarted on the dead mount and was ready in %v", d.readyIn)
	if !strings.Contains(d.out.String(), "detached the stale fuse.enginefs mount at "+d.mnt) {
		t.Errorf("the daemon did not log that it detached the dead mount:\n%s", d.out)
	}
	if got := strings.Count(d.sh(statuses), "\n"); got != n {
		t.Fatalf("found %d containers after the restart, want %d", got, n)
	}
	ids := 0
	for _, e := range strings.Fields(d.sh("ls containers")) {
		if len(e) == 64 {
			ids++
		}
	}
	if ids != n {
		t.Errorf("containers lists %d containers after the restart, want %d", ids, n)
	}
	// Every wait ends with the container's own exit code, then every log
	// holds 0..lines-1 exactly once.
	var waits strings.Builder
	for _, name := range names {
		waits.WriteString("echo " + name + " $(cat containers/" + name + "/wait)\n")
	}
	codes := strings.Split(strings.TrimSpace(d.sh(waits.String())), "\n")
	for i, name := range names {
		if want := fmt.Sprintf("%s %d", name, i+1); i >= len(codes) || codes[i] != want {
			got := "nothing"
			if i < len(codes) {
				got = codes[i]
			}
			t.Errorf("wait: %s, want %s", got, want)
		}
		if st := d.sh("cat containers/" + name + "/status"); !strings.HasPrefix(st, fmt.Sprintf("exited code=%d ", i+1)) {
			t.Errorf("%s: status %q, want exited code=%d", name, st, i+1)
		}
		if got := checkCounter(t, name, d.sh("cat containers/"+name+"/log")); got != lines {
			t.Errorf("%s: its log holds %d lines, want %d", name, got, lines)
		}
	}
}
