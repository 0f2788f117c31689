//go:build linux

package tests

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/enginefs/enginefs/internal/testenv"
)

// TestDockerExecFailures runs commands that cannot start with docker exec:
// as dockerd of the API the CLI speaks (1.50; 20.10 gave 126 to both), the
// exec ends with code 127 (not found) or 126 (not executable), and the
// runtime's message reaches the client in the stream's framing (a stdout
// frame, as 20.10 sends it), not as a garbled header.
func TestDockerExecFailures(t *testing.T) {
	d := startDockerd(t)
	d.mustDocker("run", "-d", "--name", "xf", "busybox", "sleep", "300")
	for _, tc := range []struct {
		name, cmd, msg string
		code           int
	}{
		{"not found", "nosuchcmd", "executable file not found", 127},
		{"not executable", "/etc", `"/etc"`, 126},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := d.docker("exec", "xf", tc.cmd)
			all := out + errOut
			if code != tc.code {
				t.Errorf("docker exec xf %s: exit %d, want %d (stdout %q stderr %q)", tc.cmd, code, tc.code, out, errOut)
			}
			if strings.Contains(all, "Unrecognized input header") || !strings.Contains(all, tc.msg) {
				t.Errorf("docker exec xf %s printed %q, want a clean message with %q", tc.cmd, all, tc.msg)
			}
		})
	}
	t.Run("exec inspect", func(t *testing.T) {
		status, body := d.call("POST", "/v1.50/containers/xf/exec", `{"Cmd":["nosuchcmd"],"AttachStdout":true,"AttachStderr":true}`)
		if status != 201 {
			t.Fatalf("exec create: %d %s", status, body)
		}
		var cr struct{ Id string }
		if err := json.Unmarshal(body, &cr); err != nil {
			t.Fatal(err)
		}
		status, body = d.call("POST", "/v1.50/exec/"+cr.Id+"/start", `{"Detach":false,"Tty":false}`)
		if status != 200 || len(body) < 8 || body[0] != 1 || !strings.Contains(string(body), "executable file not found") {
			t.Errorf("exec start: %d %q, want the message in a stdout frame", status, body)
		}
		status, body = d.call("GET", "/v1.50/exec/"+cr.Id+"/json", "")
		var ir struct {
			Running  bool
			ExitCode *int
		}
		if err := json.Unmarshal(body, &ir); err != nil || status != 200 {
			t.Fatalf("exec inspect: %d %s", status, body)
		}
		if ir.Running || ir.ExitCode == nil || *ir.ExitCode != 127 {
			t.Errorf("exec inspect after a failed start: %s, want ExitCode 127", body)
		}
	})
}

// TestDockerExecFraming checks that exec start's Tty chooses the framing,
// as dockerd does (measured on 20.10: create Tty=true, start Tty=false
// answers stdout frames; create Tty=false, start Tty=true answers raw).
func TestDockerExecFraming(t *testing.T) {
	d := startDockerd(t)
	d.mustDocker("run", "-d", "--name", "xfr", "busybox", "sleep", "300")
	for _, tc := range []struct {
		create, start string
		framed        bool
	}{
		{"true", "true", false},
		{"true", "false", true},
		{"false", "true", false},
		{"false", "false", true},
	} {
		status, body := d.call("POST", "/v1.50/containers/xfr/exec", `{"Cmd":["echo","hi"],"AttachStdout":true,"AttachStderr":true,"Tty":`+tc.create+`}`)
		if status != 201 {
			t.Fatalf("exec create: %d %s", status, body)
		}
		var cr struct{ Id string }
		if err := json.Unmarshal(body, &cr); err != nil {
			t.Fatal(err)
		}
		status, body = d.call("POST", "/v1.50/exec/"+cr.Id+"/start", `{"Detach":false,"Tty":`+tc.start+`}`)
		framed := len(body) >= 8 && body[0] == 1 && body[1] == 0
		if status != 200 || framed != tc.framed || !strings.Contains(string(body), "hi") {
			t.Errorf("create Tty=%s start Tty=%s: %d %q, framed %v, want framed %v", tc.create, tc.start, status, body, framed, tc.framed)
		}
	}
}

// TestDockerExecDetachKeys types the detach keys docker exec -it
// --detach-keys names: the client detaches (docker 28 on dockerd 20.10
// prints "read escape sequence" and exits 1), and bad keys are refused at
// create with dockerd's message.
func TestDockerExecDetachKeys(t *testing.T) {
	d := startDockerd(t)
	d.mustDocker("run", "-d", "--name", "xdk", "busybox", "sleep", "300")
	out, code := d.onPty(24, 80, []string{"exec", "-it", "--detach-keys", "ctrl-x,y", "xdk", "sh"}, "echo typed\n", "\x18y", "exit 7\n")
	if code != 1 || !strings.Contains(out, "read escape sequence") {
		t.Errorf("docker exec -it --detach-keys ctrl-x,y: exit %d, terminal showed %q; want a detach (exit 1)", code, out)
	}
	if _, errOut, code := d.docker("exec", "--detach-keys", "ctrl-", "xdk", "true"); code == 0 || !strings.Contains(errOut, "Invalid escape keys (ctrl-) provided") {
		t.Errorf("docker exec --detach-keys ctrl-: exit %d, stderr %q; want a refusal", code, errOut)
	}
}

// TestDockerPyExecDemux runs exec_run(demux=True) with python3-docker on a
// command that writes both streams and on one that cannot start.
func TestDockerPyExecDemux(t *testing.T) {
	testenv.Need(t, "Debian's python3-docker", pythonDocker())
	d := startDockerd(t)
	d.mustDocker("run", "-d", "--name", "xpy", "busybox", "sleep", "300")
	const prog = `import sys, docker
c = docker.DockerClient(base_url=sys.argv[1]).containers.get("xpy")
r = c.exec_run(["sh", "-c", "echo out; echo err >&2"], demux=True)
print(r.exit_code, r.output)
r = c.exec_run(["nosuchcmd"], demux=True)
print(r.exit_code, b"executable file not found" in (r.output[0] or b"") + (r.output[1] or b""))
`
	want := "0 (b'out\\n', b'err\\n')\n127 True\n"
	if out := runPy(t, prog, d.host); out != want {
		t.Errorf("python3-docker printed:\n%s\nwant:\n%s", out, want)
	}
}
