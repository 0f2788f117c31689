//go:build linux

package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/enginefs/enginefs/internal/testenv"
)

// waitUntil polls cond every 100 ms for up to limit; it fails the test
// with what (and the last state cond reports) when the time runs out.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v; last: %s", what, limit, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// health reads State.Health of a container through docker inspect.
func health(t *testing.T, d *dockerd, name string) *container.Health {
	t.Helper()
	out, errOut, code := d.docker("inspect", "-f", "{{json .State.Health}}", name)
	var h *container.Health
	if code != 0 {
		t.Fatalf("inspect %s: exit %d: %s", name, code, errOut)
	}
	if err := json.Unmarshal([]byte(out), &h); err != nil {
		t.Fatalf("inspect %s: State.Health %q: %v", name, out, err)
	}
	return h
}

// waitHealth waits until a container's health status is want.
func waitHealth(t *testing.T, d *dockerd, name, want string) *container.Health {
	t.Helper()
	var h *container.Health
	waitUntil(t, 20*time.Second, name+" becomes "+want, func() (bool, string) {
		h = health(t, d, name)
		if h == nil {
			return false, "no State.Health"
		}
		b, _ := json.Marshal(h)
		return h.Status == want, string(b)
	})
	return h
}

// TestDockerHealth: docker run --health-*: the container becomes healthy,
// then unhealthy once its check fails retries times in a row; ps shows it
// in STATUS and filters by it, inspect has docker's State.Health, events
// have health_status, and the tree has containers/<id>/health and a
// health= word in status.
func TestDockerHealth(t *testing.T) {
	d := startDockerd(t)
	since := time.Now().Add(-time.Second).Unix()

	id := strings.TrimSpace(d.mustDocker("run", "-d", "--name", "hc", "--health-cmd", "test ! -e /tmp/sick && echo fine",
		"--health-interval", "200ms", "--health-retries", "2", "busybox", "sleep", "300"))
	d.mustDocker("run", "-d", "--name", "plain", "busybox", "sleep", "300")
	d.mustDocker("run", "-d", "--name", "slow", "--health-cmd", "true", "--health-interval", "1h", "busybox", "sleep", "300")

	t.Run("healthy", func(t *testing.T) {
		h := waitHealth(t, d, "hc", "healthy")
		last := h.Log[len(h.Log)-1]
		if h.FailingStreak != 0 || last.ExitCode != 0 || last.Output != "fine\n" || last.End.Before(last.Start) {
			t.Errorf("State.Health %+v, last result %+v; want a streak of 0 and exit 0 with output fine", h, last)
		}
		cfg := d.mustDocker("inspect", "-f", "{{json .Config.Healthcheck}}", "hc")
		if want := `{"Test":["CMD-SHELL","test ! -e /tmp/sick && echo fine"],"Interval":200000000,"Retries":2}` + "\n"; cfg != want {
			t.Errorf("Config.Healthcheck %s, want %s", cfg, want)
		}
	})
	t.Run("ps shows health", func(t *testing.T) {
		out := d.mustDocker("ps", "--format", "{{.Names}} {{.Status}}")
		for _, re := range []string{`hc Up .* \(healthy\)`, `slow Up .* \(health: starting\)`, `plain Up [^(]*\n`} {
			if !regexpMatch(re, out) {
				t.Errorf("docker ps shows no %q:\n%s", re, out)
			}
		}
		d.mustDctl("run", "-d", "--name", "viadctl", "--health-cmd", "echo dctl", "--health-interval", "200ms", "busybox", "sleep", "300")
		if h := waitHealth(t, d, "viadctl", "healthy"); h.Log[0].Output != "dctl\n" {
			t.Errorf("dctl run --health-cmd: State.Health %+v", h)
		}
		out = d.mustDctl("ps")
		if !regexpMatch(`Up .* \(healthy\)`, out) || !regexpMatch(`Up .* \(health: starting\)`, out) {
			t.Errorf("dctl ps does not show the health:\n%s", out)
		}
	})
	t.Run("ps filter health", func(t *testing.T) {
		for health, want := range map[string]string{"healthy": "viadctl\nhc\n", "starting": "slow\n", "none": "plain\n", "unhealthy": ""} {
			if got := d.mustDocker("ps", "--filter", "health="+health, "--format", "{{.Names}}"); got != want {
				t.Errorf("ps --filter health=%s: %q, want %q", health, got, want)
			}
		}
		_, errOut, code := d.docker("ps", "--filter", "health=sick")
		if code == 0 || !strings.Contains(errOut, "Unrecognised filter value for health: sick") {
			t.Errorf("ps --filter health=sick: exit %d, %q", code, errOut)
		}
	})
	t.Run("tree", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join(d.mnt, "containers", id, "health"))
		var h container.Health
		if err == nil {
			err = json.Unmarshal(data, &h)
		}
		if err != nil || h.Status != "healthy" || len(h.Log) == 0 {
			t.Errorf("containers/<id>/health: %v %s", err, data)
		}
		status, _ := os.ReadFile(filepath.Join(d.mnt, "containers", id, "status"))
		if !strings.Contains(string(status), " health=healthy") {
			t.Errorf("status %q has no health=healthy", status)
		}
		data, _ = os.ReadFile(filepath.Join(d.mnt, "containers", "plain", "health"))
		var none map[string]any
		if err := json.Unmarshal(data, &none); err != nil || none["Status"] != "none" || none["FailingStreak"] != 0.0 {
			t.Errorf("health of a container without a check: %v %s", err, data)
		}
	})
	t.Run("unhealthy", func(t *testing.T) {
		d.mustDocker("exec", "hc", "touch", "/tmp/sick")
		h := waitHealth(t, d, "hc", "unhealthy")
		last := h.Log[len(h.Log)-1]
		if h.FailingStreak < 2 || last.ExitCode != 1 || len(h.Log) > 5 {
			t.Errorf("State.Health %+v: want a streak of at least 2, the last exit 1 and at most 5 results", h)
		}
		if !regexpMatch(`hc Up .* \(unhealthy\)`, d.mustDocker("ps", "--format", "{{.Names}} {{.Status}}")) {
			t.Error("docker ps does not show hc unhealthy")
		}
		waitUntil(t, 5*time.Second, "5 results kept", func() (bool, string) {
			h := health(t, d, "hc")
			return len(h.Log) == 5, strings.Repeat("x", len(h.Log))
		})
		d.mustDocker("exec", "hc", "rm", "/tmp/sick")
		waitHealth(t, d, "hc", "healthy")
	})
	t.Run("events", func(t *testing.T) {
		out := d.mustDocker("events", "--since", itoa64(since), "--until", itoa64(time.Now().Unix()+1),
			"--filter", "event=health_status", "--filter", "container=hc", "--format", "{{.Action}}")
		if out != "health_status: healthy\nhealth_status: unhealthy\nhealth_status: healthy\n" {
			t.Errorf("docker events of hc's health:\n%s", out)
		}
	})
	t.Run("timeout and output cap", func(t *testing.T) {
		d.mustDocker("run", "-d", "--name", "hang", "--health-cmd", "sleep 10", "--health-timeout", "300ms",
			"--health-interval", "200ms", "--health-retries", "1", "busybox", "sleep", "300")
		h := waitHealth(t, d, "hang", "unhealthy")
		if out := h.Log[0].Output; out != "Health check exceeded timeout (300ms)" || h.Log[0].ExitCode != -1 {
			t.Errorf("a check past its timeout: exit %d, output %q", h.Log[0].ExitCode, out)
		}
		d.mustDocker("run", "-d", "--name", "chatty", "--health-cmd", "yes | head -c 5000",
			"--health-interval", "200ms", "busybox", "sleep", "300")
		h = waitHealth(t, d, "chatty", "healthy")
		if out := h.Log[0].Output; len(out) != 4096+3 || !strings.HasSuffix(out, "y\n...") {
			t.Errorf("5000 bytes of output kept as %d bytes ending %q; want 4096 and ...", len(out), out[max(0, len(out)-8):])
		}
	})
	t.Run("pause", func(t *testing.T) {
		d.mustDocker("pause", "viadctl")
		if h := health(t, d, "viadctl"); h == nil || h.Status != "unhealthy" {
			t.Errorf("State.Health of a paused container: %+v, want unhealthy as docker", h)
		}
		d.mustDocker("unpause", "viadctl")
		waitHealth(t, d, "viadctl", "healthy")
	})
	t.Run("stop", func(t *testing.T) {
		d.mustDocker("stop", "-t", "0", "hang")
		if h := health(t, d, "hang"); h == nil || h.Status != "unhealthy" {
			t.Errorf("State.Health of a stopped container: %+v, want unhealthy as docker", h)
		}
		d.mustDocker("start", "hang")
		if h := health(t, d, "hang"); h == nil || h.Status != "starting" || h.FailingStreak != 0 {
			t.Errorf("State.Health of a container started again: %+v, want starting", h)
		}
	})
	t.Run("bad values", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"--health-interval", "1us"}, "Interval in Healthcheck cannot be less than 1ms"},
			{[]string{"--no-healthcheck", "--health-cmd", "true"}, "--no-healthcheck conflicts with --health-* options"},
		} {
			args := append(append([]string{"create"}, tc.args...), "busybox")
			_, errOut, code := d.docker(args...)
			if code == 0 || !strings.Contains(errOut, tc.want) {
				t.Errorf("docker %s: exit %d, %q; want %q", strings.Join(args, " "), code, errOut, tc.want)
			}
		}
		// The docker CLI checks retries itself; the API is checked as dockerd.
		code, body := d.call("POST", "/containers/create", `{"Image":"busybox","Healthcheck":{"Test":["CMD","true"],"Retries":-1}}`)
		if code != 400 || !strings.Contains(string(body), "Retries in Healthcheck cannot be negative") {
			t.Errorf("create with Retries -1: %d %s", code, body)
		}
	})
}

