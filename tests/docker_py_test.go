//go:build linux

package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// dockerPy is a short python3-docker (Debian's, docker-py 5.0.3) program:
// what an SDK user writes. It prints one line per step.
const dockerPy = `
import docker, sys
c = docker.DockerClient(base_url=sys.argv[1])
print("ping", c.ping())
print("run", c.containers.run("busybox", ["sh", "-c", "echo py-out; echo py-err >&2"], stderr=True, name="py1").decode().split())
ct = c.containers.get("py1")
print("state", ct.status, ct.attrs["State"]["ExitCode"])
print("logs", ct.logs(stdout=True, stderr=False).decode().split())
d = c.containers.run("busybox", "sleep 300", detach=True, labels={"py": "yes"})
print("listed", [x.id == d.id for x in c.containers.list(filters={"label": "py=yes"})])
r = d.exec_run(["sh", "-c", "echo exec-out; exit 3"])
print("exec", r.exit_code, r.output.decode().split())
d.remove(force=True)
ct.remove()
try:
    c.containers.get("py1")
except docker.errors.NotFound as e:
    print("gone", e.status_code)
print("left", len(c.containers.list(all=True)))
`

// TestDockerPy drives the bridge with python3-docker.
func TestDockerPy(t *testing.T) {
	if err := exec.Command("python3", "-c", "import docker").Run(); err != nil {
		t.Skip("needs Debian's python3-docker")
	}
	d := startDockerd(t)
	script := filepath.Join(t.TempDir(), "docker_py.py")
	if err := os.WriteFile(script, []byte(dockerPy), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("python3", script, d.host)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3-docker: %v\n%s", err, out)
	}
	want := `ping True
run ['py-out', 'py-err']
state exited 0
logs ['py-out']
listed [True]
exec 3 ['exec-out']
gone 404
left 0
`
	if string(out) != want {
		t.Errorf("python3-docker printed:\n%s\nwant:\n%s", out, want)
	}
}
