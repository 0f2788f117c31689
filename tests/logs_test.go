//go:build linux

package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

// TestDockerLogDrivers checks --log-driver and --log-opt through the docker
// CLI: what dockerd refuses is refused at create with dockerd's message and
// leaves no container, the config shows in inspect, and a container whose
// driver keeps nothing (none) answers docker logs as dockerd does.
func TestDockerLogDrivers(t *testing.T) {
	d := startDockerd(t)
	t.Run("refused at create", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			msg  string
		}{
			{[]string{"--log-driver", "foo"}, `error looking up logging plugin foo: plugin "foo" not found`},
			{[]string{"--log-driver", "json-file", "--log-opt", "bogus=1"}, "unknown log opt 'bogus' for json-file log driver"},
			{[]string{"--log-opt", "max-size=abc"}, "invalid size: 'abc'"},
			{[]string{"--log-driver", "local", "--log-opt", "max-file=1", "--log-opt", "compress=true"}, "compression cannot be enabled when max file count is 1"},
			{[]string{"--log-driver", "journald"}, "journald is not enabled on this host"},
		} {
			args := append(append([]string{"create", "--name", "bad"}, tc.args...), "busybox", "true")
			_, errOut, code := d.docker(args...)
			if code == 0 || !strings.Contains(errOut, tc.msg) {
				t.Errorf("docker %s: exit %d, stderr %q; want a refusal with %q", strings.Join(args, " "), code, errOut, tc.msg)
			}
		}
		if out := d.mustDocker("ps", "-aq"); out != "" {
			t.Errorf("refused creates left containers: %q", out)
		}
	})
	t.Run("inspect", func(t *testing.T) {
		d.mustDocker("create", "--name", "lj", "--log-driver", "json-file", "--log-opt", "max-size=1k", "--log-opt", "max-file=3", "busybox", "true")
		if out := d.mustDocker("inspect", "-f", "{{json .HostConfig.LogConfig}}", "lj"); out != `{"Type":"json-file","Config":{"max-file":"3","max-size":"1k"}}`+"\n" {
			t.Errorf("inspect lj: LogConfig %s", out)
		}
		d.mustDocker("create", "--name", "ld", "busybox", "true")
		if out := d.mustDocker("inspect", "-f", "{{json .HostConfig.LogConfig}}", "ld"); out != `{"Type":"json-file","Config":{}}`+"\n" {
			t.Errorf("inspect ld (no driver named): LogConfig %s", out)
		}
	})
	t.Run("none", func(t *testing.T) {
		out := d.mustDocker("run", "--name", "ln", "--log-driver", "none", "busybox", "echo", "hi")
		if out != "hi\n" {
			t.Errorf("docker run --log-driver none (attached) printed %q, want the output all the same", out)
		}
		_, errOut, code := d.docker("logs", "ln")
		if code == 0 || !strings.Contains(errOut, "configured logging driver does not support reading") {
			t.Errorf("docker logs ln: exit %d, stderr %q; want dockerd's refusal", code, errOut)
		}
		if status, body := d.call("GET", "/v1.50/containers/ln/logs?stdout=1", ""); status != 501 {
			t.Errorf("GET logs of ln: %d %s, want 501", status, body)
		}
	})
}

// TestDockerDaemonLogDriver starts the daemon with --log-driver local
// --log-opt max-size=2m: docker info names it, and a container that names
// no driver gets it with its options; dctl run takes --log-driver.
func TestDockerDaemonLogDriver(t *testing.T) {
	d := startDockerd(t, "--log-driver", "local", "--log-opt", "max-size=2m")
	if out := d.mustDocker("info", "-f", "{{.LoggingDriver}}"); out != "local\n" {
		t.Errorf("docker info: LoggingDriver %q, want local", out)
	}
	d.mustDocker("create", "--name", "dl", "busybox", "true")
	if out := d.mustDocker("inspect", "-f", "{{json .HostConfig.LogConfig}}", "dl"); out != `{"Type":"local","Config":{"max-size":"2m"}}`+"\n" {
		t.Errorf("inspect dl: LogConfig %s, want the daemon's", out)
	}
	if _, errOut, code := d.dctl("run", "--log-driver", "none", "--name", "dn", "busybox", "echo", "x"); code != 0 {
		t.Fatalf("dctl run --log-driver none: exit %d: %s", code, errOut)
	}
	// The tree's logs file (docker logs' source) refuses to open.
	if out, errOut, err := d.trySh("cat " + d.mnt + "/containers/dn/logs"); err == nil {
		t.Errorf("cat containers/dn/logs of a none container: %q %q, want a refusal", out, errOut)
	}
}

// jsonLine is one line of docker's json-file format.
type jsonLine struct {
	Log    string `json:"log"`
	Stream string `json:"stream"`
	Time   string `json:"time"`
}