// TestDockerHealthImage: an image built with HEALTHCHECK checks its
// containers; --health-* override its fields and --no-healthcheck
// disables it.
func TestDockerHealthImage(t *testing.T) {
	d := startDockerd(t)
	dir := t.TempDir()
	df := "FROM busybox\nHEALTHCHECK --interval=200ms --retries=1 CMD test -e /tmp/ok\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := d.dockerAt(dir, []string{"DOCKER_BUILDKIT=0"}, "build", "-t", "hc-image", "."); code != 0 {
		t.Fatalf("docker build: exit %d\n%s\n%s", code, out, errOut)
	}
	d.mustDocker("run", "-d", "--name", "img", "hc-image", "sleep", "300")
	if got := d.mustDocker("inspect", "-f", "{{json .Config.Healthcheck}}", "img"); got != `{"Test":["CMD-SHELL","test -e /tmp/ok"],"Interval":200000000,"Retries":1}`+"\n" {
		t.Errorf("Config.Healthcheck of a container of the image: %s", got)
	}
	waitHealth(t, d, "img", "unhealthy")
	d.mustDocker("exec", "img", "touch", "/tmp/ok")
	waitHealth(t, d, "img", "healthy")

	// The container's command replaces the image's, its interval stays.
	d.mustDocker("run", "-d", "--name", "over", "--health-cmd", "echo mine", "hc-image", "sleep", "300")
	h := waitHealth(t, d, "over", "healthy")
	if h.Log[0].Output != "mine\n" {
		t.Errorf("--health-cmd over the image's HEALTHCHECK ran %q", h.Log[0].Output)
	}
	// As dockerd 20.10 shows them: the container's fields over the image's.
	for name, want := range map[string]string{
		"over": `{"Test":["CMD-SHELL","echo mine"],"Interval":200000000,"Retries":1}`,
	} {
		if got := d.mustDocker("inspect", "-f", "{{json .Config.Healthcheck}}", name); got != want+"\n" {
			t.Errorf("Config.Healthcheck of %s: %s, want %s", name, got, want)
		}
	}

	// docker commit keeps the container's check in the image.
	d.mustDocker("commit", "over", "committed")
	if got := d.mustDocker("image", "inspect", "-f", "{{json .Config.Healthcheck}}", "committed"); got != `{"Test":["CMD-SHELL","echo mine"],"Interval":200000000,"Retries":1}`+"\n" {
		t.Errorf("Config.Healthcheck of the committed image: %s", got)
	}
	d.mustDocker("run", "-d", "--name", "none", "--no-healthcheck", "hc-image", "sleep", "300")
	time.Sleep(time.Second)
	if h := health(t, d, "none"); h != nil {
		t.Errorf("--no-healthcheck: State.Health %+v, want none", h)
	}
	if got, want := d.mustDocker("inspect", "-f", "{{json .Config.Healthcheck}}", "none"), `{"Test":["NONE"],"Interval":200000000,"Retries":1}`+"\n"; got != want {
		t.Errorf("Config.Healthcheck with --no-healthcheck: %s, want %s", got, want)
	}
	if got := d.mustDocker("ps", "--filter", "health=none", "--format", "{{.Names}}"); got != "none\n" {
		t.Errorf("ps --filter health=none: %q", got)
	}
}

