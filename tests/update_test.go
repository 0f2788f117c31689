//go:build linux

package tests

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/enginefs/enginefs/internal/testenv"
)

// cgroupValue reads one limit of a container's cgroup on the host: the v1
// file under its controller, or the v2 file.
func cgroupValue(t *testing.T, id, v1controller, v1file, v2file string) string {
	t.Helper()
	for _, p := range []string{
		filepath.Join("/sys/fs/cgroup", v1controller, "enginefs", id, v1file),
		filepath.Join("/sys/fs/cgroup/enginefs", id, v2file),
	} {
		if b, err := os.ReadFile(p); err == nil {
			return strings.TrimSpace(string(b))
		}
	}
	t.Fatalf("container %s: no cgroup file %s/%s nor %s (cgroups: %v)", id, v1controller, v1file, v2file, cgroupsOf(id))
	return ""
}

// TestDockerUpdate: docker update changes a running container's limits at
// once (its cgroup, under the built-in runtime and runc), its restart
// policy, and a stopped container's limits for its next start; refusals
// are dockerd's and change nothing; dctl update does the same.
func TestDockerUpdate(t *testing.T) {
	d := startDockerd(t)
	for _, rt := range []string{"enginefs", "runc"} {
		t.Run(rt, func(t *testing.T) {
			name := "upd-" + rt
			args := []string{"run", "-d", "--name", name}
			if rt != "enginefs" {
				args = append(args, "--runtime", rt)
			}
			d.mustDocker(append(args, "busybox", "sleep", "300")...)
			defer d.docker("rm", "-f", name)
			id := strings.TrimSpace(d.mustDocker("inspect", "-f", "{{.Id}}", name))

			out := d.mustDocker("update", "-m", "64m", "--memory-swap", "128m", "--cpus", "0.5", "--pids-limit", "50",
				"--restart", "always", name)
			if out != name+"\n" {
				t.Errorf("docker update printed %q, want %q", out, name+"\n")
			}
			if got := cgroupValue(t, id, "memory", "memory.limit_in_bytes", "memory.max"); got != "67108864" {
				t.Errorf("memory limit after update = %s, want 67108864", got)
			}
			if got := cgroupValue(t, id, "pids", "pids.max", "pids.max"); got != "50" {
				t.Errorf("pids.max after update = %s, want 50", got)
			}
			if got := cgroupValue(t, id, "cpu", "cpu.cfs_quota_us", "cpu.max"); got != "50000" && got != "50000 100000" {
				t.Errorf("cpu quota after update = %s, want 50000", got)
			}
			in := d.mustDocker("inspect", "-f",
				"{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}", name)
			if want := "67108864 134217728 500000000 50 always\n"; in != want {
				t.Errorf("inspect after update = %q, want %q", in, want)
			}

			// dockerd's refusals, word for word; nothing changes.
			_, errOut, code := d.docker("update", "-m", "200m", name)
			if code == 0 || !strings.Contains(errOut, "Cannot update container "+id+": Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time") {
				t.Errorf("update -m 200m: exit %d, stderr %q; want dockerd's memoryswap refusal", code, errOut)
			}
			_, errOut, code = d.docker("update", "--cpu-quota", "20000", name)
			if code == 0 || !strings.Contains(errOut, "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set") {
				t.Errorf("update --cpu-quota after --cpus: exit %d, stderr %q", code, errOut)
			}
			if got := cgroupValue(t, id, "memory", "memory.limit_in_bytes", "memory.max"); got != "67108864" {
				t.Errorf("memory limit after refused updates = %s, want 67108864", got)
			}

			// dctl, over 9P: lifts the pids limit.
			if out := d.mustDctl("update", "--pids-limit", "-1", name); out != name+"\n" {
				t.Errorf("dctl update printed %q", out)
			}
			if got := cgroupValue(t, id, "pids", "pids.max", "pids.max"); got != "max" {
				t.Errorf("pids.max after dctl update --pids-limit -1 = %s, want max", got)
			}
		})
	}

	t.Run("stopped", func(t *testing.T) {
		d.mustDocker("create", "--name", "upd-stopped", "busybox", "sleep", "300")
		defer d.docker("rm", "-f", "upd-stopped")
		d.mustDocker("update", "-m", "32m", "--memory-swap", "64m", "upd-stopped")
		d.mustDocker("start", "upd-stopped")
		id := strings.TrimSpace(d.mustDocker("inspect", "-f", "{{.Id}}", "upd-stopped"))
		if got := cgroupValue(t, id, "memory", "memory.limit_in_bytes", "memory.max"); got != "33554432" {
			t.Errorf("memory limit of a container updated while stopped = %s, want 33554432", got)
		}
	})

	t.Run("api", func(t *testing.T) {
		d.mustDocker("run", "-d", "--name", "upd-api", "busybox", "sleep", "300")
		defer d.docker("rm", "-f", "upd-api")
		status, body := d.call("POST", "/v1.50/containers/upd-api/update", `{"CpuShares":512}`)
		if status != 200 || strings.TrimSpace(string(body)) != `{"Warnings":[]}` {
			t.Errorf("POST update = %d %s, want 200 {\"Warnings\":[]}", status, body)
		}
		status, body = d.call("POST", "/v1.50/containers/upd-api/update", `{"BlkioWeight":300}`)
		if status != 400 || !strings.Contains(errMessage(t, body), "BlkioWeight") {
			t.Errorf("POST update BlkioWeight = %d %s, want 400 naming BlkioWeight", status, body)
		}
		status, body = d.call("POST", "/v1.50/containers/nosuch/update", `{"CpuShares":512}`)
		if status != 404 || errMessage(t, body) != "No such container: nosuch" {
			t.Errorf("POST update of nosuch = %d %s", status, body)
		}
	})
}

