//go:build linux

package tests

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// isolationScript prints what a user checks to see a container is isolated:
// its pid, its hostname, its network interfaces, what / holds and the
// processes it sees; then it ticks for a while so tail -f has something to follow.
const isolationScript = `echo pid=$$; echo host=$(hostname); echo net=$(ls /sys/class/net); ` +
	`echo procs=$(ls /proc | grep -c '^[0-9]'); ` +
	`test -e /etc/enginefs-fixture && echo rootfs=image; test -e /work -o -e /usr/local/go && echo rootfs=HOST; ` +
	`(echo h > /proc/sys/kernel/hostname) 2>/dev/null && echo procsys=rw || echo procsys=ro; ` +
	`i=0; while [ $i -lt 20 ]; do echo tick $i; i=$((i+1)); sleep 0.05; done; echo done`

// TestFUSEShell drives a container with nothing but sh, echo, cat, ls and
// tail -f on the FUSE mount.
func TestFUSEShell(t *testing.T) {
	d := startDaemon(t)
	// A here-document keeps the shell from expanding what the container's
	// shell must expand; the ctl line quotes the script as sh would.
	d.sh("cat > containers/ctl <<'EOF'\ncreate name=web image=busybox hostname=webhost -- sh -c '" +
		strings.ReplaceAll(isolationScript, "'", `'\''`) + "'\nEOF")
	if got := d.sh("cat containers/web/status"); got != "created\n" {
		t.Fatalf("status after create = %q, want created", got)
	}
	id := strings.TrimSpace(d.sh("ls containers | grep -v -e clone -e ctl -e err -e list"))
	if len(id) != 64 {
		t.Fatalf("ls containers shows %q, want one 64-hex id", id)
	}

	// tail -f on the log, started before the container, must follow it.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tail := exec.CommandContext(ctx, "tail", "-f", "-s", "0.05", filepath.Join(d.mnt, "containers", id, "log"))
	pipe, err := tail.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tail.Process.Kill(); _ = tail.Wait() }()

	d.sh("echo start > containers/" + id + "/ctl")
	if got := d.sh("cat containers/web/status"); !strings.HasPrefix(got, "running pid=") && !strings.HasPrefix(got, "exited code=0") {
		t.Errorf("status after start = %q, want running pid=...", got)
	}

	var lines []string
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if sc.Text() == "done" {
			break
		}
	}
	if len(lines) == 0 || lines[len(lines)-1] != "done" {
		t.Fatalf("tail -f log gave %q, want it to follow to \"done\"", lines)
	}
	if got := d.sh("cat containers/web/wait"); got != "0\n" {
		t.Errorf("wait = %q, want 0", got)
	}
	log := d.sh("cat containers/web/log")
	// Its own network namespace: lo and its interface on the default bridge.
	for _, want := range []string{"pid=1\n", "host=webhost\n", "net=eth0 lo\n", "rootfs=image\n", "tick 19\n", "procsys=ro\n"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	// The container sees its own processes only: sh, the subshell, ls, grep.
	var procs int
	if i := strings.Index(log, "procs="); i >= 0 {
		fmt.Sscanf(log[i:], "procs=%d", &procs)
	}
	if procs < 1 || procs > 6 {
		t.Errorf("the container sees %d processes in /proc, want its own few", procs)
	}
	if strings.Contains(log, "rootfs=HOST") {
		t.Errorf("the container sees the host's filesystem:\n%s", log)
	}
	if got := d.sh("cat containers/web/status"); !strings.HasPrefix(got, "exited code=0 ") {
		t.Errorf("status after exit = %q", got)
	}
	if got := d.sh("grep -c '\"Status\": \"exited\"' containers/web/inspect"); got != "1\n" {
		t.Errorf("inspect does not say exited: %s", d.sh("cat containers/web/inspect"))
	}
	if cg := cgroupsOf(id); len(cg) > 0 {
		t.Errorf("cgroups left after exit: %v", cg)
	}
	if m := mountsUnder(d.state); len(m) > 0 {
		t.Errorf("mounts left after exit: %v", m)
	}

	// Restart: a second run appends to the log.
	d.sh("echo start > containers/web/ctl; cat containers/web/wait >/dev/null")
	if n := strings.Count(d.sh("cat containers/web/log"), "pid=1\n"); n != 2 {
		t.Errorf("after a second start the log holds %d runs, want 2", n)
	}

	d.sh("echo rm > containers/web/ctl")
	if out, _, err := d.trySh("cat containers/web/status"); err == nil {
		t.Errorf("status of a removed container reads %q", out)
	}
	if ls := d.sh("ls containers"); strings.Contains(ls, id) {
		t.Errorf("ls containers still shows %s after rm:\n%s", id, ls)
	}
	if exists(filepath.Join(d.state, "containers", id)) {
		t.Errorf("the container's state directory is left after rm")
	}
}

// TestFUSEErrors checks that bad ctl lines fail with the errno of their class,
// that the message is in err, and that nothing changed.
func TestFUSEErrors(t *testing.T) {
	d := startDaemon(t)
	d.sh("echo 'create name=e image=busybox -- sleep 30' > containers/ctl")
	cases := []struct {
		name, script, errno, errFile, msg string
	}{
		{"unknown verb", "echo strat > containers/e/ctl", "Invalid argument", "containers/e/err", `unknown command "strat"`},
		{"bad quoting", "echo \"kill 'TERM\" > containers/e/ctl", "Invalid argument", "containers/e/err", `unterminated single quote`},
		{"unknown option", "echo 'create image=busybox imgae=x' > containers/ctl", "Invalid argument", "containers/err", `unknown option "imgae="`},
		{"missing image", "echo 'create name=x' > containers/ctl", "Invalid argument", "containers/err", `missing option "image="`},
		{"no such image", "echo 'create image=nosuch' > containers/ctl", "No such file or directory", "containers/err", "nosuch"},
		{"bad image reference", "echo 'create image=UPPER:x:y' > containers/ctl", "Invalid argument", "containers/err", "UPPER:x:y"},
		{"name taken", "echo 'create name=e image=busybox' > containers/ctl", "File exists", "containers/err", `"e" is already in use`},
		{"not running", "echo kill > containers/e/ctl", "Device or resource busy", "containers/e/err", "is not running"},
		{"no such container", "echo start > containers/nosuch/ctl", "No such file or directory", "", ""},
		{"read-only file", "echo x > containers/e/status", "Permission denied", "", ""},
		{"bad load path", "echo 'load relative.tar' > images/ctl", "Invalid argument", "images/err", "not absolute"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, err := d.trySh(c.script)
			if err == nil {
				t.Fatalf("%s succeeded", c.script)
			}
			if !strings.Contains(stderr, c.errno) {
				t.Errorf("stderr = %q, want the errno %q", stderr, c.errno)
			}
			if c.errFile != "" {
				if got := d.sh("cat " + c.errFile); !strings.Contains(got, c.msg) {
					t.Errorf("%s = %q, want it to contain %q", c.errFile, got, c.msg)
				}
			}
		})
	}
	// Nothing changed: still one created container named e, nothing else.
	var ids []string
	for _, n := range strings.Fields(d.sh("ls containers")) {
		if len(n) == 64 {
			ids = append(ids, n)
		}
	}
	if len(ids) != 1 {
		t.Errorf("after the failed commands there are %d containers, want 1", len(ids))
	}
	if got := d.sh("cat containers/e/status"); got != "created\n" {
		t.Errorf("status = %q, want created", got)
	}
}