// TestHealthDaemonRestart: a daemon stopped (or killed with -9) and
// started again keeps the health of the running containers and goes on
// checking them.
func TestHealthDaemonRestart(t *testing.T) {
	d := startDockerd(t)
	d.mustDocker("run", "-d", "--name", "hc", "--health-cmd", "date +%s%N", "--health-interval", "200ms", "busybox", "sleep", "300")
	before := waitHealth(t, d, "hc", "healthy")
	d.stop()
	d.start()
	after := health(t, d, "hc")
	if after == nil || after.Status != "healthy" || len(after.Log) < len(before.Log) {
		t.Fatalf("after a daemon restart State.Health is %+v; before it was %+v", after, before)
	}
	last := after.Log[len(after.Log)-1].End
	waitUntil(t, 10*time.Second, "a check after the restart", func() (bool, string) {
		h := health(t, d, "hc")
		return h.Log[len(h.Log)-1].End.After(last), h.Log[len(h.Log)-1].End.String()
	})
	// A daemon killed with -9, maybe in the middle of a check.
	d.kill9()
	d.start()
	after = health(t, d, "hc")
	if after == nil || after.Status != "healthy" {
		t.Fatalf("after kill -9 and a start State.Health is %+v", after)
	}
	last = after.Log[len(after.Log)-1].End
	waitUntil(t, 10*time.Second, "a check after kill -9", func() (bool, string) {
		h := health(t, d, "hc")
		return h.Log[len(h.Log)-1].End.After(last) && h.Log[len(h.Log)-1].ExitCode == 0, h.Log[len(h.Log)-1].End.String()
	})
}

