//go:build linux

package tests

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDockerCLI drives the bridge with the stock docker CLI, as a user
// would, and checks what the user sees.
func TestDockerCLI(t *testing.T) {
	d := startDockerd(t)

	t.Run("version and info", func(t *testing.T) {
		out := d.mustDocker("version")
		if !strings.Contains(out, "Server: enginefs") || !regexp.MustCompile(`API version:\s+1\.50 \(minimum version 1\.41\)`).MatchString(out) {
			t.Errorf("docker version does not show the server's API versions:\n%s", out)
		}
		out = d.mustDocker("info")
		for _, want := range []string{"Server Version: ", "Images: 1", "Storage Driver: overlay", "Default Runtime: builtin"} {
			if !strings.Contains(out, want) {
				t.Errorf("docker info lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("info tells the confinement containers get", func(t *testing.T) {
		var info struct{ SecurityOptions []string }
		if err := json.Unmarshal([]byte(d.mustDocker("info", "--format", "{{json .}}")), &info); err != nil {
			t.Fatal(err)
		}
		// /proc/self/status: "Seccomp: 2" under a filter, "0" without.
		status := d.mustDocker("run", "--rm", "busybox", "grep", "^Seccomp:", "/proc/self/status")
		filtered := strings.Fields(status)[1] == "2"
		listed := slices.ContainsFunc(info.SecurityOptions, func(o string) bool { return strings.HasPrefix(o, "name=seccomp") })
		if filtered != listed {
			t.Errorf("info's SecurityOptions %q, while a container's status says %q", info.SecurityOptions, status)
		}
		cgroupns := d.mustDocker("run", "--rm", "busybox", "sh", "-c", "readlink /proc/self/ns/cgroup") != hostNamespace(t, "cgroup")+"\n"
		if cgroupns != slices.Contains(info.SecurityOptions, "name=cgroupns") {
			t.Errorf("info's SecurityOptions %q, while a container has a cgroup namespace of its own: %v", info.SecurityOptions, cgroupns)
		}
	})
	t.Run("run --rm", func(t *testing.T) {
		if out := d.mustDocker("run", "--rm", "busybox", "echo", "hello"); out != "hello\n" {
			t.Errorf("run --rm busybox echo hello printed %q", out)
		}
		out, errOut, code := d.docker("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
		if out != "out\n" || errOut != "err\n" || code != 3 {
			t.Errorf("stdout %q, stderr %q, exit %d; want out, err, 3", out, errOut, code)
		}
		if ps := d.mustDocker("ps", "-aq"); ps != "" {
			t.Errorf("ps -a after run --rm shows %q", ps)
		}
	})
	t.Run("run -i pipes stdin", func(t *testing.T) {
		if out, errOut, code := d.dockerIn("hello\n", "run", "-i", "--rm", "busybox", "tr", "a-z", "A-Z"); out != "HELLO\n" || code != 0 {
			t.Errorf("run -i tr: %q, %q, exit %d", out, errOut, code)
		}
		// An empty input ends the container's too.
		if out, errOut, code := d.docker("run", "-i", "--rm", "busybox", "wc", "-c"); strings.TrimSpace(out) != "0" || code != 0 {
			t.Errorf("run -i wc -c with no input: %q, %q, exit %d", out, errOut, code)
		}
	})
	t.Run("run -d with flags, ps filters, inspect, exec, top, stats, logs", func(t *testing.T) {
		id := strings.TrimSpace(d.mustDocker("run", "-d", "--name", "web", "-e", "GREETING=hi there", "-m", "64m", "--cpus", "0.5",
			"--label", "tier=front", "busybox", "sh", "-c", `echo "$GREETING"; echo oops >&2; i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done`))
		if len(id) != 64 {
			t.Fatalf("run -d printed %q, want an id", id)
		}
		defer d.docker("rm", "-f", "web")
		d.mustDocker("create", "--name", "idle", "--label", "tier=back", "busybox", "true")
		defer d.docker("rm", "-f", "idle")
		if ps := d.mustDocker("ps", "--format", "{{.Names}} {{.Status}}"); !regexp.MustCompile(`(?m)^web Up `).MatchString(ps) || strings.Contains(ps, "idle") {
			t.Errorf("ps shows:\n%s", ps)
		}
		for filter, want := range map[string]string{
			"label=tier=front": "web", "label=tier=back": "idle", "name=idl": "idle",
			"status=created": "idle", "status=running": "web", "id=" + id[:10]: "web",
		} {
			if got := strings.TrimSpace(d.mustDocker("ps", "-a", "--filter", filter, "--format", "{{.Names}}")); got != want {
				t.Errorf("ps -a --filter %s: %q, want %q", filter, got, want)
			}
		}
		out := d.mustDocker("inspect", "-f", "{{.State.Status}} {{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{index .Config.Labels \"tier\"}} {{.Name}}", "web")
		if out != "running 67108864 500000000 front /web\n" {
			t.Errorf("inspect: %q", out)
		}
		if out := d.mustDocker("exec", "web", "sh", "-c", `echo "$GREETING"; cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max`); out != "hi there\n67108864\n" {
			t.Errorf("exec sees %q, want the env and the memory limit", out)
		}
		if _, _, code := d.docker("exec", "web", "sh", "-c", "exit 5"); code != 5 {
			t.Errorf("exec exit code %d, want 5", code)
		}
		if out := d.mustDocker("top", "web"); !strings.Contains(out, "PID") || !strings.Contains(out, "while true") {
			t.Errorf("top:\n%s", out)
		}
		// ps lists by pid, and host pids wrap: sh may come after its sleep.
		if out := d.mustDocker("top", "web", "-o", "pid,comm"); !regexp.MustCompile(`^PID\s+COMMAND\n(\d+\s+\S+\n)*\d+\s+sh\n`).MatchString(out) {
			t.Errorf("top -o pid,comm:\n%s", out)
		}
		if out := d.mustDocker("stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}", "web"); !regexp.MustCompile(`^web \S+ / 64MiB\n$`).MatchString(out) {
			t.Errorf("stats --no-stream: %q", out)
		}
		waitFor(t, func() bool { o, _, _ := d.docker("logs", "web"); return strings.Contains(o, "tick 3\n") })
		out, errOut, _ := d.docker("logs", "web")
		if !strings.HasPrefix(out, "hi there\ntick 1\ntick 2\n") || errOut != "oops\n" {
			t.Errorf("logs: stdout %q, stderr %q", out, errOut)
		}
		out = d.mustDocker("logs", "-t", "--tail", "2", "web")
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		stamp := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (tick \d+|oops)$`)
		if len(lines) != 2 || !stamp.MatchString(lines[0]) || !stamp.MatchString(lines[1]) {
			t.Errorf("logs -t --tail 2: %q", out)
		}
		// logs -f follows until the container stops.
		done := make(chan string, 1)
		go func() {
			o, _, _ := d.docker("logs", "-f", "--tail", "0", "web")
			done <- o
		}()
		time.Sleep(time.Second)
		d.mustDocker("stop", "-t", "1", "web")
		select {
		case o := <-done:
			if !strings.Contains(o, "tick") {
				t.Errorf("logs -f printed %q, want the ticks of the second before the stop", o)
			}
		case <-time.After(20 * time.Second):
			t.Error("logs -f did not end when the container stopped")
		}
	})
	t.Run("lifecycle", func(t *testing.T) {
		state := func() string {
			return strings.TrimSpace(d.mustDocker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "life"))
		}
		d.mustDocker("create", "--name", "life", "busybox", "sh", "-c", "trap 'exit 7' TERM; trap 'exit 8' USR1; while true; do sleep 0.1; done")
		if s := state(); s != "created 0" {
			t.Errorf("after create: %q", s)
		}
		d.mustDocker("start", "life")
		if s := state(); s != "running 0" {
			t.Errorf("after start: %q", s)
		}
		if out := d.mustDocker("start", "life"); out != "life\n" { // 304 from the daemon: nothing to do
			t.Errorf("start of a running container printed %q", out)
		}
		d.mustDocker("stop", "life")
		if s := state(); s != "exited 7" {
			t.Errorf("after stop: %q", s)
		}
		d.mustDocker("restart", "-t", "1", "life")
		if s := state(); s != "running 0" {
			t.Errorf("after restart: %q", s)
		}
		d.mustDocker("stop", "--signal", "USR1", "life")
		if s := state(); s != "exited 8" {
			t.Errorf("after stop --signal USR1: %q", s)
		}
		d.mustDocker("start", "life")
		d.mustDocker("kill", "life")
		if s := state(); s != "exited 137" {
			t.Errorf("after kill: %q", s)
		}
		if out := d.mustDocker("wait", "life"); out != "137\n" {
			t.Errorf("wait: %q", out)
		}
		d.mustDocker("start", "life")
		if _, errOut, code := d.docker("rm", "life"); code == 0 || !strings.Contains(errOut, "You cannot remove a running container") {
			t.Errorf("rm of a running container: exit %d, %q", code, errOut)
		}
		d.mustDocker("rm", "-f", "life")
		if _, errOut, code := d.docker("inspect", "life"); code == 0 || !strings.Contains(errOut, "No such object: life") {
			t.Errorf("inspect after rm -f: exit %d, %q", code, errOut)
		}
	})
	t.Run("wait blocks until the exit", func(t *testing.T) {
		d.mustDocker("run", "-d", "--name", "w", "busybox", "sh", "-c", "sleep 1; exit 9")
		defer d.docker("rm", "-f", "w")
		start := time.Now()
		if out := d.mustDocker("wait", "w"); out != "9\n" || time.Since(start) < 500*time.Millisecond {
			t.Errorf("wait printed %q after %v", out, time.Since(start))
		}
	})
	t.Run("run -it and exec -it on a terminal", func(t *testing.T) {
		out, code := d.onPty(30, 100, []string{"run", "-it", "--rm", "busybox", "sh", "-c", "tty; stty size; read x; echo got $x; exit 4"}, "hi\n")
		if code != 4 || !strings.Contains(out, "/dev/pts/0\n") || !strings.Contains(out, "30 100\n") || !strings.Contains(out, "got hi\n") {
			t.Errorf("run -it: exit %d, terminal showed %q", code, out)
		}
		d.mustDocker("run", "-d", "--name", "sh1", "busybox", "sleep", "300")
		defer d.docker("rm", "-f", "sh1")
		out, code = d.onPty(24, 80, []string{"exec", "-it", "sh1", "sh"}, "stty size; echo in exec\n", "exit 6\n")
		if code != 6 || !strings.Contains(out, "24 80\n") || !strings.Contains(out, "in exec\n") {
			t.Errorf("exec -it: exit %d, terminal showed %q", code, out)
		}
	})
	t.Run("attach and detach", func(t *testing.T) {
		d.mustDocker("run", "-dit", "--name", "att", "busybox", "sh")
		defer d.docker("rm", "-f", "att")
		out, _ := d.onPty(24, 80, []string{"attach", "att"}, "echo attached-$((40+2))\n", "\x10\x11")
		if !strings.Contains(out, "attached-42\n") || !strings.Contains(out, "read escape sequence") {
			t.Errorf("attach showed %q", out)
		}
		if s := strings.TrimSpace(d.mustDocker("inspect", "-f", "{{.State.Status}}", "att")); s != "running" {
			t.Errorf("after detaching the container is %s", s)
		}
		// docker start -a attaches to a stopped container and starts it;
		// the second time the exit code is the second run's.
		d.mustDocker("create", "--name", "sa", "busybox", "sh", "-c", "echo from start -a; test -e /ran && exit 3; touch /ran; exit 2")
		defer d.docker("rm", "-f", "sa")
		for _, want := range []int{2, 3} {
			out, _, code := d.docker("start", "-a", "sa")
			if out != "from start -a\n" || code != want {
				t.Errorf("start -a: %q, exit %d, want %d", out, code, want)
			}
		}
	})
	t.Run("pause, unpause, rename", func(t *testing.T) {
		d.mustDocker("run", "-d", "--name", "p", "busybox", "sleep", "300")
		defer d.docker("rm", "-f", "p2")
		d.mustDocker("pause", "p")
		if ps := d.mustDocker("ps", "--format", "{{.Names}} {{.Status}}", "--filter", "name=p"); !strings.Contains(ps, "(Paused)") {
			t.Errorf("ps after pause: %q", ps)
		}
		d.mustDocker("unpause", "p")
		d.mustDocker("rename", "p", "p2")
		if s := d.mustDocker("inspect", "-f", "{{.Name}} {{.State.Status}}", "p2"); s != "/p2 running\n" {
			t.Errorf("after rename: %q", s)
		}
	})
	t.Run("events", func(t *testing.T) {
		since := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
		d.mustDocker("run", "--rm", "--name", "ev", "busybox", "true")
		until := strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10)
		out := d.mustDocker("events", "--since", since, "--until", until, "--filter", "container=ev", "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}")
		if want := "container create ev\ncontainer start ev\ncontainer die ev\ncontainer destroy ev\n"; out != want {
			t.Errorf("events:\n%s\nwant:\n%s", out, want)
		}
		out = d.mustDocker("events", "--since", since, "--until", until, "--filter", "event=die", "--format", "{{.Actor.Attributes.exitCode}}")
		if !strings.Contains(out, "0\n") {
			t.Errorf("die events carry no exit code: %q", out)
		}
	})
	t.Run("images, load, system df", func(t *testing.T) {
		if out := d.mustDocker("load", "-i", bins.busybox); out != "Loaded image: busybox:latest\n" {
			t.Errorf("load: %q", out)
		}
		if out := d.mustDocker("images", "--format", "{{.Repository}}:{{.Tag}}"); out != "busybox:latest\n" {
			t.Errorf("images: %q", out)
		}
		if out := d.mustDocker("image", "inspect", "-f", "{{json .Config.Cmd}}", "busybox"); out != "[\"sh\"]\n" {
			t.Errorf("image inspect: %q", out)
		}
		d.mustDocker("create", "--name", "df", "busybox", "true")
		defer d.docker("rm", "df")
		out := d.mustDocker("system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Active}}")
		for _, want := range []string{"Images 1 1", "Containers "} {
			if !strings.Contains(out, want) {
				t.Errorf("system df lacks %q:\n%s", want, out)
			}
		}
	})
}

// TestDockerErrors checks docker's status codes and messages for bad
// requests, with the CLI where it can send them and plain HTTP where not.
func TestDockerErrors(t *testing.T) {
	d := startDockerd(t)
	message := func(body []byte) string {
		var m struct{ Message string }
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("error body %q is not docker's JSON: %v", body, err)
		}
		return m.Message
	}
	if _, errOut, code := d.docker("rm", "nope"); code != 1 || !strings.Contains(errOut, "Error response from daemon: No such container: nope") {
		t.Errorf("rm nope: exit %d, %q", code, errOut)
	}
	if _, errOut, code := d.docker("run", "--rm", "busybox", "/nosuch"); code == 0 || !strings.Contains(errOut, "/nosuch") {
		t.Errorf("run /nosuch: exit %d, %q", code, errOut)
	}
	if _, errOut, code := d.docker("create", "--name", "bad name", "busybox"); code == 0 || !strings.Contains(errOut, "invalid container name") {
		t.Errorf("create --name 'bad name': exit %d, %q", code, errOut)
	}
	for _, c := range []struct {
		method, path, body string
		status             int
		msg                string
	}{
		{"POST", "/v1.50/containers/create", `{"Image": "busybox",`, 400, "invalid JSON"},
		{"POST", "/v1.50/containers/create", ``, 400, "empty"},
		{"POST", "/v1.50/containers/create", `{"Image": "nosuch:v9"}`, 404, "No such image: nosuch:v9"},
		{"GET", "/v1.50/containers/nope/json", ``, 404, "No such container: nope"},
		{"POST", "/v1.50/containers/nope/start", ``, 404, "No such container: nope"},
		{"POST", "/v1.50/containers/nope/wait", ``, 404, "No such container: nope"},
		{"GET", "/v1.50/exec/0123/json", ``, 404, "No such exec instance"},
		{"GET", "/v1.40/_ping", ``, 400, "client version 1.40 is too old. Minimum supported API version is 1.41"},
		{"GET", "/v1.51/version", ``, 400, "client version 1.51 is too new. Maximum supported API version is 1.50"},
		{"GET", "/v1.50/nosuch", ``, 404, "page not found"},
		{"GET", "/v1.50/containers/json?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D", ``, 400, "invalid filter 'bogus'"},
		{"POST", "/v1.50/containers/nope/wait?condition=whenever", ``, 400, "invalid condition"},
		{"POST", "/v1.50/containers/create", `{"Image": "busybox", "HostConfig": {"NetworkMode": "host", "Links": ["a:b"]}}`, 400, "host type networking can't be used with links"},
		{"POST", "/v1.50/containers/create", `{"Image": "busybox", "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": "x"}]}}}`, 400, "port"},
		{"POST", "/v1.50/containers/create", `{"Image": "busybox", "HostConfig": {"NetworkMode": "nonet"}}`, 400, "network nonet not found"},
		{"GET", "/v1.50/images/nosuch:v9/json", ``, 404, "No such image: nosuch:v9"},
		{"GET", "/v1.50/images/nosuch:v9/history", ``, 404, "No such image: nosuch:v9"},
		{"DELETE", "/v1.50/images/nosuch:v9", ``, 404, "No such image: nosuch:v9"},
		{"POST", "/v1.50/images/create", ``, 400, "fromImage is required"},
		{"POST", "/v1.50/images/create?fromSrc=-", ``, 400, "no tarball"},
		{"POST", "/v1.50/images/create?fromSrc=http://127.0.0.1:1/x.tar", ``, 501, "not implemented"},
		{"POST", "/v1.50/images/create?fromSrc=-", `not a tar at all, but long enough to be read as one`, 400, "tar"},
		{"POST", "/v1.50/build", ``, 400, "Cannot locate specified Dockerfile: Dockerfile"},
		{"POST", "/v1.50/build?version=2", ``, 400, "BuildKit"},
		{"POST", "/v1.50/build?buildargs=%7Bbad", ``, 400, "buildargs"},
		{"POST", "/v1.50/commit?container=nope", ``, 404, "nope"},
		{"POST", "/v1.50/images/create?fromImage=Bad%20Name", ``, 400, "invalid reference format"},
		{"POST", "/v1.50/images/busybox/tag", ``, 400, "repo is required"},
		{"POST", "/v1.50/images/busybox/tag?repo=UPPER", ``, 400, "UPPER"},
		{"POST", "/v1.50/images/prune?filters=%7B%22until%22%3A%5B%221h%22%5D%7D", ``, 400, "until"},
		{"POST", "/v1.50/auth", `{"username": "u"`, 400, "invalid JSON"},
		{"GET", "/v1.50/networks/nope", ``, 404, "network nope not found"},
		{"POST", "/v1.50/networks/create", `{}`, 400, "Name is empty"},
		{"POST", "/v1.50/networks/create", `{"Name": "n", "Driver": "overlay"}`, 400, "unknown driver \"overlay\""},
		{"POST", "/v1.50/networks/create", `{"Name": "n", "IPAM": {"Config": [{"Subnet": "10.9.0.0/24"}, {"Subnet": "10.9.1.0/24"}]}}`, 400, "2 IPAM configs"},
		{"POST", "/v1.50/networks/create", `{"Name": "n", "IPAM": {"Config": [{"Subnet": "10.9.0.0/33"}]}}`, 400, "10.9.0.0/33"},
		{"POST", "/v1.50/networks/create", `{"Name": "bad/name"}`, 400, "invalid network name"},
		{"DELETE", "/v1.50/networks/host", ``, 403, "pre-defined network"},
		{"POST", "/v1.50/networks/bridge/connect", `{"Container": "nope"}`, 404, "No such container: nope"},
		{"POST", "/v1.50/networks/nope/disconnect", `{}`, 400, "no container given"},
		{"GET", "/v1.50/networks?filters=%7B%22type%22%3A%5B%22odd%22%5D%7D", ``, 400, "invalid filter"},
		{"GET", "/v1.50/volumes/nope", ``, 404, "nope"},
		{"DELETE", "/v1.50/volumes/nope", ``, 404, "nope"},
		{"POST", "/v1.50/volumes/create", `{"Name": "a/b"}`, 400, "a/b"},
		{"GET", "/v1.50/volumes?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D", ``, 400, "invalid filter 'bogus'"},
	} {
		status, body := d.call(c.method, c.path, c.body)
		if status != c.status || !strings.Contains(message(body), c.msg) {
			t.Errorf("%s %s %s: %d %s; want %d with %q", c.method, c.path, c.body, status, body, c.status, c.msg)
		}
	}
	d.mustDocker("run", "-d", "--name", "busy", "busybox", "sleep", "300")
	defer d.docker("rm", "-f", "busy")
	if status, body := d.call("POST", "/v1.50/containers/busy/start", ""); status != 304 || len(body) != 0 {
		t.Errorf("start of a running container: %d %q, want 304 and no body", status, body)
	}
	if status, body := d.call("DELETE", "/v1.50/containers/busy", ""); status != 409 || !strings.Contains(message(body), "You cannot remove a running container") {
		t.Errorf("remove of a running container: %d %s, want 409", status, body)
	}
	if status, body := d.call("POST", "/v1.50/containers/busy/exec", `{"Cmd": []}`); status != 400 || !strings.Contains(message(body), "No exec command specified") {
		t.Errorf("exec without a command: %d %s", status, body)
	}
	if status, body := d.call("GET", "/v1.50/containers/busy/top?ps_args=aux", ""); status != 400 || !strings.Contains(message(body), `"aux" is not available`) {
		t.Errorf("top with ps_args aux: %d %s, want 400", status, body)
	}
	if status, body := d.call("POST", "/v1.50/containers/busy/stop?signal=SIGBOGUS", ""); status != 400 || !strings.Contains(message(body), "SIGBOGUS") {
		t.Errorf("stop with a bad signal: %d %s, want 400", status, body)
	}
	d.mustDocker("stop", "-t", "0", "busy")
	if status, _ := d.call("POST", "/v1.50/containers/busy/stop", ""); status != 304 {
		t.Errorf("stop of a stopped container: %d, want 304", status)
	}
	if status, body := d.call("POST", "/v1.50/containers/busy/kill", ""); status != 409 || !strings.Contains(message(body), "not running") {
		t.Errorf("kill of a stopped container: %d %s, want 409", status, body)
	}
	if status, body := d.call("POST", "/v1.50/containers/busy/exec", `{"Cmd": ["true"]}`); status != 409 || !strings.Contains(message(body), "is not running") {
		t.Errorf("exec in a stopped container: %d %s, want 409", status, body)
	}
	// Nothing of the bad requests was created.
	if out := d.mustDocker("ps", "-aq"); len(strings.Fields(out)) != 1 {
		t.Errorf("containers after the bad requests: %q, want only busy", out)
	}
	if out := d.mustDocker("network", "ls", "-q", "--filter", "type=custom"); out != "" {
		t.Errorf("networks after the bad requests: %q", out)
	}
	if out := d.mustDocker("volume", "ls", "-q"); out != "" {
		t.Errorf("volumes after the bad requests: %q", out)
	}
	if out := d.mustDocker("images", "--format", "{{.Repository}}"); out != "busybox\n" {
		t.Errorf("images after the bad requests: %q", out)
	}
}

// hostNamespace is the name of the test's own namespace of kind (as
// readlink /proc/self/ns/KIND prints it).
func hostNamespace(t *testing.T, kind string) string {
	t.Helper()
	ns, err := os.Readlink("/proc/self/ns/" + kind)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}
