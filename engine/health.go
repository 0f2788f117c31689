package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/imagestore"
	"github.com/enginefs/enginefs/logs"
	"github.com/enginefs/enginefs/runtime"
)

// Health checks, as docker's daemon/health.go runs them: a probe is an exec
// in the running container, every interval (every start interval while the
// container is starting within its start period), killed after the timeout;
// the last HealthLogEntries results are kept in State.Health with the
// status (starting, healthy, unhealthy) and the failing streak, and each
// change of status is a "health_status: STATUS" event.

// HealthConfig is a container's or an image's health check (docker's
// Config.Healthcheck).
type HealthConfig = container.HealthConfig

// Health is a container's health (docker's State.Health).
type Health = container.Health

// HealthResult is the result of one probe.
type HealthResult = container.HealthcheckResult

// Docker's defaults and caps of health checks (daemon/health.go).
const (
	// DefaultHealthInterval is the time between probes when none is set.
	DefaultHealthInterval = 30 * time.Second
	// DefaultHealthTimeout is how long a probe may run when no timeout is set.
	DefaultHealthTimeout = 30 * time.Second
	// DefaultHealthStartInterval is the time between probes during the
	// start period when none is set.
	DefaultHealthStartInterval = 5 * time.Second
	// DefaultHealthRetries is how many failures in a row make a container
	// unhealthy when no retries are set.
	DefaultHealthRetries = 3
	// HealthLogEntries is how many results State.Health keeps.
	HealthLogEntries = 5
	// HealthOutputMax is how many bytes of a probe's output are kept
	// (docker's maxOutputLen); longer output is cut and ends with "...".
	HealthOutputMax = 4096
)

// validateHealth checks a health check as dockerd does (its messages).
func validateHealth(h *HealthConfig) error {
	if h == nil {
		return nil
	}
	minimum := container.MinimumDuration
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"Interval", h.Interval}, {"Timeout", h.Timeout}, {"StartPeriod", h.StartPeriod}, {"StartInterval", h.StartInterval}} {
		if d.v != 0 && d.v < minimum {
			return errdefs.Invalid("%s in Healthcheck cannot be less than %s", d.name, minimum)
		}
	}
	if h.Retries < 0 {
		return errdefs.Invalid("Retries in Healthcheck cannot be negative")
	}
	if len(h.Test) > 0 {
		switch h.Test[0] {
		case "NONE", "CMD", "CMD-SHELL":
		default:
			return errdefs.Invalid("unknown Healthcheck type %q: want NONE, CMD or CMD-SHELL", h.Test[0])
		}
		if h.Test[0] != "NONE" && len(h.Test) < 2 {
			return errdefs.Invalid("Healthcheck %s has no command", h.Test[0])
		}
	}
	return nil
}

// mergeHealth merges a container's health check over its image's as
// docker's create does: fields the container leaves zero come from the
// image's HEALTHCHECK. A container's NONE stays NONE.
func mergeHealth(img *imagestore.Image, c *HealthConfig) *HealthConfig {
	if img == nil || img.Config.Config.Healthcheck == nil {
		return c
	}
	ih := img.Config.Config.Healthcheck
	out := HealthConfig{Test: ih.Test, Interval: ih.Interval, Timeout: ih.Timeout, StartPeriod: ih.StartPeriod, Retries: ih.Retries}
	if c == nil {
		return &out
	}
	if len(c.Test) > 0 {
		out.Test = c.Test
	}
	if c.Interval != 0 {
		out.Interval = c.Interval
	}
	if c.Timeout != 0 {
		out.Timeout = c.Timeout
	}
	if c.StartPeriod != 0 {
		out.StartPeriod = c.StartPeriod
	}
	if c.StartInterval != 0 {
		out.StartInterval = c.StartInterval
	}
	if c.Retries != 0 {
		out.Retries = c.Retries
	}
	return &out
}

// EffectiveHealth is the health check a container runs: its own merged
// over its image's (mergeHealth), or nil when there is none or it is NONE.
func EffectiveHealth(img *imagestore.Image, c *HealthConfig) *HealthConfig {
	h := mergeHealth(img, c)
	if h == nil || len(h.Test) < 2 || (h.Test[0] != "CMD" && h.Test[0] != "CMD-SHELL") {
		return nil
	}
	return h
}

