//go:build linux

package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDctlFidelity: dctl (over 9P) and the stock docker CLI (through the
// REST bridge) print the same for the same daemon: ps --format and
// --filter, inspect -f, port, logs --tail -t, images --format, events,
// run --env-file.
func TestDctlFidelity(t *testing.T) {
	d := startDockerd(t)
	t0 := time.Now().Add(-time.Second)
	d.mustDocker("run", "-d", "--name", "web", "-p", "127.0.0.1::80", "-p", "127.0.0.1:18089:81/udp", "--label", "tier=front",
		"busybox", "sh", "-c", "echo one; sleep 0.1; echo two >&2; sleep 0.1; echo three; sleep 0.1; echo four >&2; exec sleep 300")
	t.Cleanup(func() { d.docker("rm", "-f", "web") })
	if _, errOut, code := d.docker("run", "--name", "done", "busybox", "sh", "-c", "exit 3"); code != 3 {
		t.Fatalf("docker run ... exit 3: exit %d: %s", code, errOut)
	}
	t.Cleanup(func() { d.docker("rm", "-f", "done") })
	time.Sleep(time.Second) // the log lines are in

	// same runs args through both clients and compares what they print;
	// a time in the output ("Up 2 seconds") may tick while they run, so
	// docker runs before and after dctl and either output will do, and a
	// difference is tried again a few times.
	same := func(args ...string) {
		t.Helper()
		var dOut, dErr, cOut, cErr string
		for try := 0; try < 3; try++ {
			var dc, cc int
			dOut, dErr, dc = d.docker(args...)
			cOut, cErr, cc = d.dctl(args...)
			dOut2, dErr2, _ := d.docker(args...)
			if dc != 0 {
				t.Fatalf("docker %q: exit %d: %s", args, dc, dErr)
			}
			if cc != 0 {
				t.Errorf("dctl %q: exit %d: %s", args, cc, cErr)
				return
			}
			if (dOut == cOut && dErr == cErr) || (dOut2 == cOut && dErr2 == cErr) {
				if strings.TrimSpace(cOut) == "" {
					t.Errorf("%q printed nothing", args)
				}
				return
			}
		}
		t.Errorf("%q:\ndocker printed\n%s(stderr %q)\ndctl printed\n%s(stderr %q)", args, dOut, dErr, cOut, cErr)
	}
	t.Run("ps --format", func(t *testing.T) {
		same("ps", "-a", "--format", "{{.Names}} {{.Status}}")
		same("ps", "-a")
		same("ps", "-a", "--no-trunc")
		same("ps", "-a", "--format", `table {{.Names}}\t{{.State}}\t{{.Image}}\t{{.Command}}\t{{.Ports}}\t{{.Labels}}`)
		same("ps", "-a", "--format", `{{json .Names}} {{upper .State}} {{join (split .Ports ", ") "|"}}`)
	})
	t.Run("ps --filter", func(t *testing.T) {
		same("ps", "--filter", "status=exited", "--format", "{{.Names}}")
		same("ps", "-a", "--filter", "exited=3", "--format", "{{.Names}}")
		same("ps", "-a", "--filter", "label=tier=front", "--format", "{{.Names}}")
		same("ps", "-a", "--filter", "name=web", "--filter", "ancestor=busybox", "--format", "{{.Names}}")
		same("ps", "-n", "1", "--format", "{{.Names}}")
		same("ps", "-l", "--format", "{{.Names}}")
		same("ps", "-a", "-s", "--format", "{{.Names}} {{.Size}}")
	})
	t.Run("inspect -f", func(t *testing.T) {
		same("inspect", "-f", "{{.State.Status}}", "web", "done")
		same("inspect", "--format", "{{.State.ExitCode}} {{json .Config.Labels}} {{join .Config.Cmd \" \"}}", "done", "web")
	})
	t.Run("port", func(t *testing.T) {
		same("port", "web")
		same("port", "web", "80")
		same("port", "web", "81/udp")
	})
	t.Run("logs --tail 2 -t", func(t *testing.T) {
		same("logs", "--tail", "2", "-t", "web")
		same("logs", "--since", t0.Format(time.RFC3339), "web")
		out, errOut, code := d.dctl("logs", "--tail", "2", "-t", "web")
		if code != 0 || !strings.HasSuffix(out, " three\n") || !strings.HasSuffix(errOut, " four\n") {
			t.Errorf("logs --tail 2 -t: %q, %q (exit %d), want three on stdout and four on stderr", out, errOut, code)
		}
	})
	t.Run("images --format", func(t *testing.T) {
		same("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}")
		same("images")
	})
	t.Run("events", func(t *testing.T) {
		since, until := fmt.Sprint(t0.Unix()), fmt.Sprint(time.Now().Unix()+1)
		same("events", "--since", since, "--until", until, "--filter", "container=web", "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}")
		same("events", "--since", since, "--until", until, "--filter", "type=container")
	})
	t.Run("run --env-file", func(t *testing.T) {
		dir := t.TempDir()
		env := filepath.Join(dir, "env")
		if err := os.WriteFile(env, []byte("# comment\nA=1\nB=two words\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		labels := filepath.Join(dir, "labels")
		if err := os.WriteFile(labels, []byte("tier=back\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		same("run", "--rm", "--env-file", env, "-e", "A=9", "busybox", "sh", "-c", `echo "$A|$B"`)
		d.mustDctl("run", "--name", "labelled", "--label-file", labels, "busybox", "true")
		t.Cleanup(func() { d.docker("rm", "-f", "labelled") })
		if got := d.mustDocker("inspect", "-f", `{{index .Config.Labels "tier"}}`, "labelled"); got != "back\n" {
			t.Errorf("label from --label-file: %q, want back", got)
		}
	})
}