// TestDockerNotSwarm: the swarm endpoints answer as a dockerd in no swarm
// (503 and its text), which clients tolerate; the docker CLI prints it.
func TestDockerNotSwarm(t *testing.T) {
	d := startDockerd(t)
	const msg = `This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.`
	for _, p := range []string{"/swarm", "/nodes", "/services", "/tasks", "/secrets", "/configs", "/swarm/unlockkey"} {
		status, body := d.call("GET", "/v1.50"+p, "")
		if status != 503 || errMessage(t, body) != msg {
			t.Errorf("GET %s = %d %s, want 503 %q", p, status, body, msg)
		}
	}
	if status, body := d.call("POST", "/v1.50/swarm/leave", ""); status != 503 || errMessage(t, body) != "This node is not part of a swarm" {
		t.Errorf("POST /swarm/leave = %d %s", status, body)
	}
	_, errOut, code := d.docker("node", "ls")
	if code == 0 || !strings.Contains(errOut, msg) {
		t.Errorf("docker node ls: exit %d, stderr %q", code, errOut)
	}
}

// TestDockerRmRunningText: rm of a running container is refused in
// dockerd's words, which clients match on.
func TestDockerRmRunningText(t *testing.T) {
	d := startDockerd(t)
	d.mustDocker("run", "-d", "--name", "busy", "busybox", "sleep", "300")
	defer d.docker("rm", "-f", "busy")
	id := strings.TrimSpace(d.mustDocker("inspect", "-f", "{{.Id}}", "busy"))
	_, errOut, code := d.docker("rm", "busy")
	want := "Error response from daemon: You cannot remove a running container " + id +
		". Stop the container before attempting removal or force remove"
	if code == 0 || !strings.Contains(errOut, want) {
		t.Errorf("docker rm of a running container: exit %d, stderr %q, want %q", code, errOut, want)
	}
}

// errMessage is the message of docker's JSON error body.
func errMessage(t *testing.T, body []byte) string {
	t.Helper()
	var m struct{ Message string }
	if err := json.Unmarshal(body, &m); err != nil {
		t.Errorf("error body %q is not docker's JSON: %v", body, err)
	}
	return m.Message
}

