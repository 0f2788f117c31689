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

	"github.com/enginefs/enginefs/internal/testenv"
)

// composeFile has two services on the project's default network: web
// serves a page from a named volume with busybox httpd, and client fetches
// it by the service name in a loop.
const composeFile = `version: "3"
services:
  web:
    image: busybox
    command: sh -c 'echo "served from the site volume" > /data/index.html; exec httpd -f -p 80 -h /data'
    volumes:
      - site:/data
    labels:
      role: server
    stop_signal: SIGKILL  # httpd is pid 1: SIGTERM would wait out the 10 s
  client:
    image: busybox
    command: sh -c 'trap "exit 0" TERM; while true; do wget -qO- http://web/ || echo fetch failed; sleep 0.5; done'
    depends_on:
      - web
volumes:
  site:
`

// TestCompose drives the bridge with Debian's docker-compose 1.29: up -d
// (the project network, the named volume, two containers), ps, logs, exec,
// and down -v, which removes the containers, the network and the volume.
func TestCompose(t *testing.T) {
	bin := testenv.NeedBinary(t, "docker-compose", "docker-compose")
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
		code := exitCode(t, cmd, cmd.Run())
		return out.String(), code
	}
	defer compose("down", "-v")
	if out, code := compose("up", "-d"); code != 0 {
		t.Fatalf("up -d: exit %d\n%s", code, out)
	}
	out, code := compose("ps")
	for _, want := range []string{"efs_web_1", "efs_client_1"} {
		if code != 0 || !strings.Contains(out, want) || strings.Count(out, " Up ") != 2 {
			t.Errorf("ps (exit %d) does not show %s up:\n%s", code, want, out)
		}
	}
	if got := d.mustDocker("ps", "--filter", "label=com.docker.compose.project=efs", "--filter", "label=role=server", "--format", "{{.Names}} {{.Networks}} {{.Mounts}}"); got != "efs_web_1 efs_default efs_site\n" {
		t.Errorf("the compose labels, network and volume: docker ps by label shows %q", got)
	}
	// The client reaches web by its service name on the project network.
	waitFor(t, func() bool {
		out, _ := compose("logs", "--no-color", "client")
		return strings.Contains(out, "served from the site volume")
	})
	if out, code := compose("exec", "-T", "web", "cat", "/data/index.html"); code != 0 || out != "served from the site volume\n" {
		t.Errorf("exec -T web cat: exit %d\n%s", code, out)
	}
	if got := d.sh("cat volumes/efs_site/data/index.html"); got != "served from the site volume\n" {
		t.Errorf("the volume's file through the tree: %q", got)
	}
	if out, code := compose("down", "-v"); code != 0 {
		t.Errorf("down -v: exit %d\n%s", code, out)
	}
	if ps := d.mustDocker("ps", "-aq"); ps != "" {
		t.Errorf("containers left after down: %q", ps)
	}
	for _, dir := range []string{"networks", "volumes"} {
		if ents := d.sh("ls " + dir); strings.Contains(ents, "efs_") {
			t.Errorf("%s left after down -v:\n%s", dir, ents)
		}
	}
	if out := d.mustDocker("network", "ls", "--format", "{{.Name}}") + d.mustDocker("volume", "ls", "-q"); strings.Contains(out, "efs_") {
		t.Errorf("the project network or volume is still listed:\n%s", out)
	}
}
