package engine

import (
	"context"
	"time"

	"github.com/enginefs/enginefs/runtime"
)

// Restart delays, as docker: 100 ms, doubling at each restart up to a
// minute, back to 100 ms once a run lasted 10 s.
const (
	firstBackoff = 100 * time.Millisecond
	maxBackoff   = time.Minute
	stableRun    = 10 * time.Second
)

// restartDelay decides whether the restart policy restarts a container that
// just exited with st after running for ran, and after how long. c.mu is held.
func (e *Engine) restartDelay(c *Container, st runtime.ExitStatus, ran time.Duration) (time.Duration, bool) {
	p := c.rec.Config.RestartPolicy
	if c.rec.ManuallyStopped || c.removing || c.removed || e.closing.Load() {
		return 0, false
	}
	switch p.Name {
	case "always", "unless-stopped":
	case "on-failure":
		if st.Code == 0 || (p.MaximumRetryCount > 0 && c.rec.RestartCount >= p.MaximumRetryCount) {
			return 0, false
		}
	default:
		return 0, false
	}
	switch {
	case ran >= stableRun || c.backoff == 0:
		c.backoff = firstBackoff
	case c.backoff < maxBackoff:
		c.backoff = min(2*c.backoff, maxBackoff)
	}
	return c.backoff, true
}

// scheduleRestart starts the container again after delay unless a user
// stops, starts or removes it first (they cancel it). c.mu is held.
func (e *Engine) scheduleRestart(c *Container, delay time.Duration) {
	ctx, cancel := context.WithCancel(e.ctx)
	c.cancelRestart = cancel
	go func() {
		defer cancel()
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		if err := e.start(ctx, c, true); err != nil {
			e.logf("container %s: restart by policy: %v", c.id, err)
		}
	}()
}