// composeHealthy is a project whose web service waits for db to be
// healthy: db becomes healthy 3 s after it starts.
const composeHealthy = `version: "2.4"
services:
  db:
    image: busybox
    command: sh -c 'sleep 3; touch /tmp/ready; exec sleep 300'
    stop_signal: SIGKILL
    healthcheck:
      test: ["CMD", "test", "-e", "/tmp/ready"]
      interval: 200ms
      timeout: 1s
      retries: 30
  web:
    image: busybox
    command: sleep 300
    stop_signal: SIGKILL
    depends_on:
      db:
        condition: service_healthy
`

// TestComposeServiceHealthy: docker-compose up -d starts web only once db
// is healthy.
func TestComposeServiceHealthy(t *testing.T) {
	bin := testenv.NeedBinary(t, "docker-compose", "docker-compose")
	d := startDockerd(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte(composeHealthy), 0o644); err != nil {
		t.Fatal(err)
	}
	compose := func(args ...string) (string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"-p", "hc"}, args...)...)
		cmd.Dir = dir
		cmd.Env = d.env()
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		code := exitCode(t, cmd, cmd.Run())
		return out.String(), code
	}
	defer compose("down")
	if out, code := compose("up", "-d"); code != 0 {
		t.Fatalf("up -d: exit %d\n%s", code, out)
	}
	var db, web struct {
		State struct {
			StartedAt time.Time
			Health    *container.Health
		}
	}
	for name, v := range map[string]any{"hc_db_1": &db, "hc_web_1": &web} {
		if err := json.Unmarshal([]byte(d.mustDocker("inspect", "-f", "{{json .}}", name)), v); err != nil {
			t.Fatal(err)
		}
	}
	if db.State.Health == nil || db.State.Health.Status != "healthy" {
		t.Fatalf("db after up -d: %+v, want healthy", db.State.Health)
	}
	var healthyAt time.Time
	for _, r := range db.State.Health.Log {
		if r.ExitCode == 0 {
			healthyAt = r.End
			break
		}
	}
	if !web.State.StartedAt.After(healthyAt) || web.State.StartedAt.Sub(db.State.StartedAt) < 3*time.Second {
		t.Errorf("web started at %v, db at %v and healthy at %v: web must start after db is healthy",
			web.State.StartedAt, db.State.StartedAt, healthyAt)
	}
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