// readJSONLog parses a json-file log (gzipped when its name ends in .gz).
func readJSONLog(t *testing.T, path string) []jsonLine {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	var out []jsonLine
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if l == "" {
			continue
		}
		var j jsonLine
		if err := json.Unmarshal([]byte(l), &j); err != nil {
			t.Fatalf("%s: line %q: %v", path, l, err)
		}
		if _, err := time.Parse(time.RFC3339Nano, j.Time); err != nil {
			t.Errorf("%s: time %q: %v", path, j.Time, err)
		}
		out = append(out, j)
	}
	return out
}

// TestDockerJSONFileLog runs containers with the json-file driver: the file
// docker inspect's LogPath names holds docker's JSON lines, and max-size,
// max-file and compress rotate it as docker does (file, file.1.gz, ...).
func TestDockerJSONFileLog(t *testing.T) {
	d := startDockerd(t)
	d.mustDocker("run", "--name", "j1", "busybox", "sh", "-c", "echo out; echo err >&2")
	path := strings.TrimSpace(d.mustDocker("inspect", "-f", "{{.LogPath}}", "j1"))
	if !strings.HasSuffix(path, "-json.log") {
		t.Fatalf("LogPath %q, want docker's <id>-json.log", path)
	}
	lines := readJSONLog(t, path)
	got := map[string]string{}
	for _, l := range lines {
		got[l.Stream] += l.Log
	}
	if len(lines) != 2 || got["stdout"] != "out\n" || got["stderr"] != "err\n" {
		t.Errorf("%s holds %+v, want one stdout and one stderr line", path, lines)
	}

	d.mustDocker("run", "--name", "j2", "--log-opt", "max-size=1k", "--log-opt", "max-file=3", "--log-opt", "compress=true",
		"busybox", "sh", "-c", "i=0; while [ $i -lt 200 ]; do i=$((i+1)); echo line $i; done")
	path = strings.TrimSpace(d.mustDocker("inspect", "-f", "{{.LogPath}}", "j2"))
	for _, p := range []string{path, path + ".1.gz", path + ".2.gz"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("rotated json log: %v", err)
		}
		if !strings.HasSuffix(p, ".gz") && fi.Size() > 1024 {
			t.Errorf("%s: %d bytes, past max-size 1k", p, fi.Size())
		}
	}
	if _, err := os.Stat(path + ".3.gz"); err == nil {
		t.Errorf("%s.3.gz kept, past max-file=3", path)
	}
	cur := readJSONLog(t, path)
	if len(cur) == 0 || cur[len(cur)-1].Log != "line 200\n" {
		t.Errorf("%s ends with %+v, want line 200", path, cur)
	}
	old := readJSONLog(t, path+".1.gz")
	if len(old) == 0 || cur[0].Log != fmt.Sprintf("line %d\n", lineNo(t, old[len(old)-1].Log)+1) {
		t.Errorf("%s.1.gz does not end right before %s begins (%q, %q)", path, path, old, cur[0].Log)
	}
}

func lineNo(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscanf(s, "line %d\n", &n); err != nil {
		t.Fatalf("line %q: %v", s, err)
	}
	return n
}

// TestDockerSyslogLog runs a container with the syslog driver sending to a
// UDP receiver on loopback: each line arrives as one message with its
// severity (stdout info, stderr err), the daemon facility and the
// container's short id as tag; docker logs still answers (dockerd 20.10's
// dual logging).
func TestDockerSyslogLog(t *testing.T) {
	d := startDockerd(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	id := strings.TrimSpace(d.mustDocker("run", "-d", "--log-driver", "syslog", "--log-opt", "syslog-address=udp://"+pc.LocalAddr().String(),
		"busybox", "sh", "-c", "echo one; echo two >&2"))
	var msgs []string
	buf := make([]byte, 4096)
	for len(msgs) < 2 {
		pc.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("syslog receiver: %v (got %q)", err, msgs)
		}
		msgs = append(msgs, string(buf[:n]))
	}
	sort.Strings(msgs) // the two streams race
	tag := id[:12] + "["
	if !strings.HasPrefix(msgs[0], "<27>") || !strings.Contains(msgs[0], tag) || !strings.HasSuffix(msgs[0], ": two") ||
		!strings.HasPrefix(msgs[1], "<30>") || !strings.Contains(msgs[1], tag) || !strings.HasSuffix(msgs[1], ": one") {
		t.Errorf("syslog received %q, want <30>... %s...]: one and <27>... two", msgs, tag)
	}
	d.mustDocker("wait", id)
	if out := d.mustDocker("logs", id); out != "one\n" {
		t.Errorf("docker logs of a syslog container: %q", out)
	}
	if _, errOut, code := d.docker("create", "--log-driver", "syslog", "--log-opt", "syslog-facility=nope", "busybox"); code == 0 || !strings.Contains(errOut, "invalid syslog facility") {
		t.Errorf("syslog-facility=nope: exit %d, %q; want dockerd's refusal", code, errOut)
	}
}
