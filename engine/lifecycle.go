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
	c.mu.Lock()
	switch {
	case c.rec.State.Status == StatusNew:
		c.mu.Unlock()
		return errdefs.Busy("container %s is not created yet: write create to its ctl first", c.id)
	case c.rec.State.Status == StatusRunning:
		c.mu.Unlock()
		return errdefs.Busy("container %s is already running", c.id)
	case c.busy:
		c.mu.Unlock()
		return errdefs.Busy("container %s is being started or removed", c.id)
	}
	c.busy = true
	rec := c.rec
	c.mu.Unlock()

	proc, path, args, err := e.launch(ctx, rec)

	c.mu.Lock()
	c.busy = false
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
		return fmt.Errorf("starting container %s: %w", c.id, err)
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

// monitor waits for a run to end and records how it ended.
func (e *Engine) monitor(c *Container, proc runtime.Process) {
	defer e.monitors.Done()
	st, err := proc.Wait(context.Background())
	if err != nil {
		e.logf("container %s: waiting: %v", c.id, err)
		st = runtime.ExitStatus{Code: 255, ExitedAt: time.Now()}
	}
	if err := imagestore.Unmount(e.rootfs(c.id)); err != nil {
		e.logf("container %s: %v", c.id, err)
	}
	if st.ExitedAt.IsZero() {
		st.ExitedAt = time.Now()
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
	auto := c.rec.Config.AutoRemove
	if perr := e.put(c.rec); perr != nil {
		e.logf("container %s: saving exit: %v", c.id, perr)
	}
	c.mu.Unlock()
	close(r.done)
	if auto {
		if err := e.Remove(context.Background(), c.id, false); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			e.logf("container %s: auto-remove: %v", c.id, err)
		}
	}
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
	if err := proc.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		e.logf("container %s: SIGTERM: %v", c.id, err)
	}
	select {
	case <-r.done:
		return nil
	case <-time.After(timeout):
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := proc.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("container %s: SIGKILL: %w", c.id, err)
	}
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Kill sends a signal (a name like TERM or SIGTERM, or a number; default
// KILL) to the container's process. For SIGKILL it also waits for the exit, so
// that the status read next says exited.
func (e *Engine) Kill(ctx context.Context, ref, signal string) error {
	sig, err := parseSignal(signal)
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
	if err := proc.Signal(sig); err != nil {
		return fmt.Errorf("container %s: signal %d: %w", c.id, sig, err)
	}
	if sig == syscall.SIGKILL {
		select {
		case <-r.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Remove deletes a container, its files and its record. A running container
// is refused unless force is set, in which case it is killed first.
func (e *Engine) Remove(ctx context.Context, ref string, force bool) error {
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	if proc, r, ok := c.running(); ok {
		if !force {
			return errdefs.Busy("cannot remove container %s: it is running (stop it first, or rm force)", c.id)
		}
		if err := proc.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("container %s: %w", c.id, err)
		}
		select {
		case <-r.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c.mu.Lock()
	if c.busy || c.rec.State.Status == StatusRunning {
		c.mu.Unlock()
		return errdefs.Busy("container %s is being started or removed", c.id)
	}
	if c.rec.State.Status == StatusNew {
		c.mu.Unlock()
		e.Release(c)
		return nil
	}
	c.busy = true
	name := c.rec.Name
	c.mu.Unlock()
	fail := func(err error) error {
		c.mu.Lock()
		c.busy = false
		c.mu.Unlock()
		return fmt.Errorf("removing container %s: %w", c.id, err)
	}
	if err := imagestore.Unmount(e.rootfs(c.id)); err != nil {
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
	c.next.err = errdefs.NotFound("container %s was removed", c.id)
	close(c.next.done)
	c.mu.Unlock()
	return nil
}