// TestDockerPruneAndSizes: docker container prune (with filters) and
// docker system prune remove the stopped containers and say the space
// reclaimed; ps -s, inspect -s and system df show the sizes of the
// containers' changes; dctl container prune does the same over 9P.
func TestDockerPruneAndSizes(t *testing.T) {
	d := startDockerd(t)
	d.mustDocker("run", "--name", "p1", "busybox", "dd", "if=/dev/zero", "of=/big", "bs=1000", "count=100")
	d.mustDocker("create", "--name", "p2", "--label", "keep=1", "busybox", "true")
	d.mustDocker("run", "-d", "--name", "p3", "busybox", "sleep", "300")
	defer d.docker("rm", "-f", "p3")
	id1 := strings.TrimSpace(d.mustDocker("inspect", "-f", "{{.Id}}", "p1"))

	if out := d.mustDocker("inspect", "-s", "-f", "{{.SizeRw}}", "p1"); out != "100000\n" {
		t.Errorf("inspect -s SizeRw of p1 = %q, want 100000", out)
	}
	if out := d.mustDocker("ps", "-a", "-s", "--filter", "name=p1", "--format", "{{.Size}}"); !strings.HasPrefix(out, "100kB (virtual ") {
		t.Errorf("ps -s of p1 = %q, want 100kB (virtual ...)", out)
	}
	if out := d.mustDocker("system", "df", "--format", "{{.Type}} {{.Size}}"); !strings.Contains(out, "Containers 100kB\n") {
		t.Errorf("system df = %q, want Containers 100kB", out)
	}

	df := d.mustDctl("system", "df")
	if !regexp.MustCompile(`(?m)^Containers +3 +1 +100kB +100kB \(100%\)$`).MatchString(df) {
		t.Errorf("dctl system df =\n%s\nwant Containers 3 1 100kB 100kB (100%%)", df)
	}

	out := d.mustDocker("container", "prune", "-f", "--filter", "label!=keep")
	if want := "Deleted Containers:\n" + id1 + "\n\nTotal reclaimed space: 100kB\n"; out != want {
		t.Errorf("container prune = %q, want %q", out, want)
	}
	if out := d.mustDocker("ps", "-a", "--format", "{{.Names}}"); out != "p3\np2\n" && out != "p2\np3\n" {
		t.Errorf("after container prune, ps -a = %q, want p2 and p3", out)
	}
	status, body := d.call("POST", "/v1.50/containers/prune?filters=%7B%22name%22%3A%5B%22x%22%5D%7D", "")
	if status != 400 || !strings.Contains(errMessage(t, body), "name") {
		t.Errorf("prune with a name filter = %d %s, want 400", status, body)
	}

	d.mustDocker("system", "prune", "-f")
	if out := d.mustDocker("ps", "-a", "--format", "{{.Names}}"); out != "p3\n" {
		t.Errorf("after system prune, ps -a = %q, want p3", out)
	}

	d.mustDocker("create", "--name", "p4", "busybox", "true")
	id4 := strings.TrimSpace(d.mustDocker("inspect", "-f", "{{.Id}}", "p4"))
	if out := d.mustDctl("container", "prune", "-f"); out != "Deleted Containers:\n"+id4+"\n\nTotal reclaimed space: 0B\n" {
		t.Errorf("dctl container prune = %q", out)
	}
}

// TestDockerInspectImageDefaults: inspect and ps show the image's
// defaults merged into the container's config, as dockerd does (compose
// ps shows the command): Cmd, Entrypoint, Env with PATH, WorkingDir, User,
// ExposedPorts and Labels, the container's own values over them.
func TestDockerInspectImageDefaults(t *testing.T) {
	d := startDockerd(t)
	d.mustDocker("create", "--name", "plain", "busybox")
	if out := d.mustDocker("inspect", "-f", "{{json .Config.Cmd}} {{json .Config.Env}} {{.Path}}", "plain"); out != `["sh"] ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] sh`+"\n" {
		t.Errorf("inspect of a container using the image's defaults = %q", out)
	}
	if out := d.mustDocker("ps", "-a", "--filter", "name=plain", "--format", "{{.Command}}"); out != `"sh"`+"\n" {
		t.Errorf("ps Command = %q, want \"sh\"", out)
	}

	// (commit of a container never started fails: it has no upper
	// directory yet; a run one is committed.)
	d.mustDocker("run", "--name", "ran", "busybox", "true")
	d.mustDocker("commit", "--change", "LABEL a=b", "--change", "WORKDIR /srv", "--change", "EXPOSE 8080",
		"--change", "USER nobody", "--change", `ENTRYPOINT ["echo"]`, "--change", `CMD ["hi"]`, "ran", "defimg")
	d.mustDocker("create", "--name", "over", "-e", "A=1", "--label", "c=d", "defimg")
	out := d.mustDocker("inspect", "-f", "{{json .Config.Entrypoint}} {{json .Config.Cmd}} {{json .Config.Env}} {{.Config.WorkingDir}} "+
		"{{.Config.User}} {{json .Config.ExposedPorts}} {{json .Config.Labels}}", "over")
	want := `["echo"] ["hi"] ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","A=1"] /srv nobody {"8080/tcp":{}} {"a":"b","c":"d"}` + "\n"
	if out != want {
		t.Errorf("inspect of a container over an image's defaults =\n%s want\n%s", out, want)
	}
	// A command given replaces the image's Cmd, not its Entrypoint.
	d.mustDocker("create", "--name", "cmd", "defimg", "there")
	if out := d.mustDocker("inspect", "-f", "{{json .Config.Entrypoint}} {{json .Config.Cmd}}", "cmd"); out != `["echo"] ["there"]`+"\n" {
		t.Errorf("inspect with a command = %q", out)
	}
}

