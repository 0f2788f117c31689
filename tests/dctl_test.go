//go:build linux

package tests

import (
	"strings"
	"testing"
)

// TestDctl covers the docker-like commands end to end over 9P.
func TestDctl(t *testing.T) {
	d := startDaemon(t)

	t.Run("run --rm prints output and leaves nothing", func(t *testing.T) {
		out := d.mustDctl("run", "--rm", "busybox", "echo", "hello")
		if out != "hello\n" {
			t.Errorf("run --rm busybox echo hello printed %q", out)
		}
		if ps := d.mustDctl("ps", "-a", "-q"); ps != "" {
			t.Errorf("ps -a after run --rm shows %q", ps)
		}
	})
	t.Run("run passes the exit code", func(t *testing.T) {
		_, _, code := d.dctl("run", "--rm", "busybox", "sh", "-c", "exit 3")
		if code != 3 {
			t.Errorf("exit code %d, want 3", code)
		}
	})
	t.Run("run flags reach the container", func(t *testing.T) {
		out := d.mustDctl("run", "--rm", "-e", "GREETING=hi there", "-w", "/tmp", "-h", "box", "-u", "app",
			"busybox", "sh", "-c", `echo "$GREETING|$(pwd)|$(hostname)|$(id -u):$(id -g)"`)
		if out != "hi there|/tmp|box|1000:1000\n" {
			t.Errorf("got %q", out)
		}
	})
	t.Run("missing image", func(t *testing.T) {
		// run pulls a missing image: name one on a loopback port nothing
		// listens on, so the test sends nothing off this machine.
		_, errOut, code := d.dctl("run", "--rm", "127.0.0.1:1/nosuch", "true")
		if code != 125 || !strings.Contains(errOut, "nosuch") || !strings.Contains(errOut, "Unable to find image") {
			t.Errorf("run nosuch: exit %d, stderr %q; want 125 naming the image", code, errOut)
		}
	})
	t.Run("missing executable", func(t *testing.T) {
		_, errOut, code := d.dctl("run", "--rm", "busybox", "/nosuch")
		if code != 125 || !strings.Contains(errOut, "/nosuch") {
			t.Errorf("run /nosuch: exit %d, stderr %q; want 125 naming the executable", code, errOut)
		}
		if ps := d.mustDctl("ps", "-a", "-q"); ps != "" {
			t.Errorf("a failed run --rm left %q", ps)
		}
	})
	t.Run("detached lifecycle", func(t *testing.T) {
		id := strings.TrimSpace(d.mustDctl("run", "-d", "--name", "sleeper", "busybox", "sh", "-c", "echo started; exec sleep 300"))
		if len(id) != 64 {
			t.Fatalf("run -d printed %q, want an id", id)
		}
		ps := d.mustDctl("ps")
		if !strings.Contains(ps, id[:12]) || !strings.Contains(ps, "sleeper") || !strings.Contains(ps, "Up ") {
			t.Errorf("ps does not show sleeper running:\n%s", ps)
		}
		if _, errOut, code := d.dctl("rm", "sleeper"); code == 0 || !strings.Contains(errOut, "You cannot remove a running container") {
			t.Errorf("rm of a running container: exit %d, %q", code, errOut)
		}
		if out := d.mustDctl("stop", "-t", "1", "sleeper"); out != "sleeper\n" {
			t.Errorf("stop printed %q", out)
		}
		if ps := d.mustDctl("ps", "-q"); ps != "" {
			t.Errorf("ps after stop shows %q", ps)
		}
		if ps := d.mustDctl("ps", "-a"); !strings.Contains(ps, "Exited (137)") {
			t.Errorf("ps -a does not show Exited (137):\n%s", ps)
		}
		if logs := d.mustDctl("logs", "sleeper"); logs != "started\n" {
			t.Errorf("logs = %q", logs)
		}
		if out := d.mustDctl("wait", "sleeper"); out != "137\n" {
			t.Errorf("wait = %q", out)
		}
		d.mustDctl("rm", "sleeper")
		if _, errOut, code := d.dctl("logs", "sleeper"); code == 0 || !strings.Contains(errOut, "no such container") {
			t.Errorf("logs of a removed container: exit %d, %q", code, errOut)
		}
	})
	t.Run("logs -f follows to the end", func(t *testing.T) {
		d.mustDctl("run", "-d", "--name", "ticker", "busybox", "sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.2; done")
		if out := d.mustDctl("logs", "-f", "ticker"); out != "1\n2\n3\n" {
			t.Errorf("logs -f = %q", out)
		}
		d.mustDctl("rm", "ticker")
	})
	t.Run("kill and rm -f", func(t *testing.T) {
		d.mustDctl("run", "-d", "--name", "victim", "busybox", "sleep", "300")
		d.mustDctl("kill", "-s", "TERM", "victim") // pid 1 without a handler ignores TERM
		if ps := d.mustDctl("ps", "-q"); ps == "" {
			t.Error("TERM killed pid 1, which has no handler for it")
		}
		d.mustDctl("rm", "-f", "victim")
		if ps := d.mustDctl("ps", "-a", "-q"); ps != "" {
			t.Errorf("rm -f left %q", ps)
		}
	})
	t.Run("images and inspect", func(t *testing.T) {
		imgs := d.mustDctl("images")
		if !strings.Contains(imgs, "REPOSITORY") || !strings.Contains(imgs, "busybox") || !strings.Contains(imgs, "latest") {
			t.Errorf("images:\n%s", imgs)
		}
		id := strings.TrimSpace(d.mustDctl("create", "--name", "insp", "busybox", "echo", "x"))
		out := d.mustDctl("inspect", "insp")
		if !strings.Contains(out, `"Id": "`+id) || !strings.Contains(out, `"Status": "created"`) {
			t.Errorf("inspect:\n%s", out)
		}
		d.mustDctl("rm", "insp")
	})
	t.Run("through the mount", func(t *testing.T) {
		if out, _, code := d.dctlAt(d.mnt, "run", "--rm", "busybox", "echo", "via fuse"); code != 0 || out != "via fuse\n" {
			t.Errorf("dctl -H mount run: exit %d, %q", code, out)
		}
	})
	t.Run("no daemon", func(t *testing.T) {
		_, errOut, code := d.dctlAt("unix:/nonexistent.sock", "ps")
		if code == 0 || !strings.Contains(errOut, "cannot connect") {
			t.Errorf("ps without a daemon: exit %d, %q", code, errOut)
		}
	})
}
