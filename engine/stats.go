package engine

import (
	"context"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime"
)

// Stats samples a running container's resource usage from its cgroup and
// network namespace, whichever runtime runs it.
func (e *Engine) Stats(ctx context.Context, ref string) (*Stats, error) {
	c, err := e.Get(ref)
	if err != nil {
		return nil, err
	}
	r := c.Record()
	if !r.State.Status.live() {
		return nil, errdefs.Busy("container %s is not running", c.id)
	}
	return runtime.ReadStats(ctx, c.id, r.State.Pid)
}

// Top lists the processes of a running container (docker top).
func (e *Engine) Top(ctx context.Context, ref string) ([]ProcessInfo, error) {
	c, err := e.Get(ref)
	if err != nil {
		return nil, err
	}
	if !c.Record().State.Status.live() {
		return nil, errdefs.Busy("container %s is not running", c.id)
	}
	return runtime.Processes(ctx, c.id)
}
