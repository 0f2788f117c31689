//go:build linux

package tests

import (
	"strings"
	"testing"

	"github.com/enginefs/enginefs/internal/testenv"
)

// TestDockerCrun checks that docker info lists crun only where it can run a
// container: listed, docker run --runtime crun works; left out (crun 1.8 on
// a hybrid cgroup host), the daemon's log says why.
func TestDockerCrun(t *testing.T) {
	testenv.NeedBinary(t, "crun", "crun")
	d := startDockerd(t)
	runtimes := d.mustDocker("info", "--format", "{{range $k, $v := .Runtimes}}{{$k}} {{end}}")
	if !strings.Contains(runtimes, "crun") {
		if log := d.out.String(); !strings.Contains(log, "runtime crun not listed: it cannot run a container on this host: ") {
			t.Errorf("docker info lists %q without crun, and the daemon's log does not say why:\n%s", runtimes, log)
		}
		return
	}
	out, errOut, code := d.docker("run", "--rm", "--runtime", "crun", "busybox", "echo", "hi from crun")
	if code != 0 || out != "hi from crun\n" {
		t.Errorf("docker info lists crun (%q), but docker run --runtime crun: exit %d\nstdout: %s\nstderr: %s", runtimes, code, out, errOut)
	}
}