// HealthStatus returns the health status of a record: "none" when it has
// no health check.
func HealthStatus(rec Record) string {
	if rec.State.Health == nil {
		return container.NoHealthcheck
	}
	return rec.State.Health.Status
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// startHealth starts the health monitor of a container that has just
// started (resume false: its health becomes starting with a streak of 0,
// as docker's initHealthMonitor) or that a restarted daemon adopted (resume
// true: its saved health goes on).
func (e *Engine) startHealth(c *Container, resume bool) {
	rec := c.Record()
	img, err := e.images.Get(e.ctx, rec.ImageID)
	if err != nil {
		e.logf("container %s: health check: %v", c.id, err)
		return
	}
	hc := EffectiveHealth(img, rec.Config.Healthcheck)
	if hc == nil {
		return
	}
	shell := img.Config.Config.Shell
	if len(shell) == 0 {
		shell = []string{"/bin/sh", "-c"}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rec.State.Status != StatusRunning || c.healthStop != nil {
		return
	}
	if !resume || c.rec.State.Health == nil {
		c.rec.State.Health = &Health{Status: container.Starting}
	}
	stop := make(chan struct{})
	c.healthStop = stop
	e.monitors.Add(1)
	go e.healthMonitor(c, *hc, shell, stop)
}

// stopHealth stops a container's health monitor; its health becomes
// unhealthy, as docker's (CloseMonitorChannel). c.mu is held.
func (c *Container) stopHealth() {
	if c.healthStop == nil {
		return
	}
	close(c.healthStop)
	c.healthStop = nil
	if c.rec.State.Health != nil {
		c.rec.State.Health.Status = container.Unhealthy
	}
}

// healthMonitor probes a container until stop is closed or the daemon
// shuts down.
func (e *Engine) healthMonitor(c *Container, hc HealthConfig, shell []string, stop chan struct{}) {
	defer e.monitors.Done()
	interval := orDefault(hc.Interval, DefaultHealthInterval)
	startInterval := orDefault(hc.StartInterval, DefaultHealthStartInterval)
	startPeriod := hc.StartPeriod
	next := func() time.Duration {
		c.mu.Lock()
		defer c.mu.Unlock()
		if time.Since(c.rec.State.StartedAt) >= startPeriod {
			return interval
		}
		if h := c.rec.State.Health; h != nil && h.Status == container.Starting {
			return startInterval
		}
		return interval
	}
	for {
		t := time.NewTimer(next())
		select {
		case <-stop:
			t.Stop()
			return
		case <-e.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		c.mu.Lock()
		paused := c.rec.State.Status == StatusPaused
		c.mu.Unlock()
		if paused {
			continue
		}
		res := e.probe(c, hc, shell, stop)
		if res == nil {
			return
		}
		e.healthResult(c, hc, res, stop)
	}
}

// probe runs the check once. It returns nil when stop was closed or the
// daemon shuts down while the check ran.
func (e *Engine) probe(c *Container, hc HealthConfig, shell []string, stop chan struct{}) *HealthResult {
	start := time.Now()
	cmd := hc.Test[1:]
	if hc.Test[0] == "CMD-SHELL" {
		cmd = append(append([]string{}, shell...), hc.Test[1])
	}
	c.mu.Lock()
	c.nextProbe++
	id := "health-" + strconv.Itoa(c.nextProbe)
	c.mu.Unlock()
	dir := e.execDir(c.id, id)
	fail := func(err error) *HealthResult {
		return &HealthResult{Start: start, End: time.Now(), ExitCode: -1, Output: err.Error()}
	}
	defer func() {
		if err := os.RemoveAll(dir); err != nil {
			e.logf("container %s: health check: %v", c.id, err)
		}
	}()
	if err := createLog(dir); err != nil {
		return fail(err)
	}
	// Docker's probes are execs, with their events.
	line := strings.Join(cmd, " ")
	e.emit(c.Record(), "exec_create: "+line, "execID", id)
	if _, err := e.launchExec(e.ctx, c, id, &ExecConfig{Cmd: cmd}); err != nil {
		if e.ctx.Err() != nil {
			return nil
		}
		return fail(err)
	}
	e.emit(c.Record(), "exec_start: "+line, "execID", id)
	defer func() {
		if err := e.keeper.Forget(e.ctx, c.id, id); err != nil && !isGone(err) && e.ctx.Err() == nil {
			e.logf("container %s exec %s: %v", c.id, id, err)
		}
	}()
	type ended struct {
		st  runtime.ExitStatus
		err error
	}
	done := make(chan ended, 1)
	go func() {
		st, err := e.wait(c.id, id)
		if err == nil {
			e.emit(c.Record(), "exec_die", "execID", id, "exitCode", itoa(st.Code))
		}
		done <- ended{st, err}
	}()
	timeout := orDefault(hc.Timeout, DefaultHealthTimeout)
	t := time.NewTimer(timeout)
	defer t.Stop()
	var res *HealthResult
	select {
	case r := <-done:
		if r.err != nil {
			if e.ctx.Err() != nil {
				return nil
			}
			return fail(r.err)
		}
		res = &HealthResult{Start: start, End: time.Now(), ExitCode: r.st.Code}
	case <-t.C:
		_ = e.keeper.Signal(e.ctx, c.id, id, syscall.SIGKILL)
		<-done
		return &HealthResult{Start: start, End: time.Now(), ExitCode: -1,
			Output: fmt.Sprintf("Health check exceeded timeout (%v)", timeout)}
	case <-stop:
		_ = e.keeper.Signal(e.ctx, c.id, id, syscall.SIGKILL)
		<-done
		return nil
	case <-e.ctx.Done():
		return nil
	}
	res.Output = readOutput(dir)
	return res
}

// readOutput reads an exec's output (stdout and stderr as they came), cut
// at HealthOutputMax bytes as docker's limitedBuffer does.
func readOutput(dir string) string {
	r, err := logs.Open(dir)
	if err != nil {
		return ""
	}
	defer r.Close()
	var out []byte
	truncated := false
	for {
		ent, err := r.Next(context.Background(), false)
		if errors.Is(err, io.EOF) || err != nil {
			break
		}
		if room := HealthOutputMax - len(out); len(ent.Data) > room {
			out = append(out, ent.Data[:room]...)
			truncated = true
			break
		}
		out = append(out, ent.Data...)
	}
	if truncated {
		return string(out) + "..."
	}
	return string(out)
}

// healthResult records a probe's result as docker's handleProbeResult.
func (e *Engine) healthResult(c *Container, hc HealthConfig, res *HealthResult, stop chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-stop:
		return
	default:
	}
	h := c.rec.State.Health
	if h == nil {
		return
	}
	old := h.Status
	record(h, hc, res, c.rec.State.StartedAt)
	if err := e.put(c.rec); err != nil {
		e.logf("container %s: saving health: %v", c.id, err)
	}
	if h.Status != old {
		e.emit(c.rec, "health_status: "+h.Status)
	}
}

// CloneHealth returns a deep copy of a health (nil for nil), for clients
// that keep it past the container's lock.
func CloneHealth(h *Health) *Health {
	if h == nil {
		return nil
	}
	out := &Health{Status: h.Status, FailingStreak: h.FailingStreak, Log: make([]*HealthResult, len(h.Log))}
	for i, r := range h.Log {
		cp := *r
		out.Log[i] = &cp
	}
	return out
}

// record adds a probe's result to a health as docker's handleProbeResult:
// a success makes it healthy; a failure counts in the failing streak
// (except within the start period of a container never healthy yet), and
// retries failures in a row make it unhealthy.
func record(h *Health, hc HealthConfig, res *HealthResult, startedAt time.Time) {
	retries := hc.Retries
	if retries <= 0 {
		retries = DefaultHealthRetries
	}
	h.Log = append(h.Log, res)
	if len(h.Log) > HealthLogEntries {
		h.Log = append([]*HealthResult(nil), h.Log[len(h.Log)-HealthLogEntries:]...)
	}
	switch {
	case res.ExitCode == 0:
		h.FailingStreak = 0
		h.Status = container.Healthy
	case h.Status == container.Starting && res.Start.Sub(startedAt) < hc.StartPeriod:
		// Within the start period a failure does not count.
	default:
		h.FailingStreak++
		if h.FailingStreak >= retries {
			h.Status = container.Unhealthy
		}
	}
}
