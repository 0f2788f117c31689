//go:build linux

package tests

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// composeFile has two services without networking (network_mode: none),
// so that it needs only the container endpoints; services that reach each
// other by name and named volumes need the networks and volumes of the
// tree.
const composeFile = `version: "3"
services:
  web:
    image: busybox
    network_mode: none
    command: sh -c 'trap "exit 0" TERM; echo web is up; while true; do sleep 1; done'
    labels:
      role: server
  worker:
    image: busybox
    network_mode: none
    environment:
      JOB: sums
    command: sh -c 'trap "exit 0" TERM; echo worker does $$JOB; while true; do sleep 1; done'
`

// TestCompose drives the bridge with Debian's docker-compose 1.29:
// up -d, ps, logs, exec, down.
func TestCompose(t *testing.T) {
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		t.Skip("needs Debian's docker-compose")
	}
	d := startDockerd(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte(composeFile), 0o644); err != nil {
		t.Fatal(err)
	}
	compose := func(args ...string) (string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"-p", "efs"}, args...)...)
		cmd.Dir = dir
		cmd.Env = d.env()
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("docker-compose %v: %v", args, err)
		}
		return out.String(), code
	}
	defer compose("down", "-v")
	if out, code := compose("up", "-d"); code != 0 {
		t.Fatalf("up -d: exit %d\n%s", code, out)
	}
	out, code := compose("ps")
	for _, want := range []string{"efs_web_1", "efs_worker_1"} {
		if code != 0 || !strings.Contains(out, want) || strings.Count(out, " Up ") != 2 {
			t.Errorf("ps (exit %d) does not show %s up:\n%s", code, want, out)
		}
	}
	if got := d.mustDocker("ps", "--filter", "label=com.docker.compose.project=efs", "--filter", "label=role=server", "--format", "{{.Names}}"); got != "efs_web_1\n" {
		t.Errorf("the compose labels: docker ps by label shows %q", got)
	}
	waitFor(t, func() bool {
		out, _ := compose("logs", "--no-color")
		return strings.Contains(out, "web is up") && strings.Contains(out, "worker does sums")
	})
	if out, code := compose("exec", "-T", "worker", "sh", "-c", "echo $JOB from exec"); code != 0 || !strings.Contains(out, "sums from exec") {
		t.Errorf("exec -T: exit %d\n%s", code, out)
	}
	if out, code := compose("down", "-v"); code != 0 {
		t.Errorf("down -v: exit %d\n%s", code, out)
	}
	if ps := d.mustDocker("ps", "-aq"); ps != "" {
		t.Errorf("containers left after down: %q", ps)
	}
}
