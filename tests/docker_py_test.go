//go:build linux

package tests

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/enginefs/enginefs/internal/testenv"
)

// dockerPy is a short python3-docker (Debian's, docker-py 5.0.3) program:
// what an SDK user writes. It prints one line per step.
const dockerPy = `
import docker, sys, time
c = docker.DockerClient(base_url=sys.argv[1])
print("ping", c.ping())
print("run", c.containers.run("busybox", ["sh", "-c", "echo py-out; sleep 0.1; echo py-err >&2"], stderr=True, name="py1").decode().split())
ct = c.containers.get("py1")
print("state", ct.status, ct.attrs["State"]["ExitCode"])
print("logs", ct.logs(stdout=True, stderr=False).decode().split())
d = c.containers.run("busybox", "sleep 300", detach=True, labels={"py": "yes"})
print("listed", [x.id == d.id for x in c.containers.list(filters={"label": "py=yes"})])
r = d.exec_run(["sh", "-c", "echo exec-out; exit 3"])
print("exec", r.exit_code, r.output.decode().split())
d.remove(force=True)
# attach with logs and stream: what was written before, then the rest,
# each line once.
a = c.containers.run("busybox", ["sh", "-c", "for i in 1 2 3 4 5 6; do echo line$i; sleep 0.2; done"], detach=True)
time.sleep(0.5)
print("attach", b"".join(a.attach(stdout=True, stderr=True, stream=True, logs=True)).decode().split())
a.remove()
ct.remove()
try:
    c.containers.get("py1")
except docker.errors.NotFound as e:
    print("gone", e.status_code)
print("left", len(c.containers.list(all=True)))
`

// dockerPyNet is the second program: pull from a registry, a network, a
// volume, and a container with a published port and the volume, reached
// from the host and by name from another container.
const dockerPyNet = `
import docker, sys, time, urllib.request
c = docker.DockerClient(base_url=sys.argv[1])
ref = sys.argv[2]
img = c.images.pull(ref.rsplit(":", 1)[0], tag=ref.rsplit(":", 1)[1])
print("pulled", ref in img.tags)
net = c.networks.create("pynet", driver="bridge", labels={"py": "yes"})
print("network", [n.name for n in c.networks.list(filters={"label": "py=yes"})])
vol = c.volumes.create("pyvol", labels={"py": "yes"})
print("volume", vol.name, vol.attrs["Driver"], [v.name for v in c.volumes.list(filters={"label": "py=yes"})])
web = c.containers.run(ref, ["sh", "-c", "echo py-site > /www/index.html; exec httpd -f -p 80 -h /www"],
    detach=True, name="pyweb", network="pynet", ports={"80/tcp": ("127.0.0.1", None)},
    volumes={"pyvol": {"bind": "/www", "mode": "rw"}})
web.reload()
port = web.attrs["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"]
body = ""
for i in range(100):
    try:
        body = urllib.request.urlopen("http://127.0.0.1:%s/" % port, timeout=2).read().decode().strip()
        break
    except Exception:
        time.sleep(0.1)
print("from the host", body)
print("by name", c.containers.run(ref, ["wget", "-qO-", "http://pyweb/"], network="pynet", remove=True).decode().strip())
print("mounts", [(m["Type"], m["Name"], m["Destination"]) for m in web.attrs["Mounts"]])
web.remove(force=True)
vol.remove()
net.remove()
print("left", len(c.containers.list(all=True)), [v.name for v in c.volumes.list()], [n.name for n in c.networks.list(names=["pynet"])])
`

// debianPython is Debian's python3, which has python3-docker (5.0.3); a
// python3 earlier in $PATH (pyenv, a venv) may have another or none.
const debianPython = "/usr/bin/python3"

// runPy runs a python3-docker program with args and returns its output.
func runPy(t *testing.T, program string, args ...string) string {
	t.Helper()
	script := filepath.Join(t.TempDir(), "docker_py.py")
	if err := os.WriteFile(script, []byte(program), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(debianPython, append([]string{script}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("python3-docker: %v\n%s", err, out)
	}
	return string(out)
}

// TestDockerPy drives the bridge with python3-docker: containers, then
// images, networks and volumes.
func TestDockerPy(t *testing.T) {
	testenv.Need(t, "Debian's python3-docker", pythonDocker())
	d := startDockerd(t)
	want := `ping True
run ['py-out', 'py-err']
state exited 0
logs ['py-out']
listed [True]
exec 3 ['exec-out']
attach ['line1', 'line2', 'line3', 'line4', 'line5', 'line6']
gone 404
left 0
`
	if out := runPy(t, dockerPy, d.host); out != want {
		t.Errorf("python3-docker printed:\n%s\nwant:\n%s", out, want)
	}

	reg := startRegistry(t, registryMode{})
	ref := reg.host + "/pybox:v1"
	d.mustDocker("tag", "busybox", ref)
	d.mustDocker("push", ref)
	d.mustDocker("rmi", ref)
	want = `pulled True
network ['pynet']
volume pyvol local ['pyvol']
from the host py-site
by name py-site
mounts [('volume', 'pyvol', '/www')]
left 0 [] []
`
	if out := runPy(t, dockerPyNet, d.host, ref); out != want {
		t.Errorf("python3-docker printed:\n%s\nwant:\n%s", out, want)
	}
}

// pythonDocker is nil when debianPython imports the docker module.
func pythonDocker() error {
	if out, err := exec.Command(debianPython, "-c", "import docker").CombinedOutput(); err != nil {
		return fmt.Errorf("%s -c 'import docker': %w: %s", debianPython, err, bytes.TrimSpace(out))
	}
	return nil
}
