package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/imagestore"
	"github.com/enginefs/enginefs/runtime"
)

// Start runs a created or exited container: it mounts its root filesystem,
// writes its bundle and hands it to the runtime. It returns once the
// container's program runs, or with the runtime's error (which is also kept in
// the container's State.Error).
func (e *Engine) Start(ctx context.Context, ref string) error {
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	e.mu.Lock()
	closing := e.closing
	e.mu.Unlock()
	if closing {
		return errdefs.Unavailable("the daemon is shutting down")
	}
	c.mu.Lock()
	if err := c.gate(); err != nil {
		c.mu.Unlock()
		return err
	}
	switch {
	case c.rec.State.Status == StatusNew:
		c.mu.Unlock()
		return errdefs.Busy("container %s is not created yet: write create to its ctl first", c.id)
	case c.rec.State.Status == StatusRunning:
		c.mu.Unlock()
		return errdefs.Busy("container %s is already running", c.id)
	case c.starting:
		c.mu.Unlock()
		return errdefs.Busy("container %s is being started", c.id)
	}
	c.starting = true
	rec := c.rec
	c.mu.Unlock()

	proc, path, args, err := e.launch(ctx, rec)

	c.mu.Lock()
	c.starting = false
	if err != nil {
		c.rec.State.Error = err.Error()
		perr := e.put(c.rec)
		auto := c.rec.Config.AutoRemove
		c.mu.Unlock()
		if perr != nil {
			e.logf("container %s: %v", c.id, perr)
		}
		if auto {
			if rerr := e.Remove(context.WithoutCancel(ctx), c.id, true); rerr != nil {
				e.logf("container %s: auto-remove: %v", c.id, rerr)
			}
		}
		return err
	}
	c.proc = proc
	c.rec.Path, c.rec.Args = path, args
	c.rec.State = State{Status: StatusRunning, Pid: proc.Pid(), StartedAt: time.Now().UTC()}
	perr := e.put(c.rec)
	e.monitors.Add(1)
	c.mu.Unlock()
	go e.monitor(c, proc)
	if perr != nil {
		// The container runs but its state is not on disk; a restart would
		// not know it. Say so rather than pretend.
		return fmt.Errorf("container %s started but its state was not saved: %w", c.id, perr)
	}
	return nil
}

// launch does the work of Start outside the container's lock.
func (e *Engine) launch(ctx context.Context, rec Record) (runtime.Process, string, []string, error) {
	img, err := e.images.Get(ctx, rec.ImageID)
	if err != nil {
		return nil, "", nil, err
	}
	p, err := merge(img, &rec.Config)
	if err != nil {
		return nil, "", nil, err
	}
	dir, rootfs := e.containerDir(rec.ID), e.rootfs(rec.ID)
	if err := e.images.Mount(ctx, img, rootfs, dir); err != nil {
		return nil, "", nil, err
	}
	undo := func() {
		if err := imagestore.Unmount(rootfs); err != nil {
			e.logf("container %s: %v", rec.ID, err)
		}
	}
	user, err := resolveUser(rootfs, p.User)
	if err != nil {
		undo()
		return nil, "", nil, err
	}
	spec, err := runtime.Spec(runtime.SpecOptions{
		ID:       rec.ID,
		Hostname: firstOf(rec.Config.Hostname, rec.ID[:12]),
		Args:     p.Args,
		Env:      p.Env,
		Cwd:      p.Cwd,
		User:     user,
	})
	if err == nil {
		err = runtime.WriteBundle(dir, spec)
	}
	if err != nil {
		undo()
		return nil, "", nil, err
	}
	logf, err := os.OpenFile(e.LogPath(rec.ID), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		undo()
		return nil, "", nil, err
	}
	defer logf.Close()
	proc, err := e.rt.Start(ctx, runtime.Container{
		ID:     rec.ID,
		Bundle: dir,
		Stdio:  runtime.Stdio{Stdout: logf, Stderr: logf},
	})
	if err != nil {
		undo()
		return nil, "", nil, err
	}
	return proc, p.Args[0], p.Args[1:], nil
}

// monitor waits for a run to end and records how it ended. A container with
// AutoRemove is removed before its waiters wake, so a client that saw the exit
// code finds the name free.
func (e *Engine) monitor(c *Container, proc runtime.Process) {
	defer e.monitors.Done()
	st, err := proc.Wait(context.Background())
	if err != nil {
		// The status is still valid when the runtime only failed to clean
		// up; without an exit time it is not.
		e.logf("container %s: %v", c.id, err)
		if st.ExitedAt.IsZero() {
			st = runtime.ExitStatus{Code: 255, ExitedAt: time.Now()}
		}
	}
	if err := imagestore.Unmount(e.rootfs(c.id)); err != nil {
		e.logf("container %s: %v", c.id, err)
	}
	c.mu.Lock()
	c.proc = nil
	c.rec.State.Status = StatusExited
	c.rec.State.Pid = 0
	c.rec.State.ExitCode = st.Code
	c.rec.State.OOMKilled = st.OOMKilled
	c.rec.State.FinishedAt = st.ExitedAt.UTC()
	if err != nil {
		c.rec.State.Error = err.Error()
	}
	r := c.next
	r.status = st
	c.next = newRun()
	auto := c.rec.Config.AutoRemove && !c.removing
	if auto {
		c.removing = true
	}
	name := c.rec.Name
	if perr := e.put(c.rec); perr != nil {
		e.logf("container %s: saving exit: %v", c.id, perr)
	}
	c.mu.Unlock()
	if auto {
		if err := e.remove(context.Background(), c, name); err != nil {
			e.logf("container %s: auto-remove: %v", c.id, err)
		}
	}
	close(r.done)
}

