//go:build linux

package tests

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/enginefs/enginefs/internal/testenv"
)

// dockerCLI is the stock docker CLI the bridge is tested with.
const dockerCLI = "/usr/local/bin/docker"

// dockerd is a daemon started by a test with its Docker API socket.
type dockerd struct {
	*daemon
	sock string // the socket's path
	host string // DOCKER_HOST
}

// startDockerd starts enginefs (busybox loaded) and waits for its Docker API
// socket, unix:<run>/docker.sock by default.
func startDockerd(t *testing.T, extra ...string) *dockerd {
	t.Helper()
	needDaemon(t)
	testenv.NeedBinary(t, dockerCLI, "docker CLI 28 (this kind of machine has it at "+dockerCLI+")")
	d := startDaemon(t, extra...)
	sock := filepath.Join(d.run, "docker.sock")
	deadline := time.Now().Add(10 * time.Second)
	for !exists(sock) {
		if time.Now().After(deadline) {
			t.Fatalf("no Docker API socket at %s", sock)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &dockerd{daemon: d, sock: sock, host: "unix://" + sock}
}

// env is the environment the clients run with: DOCKER_HOST at this daemon
// and a config directory of their own.
func (d *dockerd) env() []string {
	cfg := filepath.Join(d.run, "docker-config")
	return append(os.Environ(), "DOCKER_HOST="+d.host, "DOCKER_CONFIG="+cfg, "DOCKER_CLI_HINTS=false")
}

// docker runs the docker CLI with input on its stdin; it returns stdout,
// stderr and the exit code.
func (d *dockerd) dockerIn(input string, args ...string) (string, string, int) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, dockerCLI, args...)
	cmd.Env = d.env()
	if input != "" {
		cmd.Stdin = strings.NewReader(input)
	}
	return runCmd(d.t, cmd)
}

func (d *dockerd) docker(args ...string) (string, string, int) {
	d.t.Helper()
	return d.dockerIn("", args...)
}

// mustDocker runs the docker CLI and fails the test unless it exits 0.
func (d *dockerd) mustDocker(args ...string) string {
	d.t.Helper()
	out, errOut, code := d.docker(args...)
	if code != 0 {
		d.t.Fatalf("docker %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// onPty runs the docker CLI on a new pseudo-terminal of the given size,
// typing each input chunk 500 ms apart, and returns what the terminal
// showed (carriage returns removed) and the exit code.
func (d *dockerd) onPty(rows, cols uint16, args []string, input ...string) (string, int) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, dockerCLI, args...)
	cmd.Env = d.env()
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: rows, Cols: cols})
	if err != nil {
		d.t.Fatalf("starting docker on a pty: %v", err)
	}
	return readTerminal(d.t, cmd, tty, input...)
}

// readTerminal types each input chunk 500 ms apart on tty, the terminal
// cmd was started on, waits for cmd and returns what the terminal showed
// (carriage returns removed) and the exit code. It closes tty.
func readTerminal(t *testing.T, cmd *exec.Cmd, tty *os.File, input ...string) (string, int) {
	t.Helper()
	defer tty.Close()
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() {
		io.Copy(&out, tty) // ends with EIO once the program has exited
		close(copied)
	}()
	for _, in := range input {
		time.Sleep(500 * time.Millisecond)
		tty.Write([]byte(in))
	}
	err := cmd.Wait()
	tty.Close()
	<-copied
	return strings.ReplaceAll(out.String(), "\r", ""), exitCode(t, cmd, err)
}

// http returns a plain HTTP client of the Docker API socket, for what the
// CLI cannot send (a malformed body) and for checking raw responses.
func (d *dockerd) http() *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", d.sock)
		}},
	}
}

// call sends one request to the API and returns the status and the body.
func (d *dockerd) call(method, path, body string) (int, []byte) {
	d.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://docker"+path, rd)
	if err != nil {
		d.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := d.http().Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		d.t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp.StatusCode, data
}