// TestDockerCreateAndLoadErrors: a create naming a missing network or
// --volumes-from container is refused as a bad parameter (400), not a
// missing object, so that the docker CLI prints the reason rather than
// trying to pull the image; a failed load streams 200 and an errorDetail,
// as dockerd.
func TestDockerCreateAndLoadErrors(t *testing.T) {
	d := startDockerd(t)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"create", "--network", "nosuchnet", "busybox", "true"}, 1, "network nosuchnet not found"},
		{[]string{"run", "--network", "nosuchnet", "busybox", "true"}, 125, "network nosuchnet not found"},
		{[]string{"create", "--volumes-from", "nosuch", "busybox", "true"}, 1, "Error response from daemon: No such container: nosuch"},
	} {
		_, errOut, code := d.docker(tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) || strings.Contains(errOut, "Unable to find image") {
			t.Errorf("docker %s: exit %d, stderr %q; want exit %d, %q and no pull", strings.Join(tc.args, " "), code, errOut, tc.code, tc.msg)
		}
	}
	if out := d.mustDocker("ps", "-aq"); out != "" {
		t.Errorf("refused creates left containers: %q", out)
	}
	status, body := d.call("POST", "/v1.50/containers/create", `{"Image":"busybox","HostConfig":{"VolumesFrom":["nosuch"]}}`)
	if status != 400 || errMessage(t, body) != "No such container: nosuch" {
		t.Errorf("create with volumes-from nosuch = %d %s, want 400 No such container: nosuch", status, body)
	}

	status, body = d.call("POST", "/v1.50/images/load", "not a tar")
	var m struct {
		Error       string `json:"error"`
		ErrorDetail struct {
			Message string `json:"message"`
		} `json:"errorDetail"`
	}
	if err := json.Unmarshal(body, &m); status != 200 || err != nil || m.Error == "" || m.ErrorDetail.Message != m.Error {
		t.Errorf("a failed load = %d %s, want 200 and an errorDetail", status, body)
	}
	if _, errOut, code := d.dockerIn("not a tar", "load"); code != 1 || !strings.Contains(errOut, "not a readable tar archive") {
		t.Errorf("docker load of garbage: exit %d, stderr %q", code, errOut)
	}
}

// dockerPyUpdate is what a python3-docker user writes for update, prune,
// sizes, image defaults and the swarm check.
const dockerPyUpdate = `
import docker, sys
c = docker.DockerClient(base_url=sys.argv[1])
d = c.containers.run("busybox", "sleep 300", detach=True, name="pyupd")
print("update", d.update(mem_limit="64m", memswap_limit="128m", cpu_shares=512, restart_policy={"Name": "always"}))
d.reload()
hc = d.attrs["HostConfig"]
print("limits", hc["Memory"], hc["CpuShares"], hc["RestartPolicy"]["Name"])
p = c.containers.create("busybox", name="pyplain")
print("cmd", p.attrs["Config"]["Cmd"], any(e.startswith("PATH=") for e in p.attrs["Config"]["Env"]))
e = c.containers.run("busybox", ["sh", "-c", "echo 12345 > /f"], detach=True, name="pyex")
e.wait()
print("size", c.api.containers(all=True, size=True, filters={"name": "pyex"})[0]["SizeRw"])
r = c.containers.prune()
print("prune", sorted(r["ContainersDeleted"]) == sorted([e.id, p.id]), r["SpaceReclaimed"])
try:
    c.swarm.reload()
except docker.errors.APIError as err:
    print("swarm", err.status_code)
d.remove(force=True)
`

// TestDockerPyUpdate: the same through python3-docker.
func TestDockerPyUpdate(t *testing.T) {
	testenv.NeedBinary(t, debianPython, "Debian's python3 with python3-docker")
	d := startDockerd(t)
	out := runPy(t, dockerPyUpdate, d.host)
	want := "update {'Warnings': []}\nlimits 67108864 512 always\ncmd ['sh'] True\nsize 6\nprune True 6\nswarm 503\n"
	if out != want {
		t.Errorf("python3-docker printed\n%s\nwant\n%s", out, want)
	}
}

// TestComposePsCommand: docker-compose ps shows the image's command of a
// service that gives none (the image's Cmd merged into the container's).
func TestComposePsCommand(t *testing.T) {
	bin := testenv.NeedBinary(t, "docker-compose", "docker-compose")
	d := startDockerd(t)
	dir := t.TempDir()
	const file = "version: \"3\"\nservices:\n  shell:\n    image: busybox\n    tty: true\n    stdin_open: true\n    stop_signal: SIGKILL\n"
	if err := os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	compose := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"-p", "efsu"}, args...)...)
		cmd.Dir, cmd.Env = dir, d.env()
		out, err := cmd.CombinedOutput()
		return string(out), exitCode(t, cmd, err)
	}
	defer compose("down")
	if out, code := compose("up", "-d"); code != 0 {
		t.Fatalf("up -d: exit %d\n%s", code, out)
	}
	out, code := compose("ps")
	if code != 0 || !regexp.MustCompile(`(?m)^efsu_shell_1 +sh +Up`).MatchString(out) {
		t.Errorf("compose ps (exit %d) does not show the command sh:\n%s", code, out)
	}
}