// running returns the container's process and current run if it is running.
func (c *Container) running() (runtime.Process, *run, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rec.State.Status != StatusRunning || c.proc == nil {
		return nil, nil, false
	}
	return c.proc, c.next, true
}

// signal sends sig to proc; a process that has just exited is not an error,
// the caller is waiting for its exit anyway.
func signal(proc runtime.Process, sig syscall.Signal) error {
	if err := proc.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

// waitRun waits for a run to end, or for timeout (0: no limit) or ctx. It
// reports whether the run ended.
func waitRun(ctx context.Context, r *run, timeout time.Duration) (bool, error) {
	var expire <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expire = t.C
	}
	select {
	case <-r.done:
		return true, nil
	case <-expire:
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// Stop sends the stop signal (SIGTERM), waits up to timeout for the container
// to exit, then kills it. Stopping a container that is not running does nothing.
func (e *Engine) Stop(ctx context.Context, ref string, timeout time.Duration) error {
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	proc, r, ok := c.running()
	if !ok {
		return nil
	}
	if err := signal(proc, syscall.SIGTERM); err != nil {
		return err
	}
	if timeout > 0 {
		if ended, err := waitRun(ctx, r, timeout); ended || err != nil {
			return err
		}
	}
	if err := signal(proc, syscall.SIGKILL); err != nil {
		return err
	}
	_, err = waitRun(ctx, r, 0)
	return err
}

// Kill sends a signal (a name like TERM or SIGTERM, or a number; default
// KILL) to the container's process. For SIGKILL it also waits for the exit, so
// that the status read next says exited.
func (e *Engine) Kill(ctx context.Context, ref, sig string) error {
	s, err := parseSignal(sig)
	if err != nil {
		return err
	}
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	proc, r, ok := c.running()
	if !ok {
		return errdefs.Busy("container %s is not running", c.id)
	}
	if err := signal(proc, s); err != nil || s != syscall.SIGKILL {
		return err
	}
	_, err = waitRun(ctx, r, 0)
	return err
}

// Remove deletes a container, its files and its record. A running container
// is refused unless force is set, in which case it is killed first. Removing
// a container whose removal is under way (an auto-remove) waits for it.
func (e *Engine) Remove(ctx context.Context, ref string, force bool) error {
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	for {
		c.mu.Lock()
		switch {
		case c.removed:
			c.mu.Unlock()
			return nil
		case c.removing:
			gone := c.gone
			c.mu.Unlock()
			select {
			case <-gone:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		case c.starting:
			c.mu.Unlock()
			return errdefs.Busy("container %s is being started", c.id)
		case c.rec.State.Status == StatusNew:
			c.mu.Unlock()
			e.Release(c)
			return nil
		case c.rec.State.Status == StatusRunning:
			proc, r := c.proc, c.next
			c.mu.Unlock()
			if !force {
				return errdefs.Busy("cannot remove container %s: it is running (stop it first, or rm force)", c.id)
			}
			if err := signal(proc, syscall.SIGKILL); err != nil {
				return err
			}
			if _, err := waitRun(ctx, r, 0); err != nil {
				return err
			}
			continue // the exit may have started an auto-remove
		}
		c.removing = true
		name := c.rec.Name
		c.mu.Unlock()
		return e.remove(ctx, c, name)
	}
}

// remove does the removal of a container marked removing. On failure the
// container stays, no longer marked.
func (e *Engine) remove(ctx context.Context, c *Container, name string) error {
	fail := func(err error) error {
		c.mu.Lock()
		c.removing = false
		c.mu.Unlock()
		return fmt.Errorf("removing container %s: %w", c.id, err)
	}
	if err := imagestore.Unmount(e.rootfs(c.id)); err != nil {
		return fail(err)
	}
	if err := e.rt.Delete(ctx, c.id); err != nil {
		return fail(err)
	}
	if err := e.del(c.id); err != nil {
		return fail(err)
	}
	e.mu.Lock()
	delete(e.containers, c.id)
	if e.names[name] == c {
		delete(e.names, name)
	}
	e.mu.Unlock()
	if err := os.RemoveAll(e.containerDir(c.id)); err != nil {
		e.logf("container %s: removing files: %v", c.id, err)
	}
	c.mu.Lock()
	c.markRemoved()
	c.mu.Unlock()
	return nil
}
