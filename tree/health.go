package tree

import (
	"context"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/engine"
	"github.com/enginefs/enginefs/errdefs"
)

// healthFromCreate reads health-cmd, health-interval, health-timeout,
// health-retries, health-start-period, health-start-interval and
// no-healthcheck as docker run reads its --health-* flags (its messages).
func healthFromCreate(c verbs.Create, p *values, cfg *engine.Config) {
	set := c.HealthCmd != "" || len(c.HealthTest) > 0 || c.HealthInterval != "" || c.HealthTimeout != "" || c.HealthRetries != "" ||
		c.HealthStartPeriod != "" || c.HealthStartInterval != ""
	if c.NoHealthcheck {
		if set && p.err == nil {
			p.err = errdefs.Invalid("--no-healthcheck conflicts with --health-* options")
		}
		cfg.Healthcheck = &engine.HealthConfig{Test: []string{"NONE"}}
		return
	}
	if !set {
		return
	}
	h := &engine.HealthConfig{
		Interval:      p.duration("health-interval", c.HealthInterval),
		Timeout:       p.duration("health-timeout", c.HealthTimeout),
		StartPeriod:   p.duration("health-start-period", c.HealthStartPeriod),
		StartInterval: p.duration("health-start-interval", c.HealthStartInterval),
		Retries:       int(p.int("health-retries", c.HealthRetries)),
	}
	switch {
	case c.HealthCmd != "" && len(c.HealthTest) > 0:
		if p.err == nil {
			p.err = errdefs.Invalid("health-cmd= and health-test= conflict: give one")
		}
	case c.HealthCmd != "":
		h.Test = []string{"CMD-SHELL", c.HealthCmd}
	case len(c.HealthTest) > 0:
		h.Test = c.HealthTest
	}
	cfg.Healthcheck = h
}

// duration reads a Go duration (docker's --health-* values), which may not
// be negative.
func (p *values) duration(key, v string) time.Duration {
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		p.fail(key, v)
	case d < 0 && p.err == nil:
		p.err = errdefs.Invalid("--%s cannot be negative", key)
	}
	return d
}

// healthDoc is containers/<id>/health: docker's State.Health, or
// {"Status":"none"} for a container without a health check.
func (t *tree) healthDoc(_ context.Context, r engine.Record) ([]byte, error) {
	h := r.State.Health
	if h == nil {
		h = &engine.Health{Status: container.NoHealthcheck}
	}
	if h.Log == nil {
		h.Log = []*engine.HealthResult{}
	}
	return jsonDoc(h)
}

// healthWord is the health part of a status line and of docker ps's
// STATUS: "health: starting", "healthy", "unhealthy"; "" without a check.
func healthWord(h *engine.Health) string {
	switch {
	case h == nil:
		return ""
	case h.Status == container.Starting:
		return "health: starting"
	}
	return h.Status
}
