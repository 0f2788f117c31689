//go:build linux

package tests

import (
	"strings"
	"testing"
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
