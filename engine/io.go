package engine

import (
	"context"

	"github.com/enginefs/enginefs/errdefs"
)

// stdinTarget finds the process whose stdin a write goes to: the container's
// init (execID "") or an exec, and checks its stdin is open.
func (e *Engine) stdinTarget(ref, execID string) (string, error) {
	if execID == "" {
		c, err := e.Get(ref)
		if err != nil {
			return "", err
		}
		r := c.Record()
		switch {
		case !r.Config.OpenStdin:
			return "", errdefs.Busy("container %s was not created with an open stdin (stdin=true, docker's -i)", c.id)
		case !r.State.Status.live():
			return "", errdefs.Busy("container %s is not running", c.id)
		}
		return c.id, nil
	}
	c, x, err := e.GetExec(ref, execID)
	if err != nil {
		return "", err
	}
	cfg, st := x.Config(), x.State()
	switch {
	case cfg == nil || !cfg.OpenStdin:
		return "", errdefs.Busy("exec %s was not created with an open stdin (stdin=true)", execID)
	case st.Status != "running":
		return "", errdefs.Busy("exec %s is not running", execID)
	}
	return c.id, nil
}

// WriteStdin sends p to the stdin (or terminal) of a container's init or of
// one of its execs.
func (e *Engine) WriteStdin(ctx context.Context, ref, execID string, p []byte) error {
	id, err := e.stdinTarget(ref, execID)
	if err != nil {
		return err
	}
	return e.keeper.WriteStdin(ctx, id, execID, p)
}

// CloseStdin ends the stdin of a container's init or of an exec.
func (e *Engine) CloseStdin(ctx context.Context, ref, execID string) error {
	id, err := e.stdinTarget(ref, execID)
	if err != nil {
		return err
	}
	return e.keeper.CloseStdin(ctx, id, execID)
}

// StdinClosesOnDetach reports whether a process's stdin closes when an
// attached writer is done, as docker decides: for an exec and for a
// container with StdinOnce (run -i), unless the process has a terminal.
func (e *Engine) StdinClosesOnDetach(ref, execID string) bool {
	if execID != "" {
		_, x, err := e.GetExec(ref, execID)
		if err != nil {
			return false
		}
		cfg := x.Config()
		return cfg != nil && !cfg.Tty
	}
	c, err := e.Get(ref)
	if err != nil {
		return false
	}
	cfg := c.Record().Config
	return cfg.StdinOnce && !cfg.Tty
}

// Resize sets the terminal size of a container's init or of an exec.
func (e *Engine) Resize(ctx context.Context, ref, execID string, rows, cols uint16) error {
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	if execID == "" {
		r := c.Record()
		if !r.Config.Tty {
			return errdefs.Busy("container %s has no terminal (tty=true, docker's -t)", c.id)
		}
		if !r.State.Status.live() {
			return errdefs.Busy("container %s is not running", c.id)
		}
	} else {
		_, x, err := e.GetExec(ref, execID)
		if err != nil {
			return err
		}
		if cfg := x.Config(); cfg == nil || !cfg.Tty {
			return errdefs.Busy("exec %s has no terminal", execID)
		}
	}
	return e.keeper.Resize(ctx, c.id, execID, rows, cols)
}
