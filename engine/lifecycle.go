package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/docker/go-connections/nat"

	"github.com/enginefs/enginefs/engine/network"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/imagestore"
	"github.com/enginefs/enginefs/runtime"
	"github.com/enginefs/enginefs/runtime/keeper"
)

// Start runs a created or exited container: it mounts its root filesystem,
// writes its bundle and hands it to the keeper. It returns once the
// container's program runs, or with the error (also kept in State.Error).
// A start by a user resets the restart count and the manual stop.
func (e *Engine) Start(ctx context.Context, ref string) error {
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	return e.start(ctx, c, false)
}

// start is Start for a user (byPolicy false) or for the restart policy.
func (e *Engine) start(ctx context.Context, c *Container, byPolicy bool) error {
	if err := e.closed(); err != nil {
		return err
	}
	c.mu.Lock()
	if err := c.gate(); err != nil {
		c.mu.Unlock()
		return err
	}
	switch st := c.rec.State.Status; {
	case st == StatusNew:
		c.mu.Unlock()
		return errdefs.Busy("container %s is not created yet: write create to its ctl first", c.id)
	case st.live():
		c.mu.Unlock()
		return errdefs.Busy("container %s is already running", c.id)
	case c.starting:
		c.mu.Unlock()
		return errdefs.Busy("container %s is being started", c.id)
	}
	if c.cancelRestart != nil {
		// A user start replaces the pending restart; the policy's own
		// start is that restart, whose context must live on.
		if !byPolicy {
			c.cancelRestart()
		}
		c.cancelRestart = nil
	}
	c.starting = true
	if !byPolicy {
		c.rec.ManuallyStopped, c.rec.RestartCount = false, 0
	}
	rec := c.rec
	c.mu.Unlock()

	proc, path, args, ports, err := e.launch(ctx, rec)

	c.mu.Lock()
	c.starting = false
	if err != nil {
		if c.rec.State.Status == StatusRestarting {
			c.rec.State.Status = StatusExited
		}
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
	c.rec.Path, c.rec.Args, c.rec.Ports = path, args, ports
	c.rec.Runtime = cmp.Or(rec.Config.Runtime, e.runtime)
	c.rec.State = State{Status: StatusRunning, Pid: proc.Pid, StartedAt: startedAt(proc)}
	c.reaped = false
	e.emit(c.rec, "start")
	e.monitors.Add(1)
	c.mu.Unlock()
	// The running state is saved by the monitor, off the start's critical
	// path: until it is on disk, a daemon that crashed would find the
	// container through the keeper and adopt it.
	go e.monitor(c, true)
	e.startHealth(c, false)
	return nil
}

// launch does the work of a start outside the container's lock: the root
// filesystem, the network (namespace, DNS, published ports, which it
// returns), the bundle, and the keeper's start.
func (e *Engine) launch(ctx context.Context, rec Record) (keeper.Proc, string, []string, nat.PortMap, error) {
	img, err := e.images.Get(ctx, rec.ImageID)
	if err != nil {
		return keeper.Proc{}, "", nil, nil, err
	}
	p, err := merge(img, &rec.Config)
	if err != nil {
		return keeper.Proc{}, "", nil, nil, err
	}
	dir, rootfs := e.containerDir(rec.ID), e.rootfs(rec.ID)
	if e.remapped(&rec.Config) {
		// The remapped root must reach its root filesystem (docker's
		// 0710 root:remapped-root has the same effect).
		if err := os.Chmod(dir, 0o711); err != nil {
			return keeper.Proc{}, "", nil, nil, err
		}
	}
	e.releaseFiles(rec.ID) // a copy's mount (files.go) gives way to the run's
	if err := e.images.Mount(ctx, img, rootfs, dir, e.mountOptions(&rec.Config)...); err != nil {
		return keeper.Proc{}, "", nil, nil, err
	}
	var sb *network.Sandbox
	var volumes bool
	fail := func(err error) (keeper.Proc, string, []string, nat.PortMap, error) {
		if volumes {
			e.vols.Unmount(context.WithoutCancel(ctx), rec.ID, rec.Mounts)
		}
		sb.Close(context.WithoutCancel(ctx))
		if uerr := imagestore.Unmount(rootfs); uerr != nil {
			e.logf("container %s: %v", rec.ID, uerr)
		}
		return keeper.Proc{}, "", nil, nil, err
	}
	view := e.netView(rec)
	if e.remapped(&rec.Config) {
		view.Spawn = e.remap.remap.Spawn // its network namespace is its user namespace's
	}
	sb, err = e.net.Up(ctx, view)
	if err != nil {
		return fail(err)
	}
	opts, err := e.specOptions(rec, p, rootfs, sb)
	if err != nil {
		return fail(err)
	}
	e.giveVolumes(ctx, &rec.Config, rec.Mounts)
	vm, err := e.vols.Mount(ctx, rec.ID, rec.Mounts, rootfs)
	if err != nil {
		return fail(err)
	}
	// Volumes first: /etc/hosts and its kin go on top of a volume on /etc.
	opts.Mounts = append(vm, opts.Mounts...)
	volumes = true
	spec, err := runtime.Spec(opts)
	if err == nil {
		sb.Apply(spec)
		err = runtime.WriteBundle(dir, spec)
	}
	if err == nil {
		err = recordStubs(dir, mountDestinations(spec))
	}
	if err != nil {
		return fail(err)
	}
	ports, err := sb.Publish(imagePorts(img))
	if err != nil {
		return fail(err)
	}
	jsonLog, err := e.jsonLog(rec)
	if err != nil {
		return fail(err)
	}
	proc, err := e.keeper.Start(ctx, keeper.StartRequest{
		ID:        rec.ID,
		Bundle:    dir,
		Runtime:   cmp.Or(rec.Config.Runtime, e.runtime),
		OpenStdin: rec.Config.OpenStdin,
		LogDir:    e.containerDir(rec.ID),
		JSONLog:   jsonLog,
		Syslog:    syslogConfig(rec),
		LogMax:    OutputLogMax,
	})
	if err != nil {
		return fail(err)
	}
	sb.Keep()
	return proc, p.Args[0], p.Args[1:], ports, nil
}

// monitor waits for the end of a container's run and records it; with save,
// it first saves the record of the start that launched it. Every save of a
// container's record is made under its lock from the record as it is then,
// so saves never go back in time. When the daemon shuts
// down it lets go without recording anything: the container goes on under
// the keeper. A container with AutoRemove is removed before its waiters wake,
// so a client that saw the exit code finds the name free; its exit is not
// saved, the removal deletes the record.
func (e *Engine) monitor(c *Container, save bool) {
	defer e.monitors.Done()
	if save {
		c.mu.Lock()
		if err := e.put(c.rec); err != nil {
			e.logf("container %s: saving its start: %v", c.id, err)
		}
		c.mu.Unlock()
	}
	st, err := e.wait(c.id, "")
	if e.ctx.Err() != nil {
		return
	}
	if err != nil {
		e.logf("container %s: waiting: %v", c.id, err)
		if st.ExitedAt.IsZero() {
			st = runtime.ExitStatus{Code: 255, ExitedAt: time.Now()}
		}
	}
	reaped := err == nil // the runtime has cleaned up after the process
	e.net.Down(context.Background(), c.id)
	e.vols.Unmount(context.Background(), c.id, c.Record().Mounts)
	if err := imagestore.Unmount(e.rootfs(c.id)); err != nil {
		e.logf("container %s: %v", c.id, err)
	}
	c.mu.Lock()
	started := c.rec.State.StartedAt
	c.rec.Ports = nil
	c.stopHealth()
	c.rec.State = State{
		Status:     StatusExited,
		StartedAt:  started,
		FinishedAt: st.ExitedAt.UTC(),
		ExitCode:   st.Code,
		OOMKilled:  st.OOMKilled,
		Health:     c.rec.State.Health,
	}
	if err != nil {
		c.rec.State.Error = err.Error()
	}
	r := c.next
	r.status = st
	c.next = newRun()
	delay, restart := e.restartDelay(c, st, time.Since(started))
	if restart {
		c.rec.State.Status = StatusRestarting
		c.rec.RestartCount++
	}
	auto := c.rec.Config.AutoRemove && !c.removing
	if auto {
		c.removing = true
	}
	c.reaped = reaped
	if st.OOMKilled {
		e.emit(c.rec, "oom")
	}
	e.emit(c.rec, "die", "exitCode", itoa(st.Code))
	name := c.rec.Name
	var perr error
	if !auto {
		perr = e.put(c.rec)
	}
	if restart {
		e.scheduleRestart(c, delay)
	}
	c.mu.Unlock()
	switch {
	case auto:
		if err := e.remove(context.Background(), c, name); err != nil {
			e.logf("container %s: auto-remove: %v", c.id, err)
			c.mu.Lock()
			if err := e.put(c.rec); err != nil {
				e.logf("container %s: saving exit: %v", c.id, err)
			}
			c.mu.Unlock()
		}
	case perr != nil:
		e.logf("container %s: saving exit: %v", c.id, perr)
	default:
		// Once the exit is on disk the keeper may forget it.
		if err := e.keeper.Forget(e.ctx, c.id, ""); err != nil && !isGone(err) {
			e.logf("container %s: %v", c.id, err)
		}
	}
	close(r.done)
}

// wait waits for a process through the keeper. A connection to the keeper
// that broke fails a Wait with errdefs.ErrUnavailable; the client connects
// again on the next call, so the wait is retried (a keeper that came back
// without the process then says not found).
func (e *Engine) wait(id, execID string) (runtime.ExitStatus, error) {
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, time.Second) {
		st, err := e.keeper.Wait(e.ctx, id, execID)
		if !errors.Is(err, errdefs.ErrUnavailable) || e.ctx.Err() != nil {
			return st, err
		}
		e.logf("container %s: waiting: %v; trying again", id, err)
		select {
		case <-time.After(delay):
		case <-e.ctx.Done():
			return st, e.ctx.Err()
		}
	}
}

// live returns the current run of a container that has a process.
func (c *Container) live() (*run, Status, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.rec.State.Status
	return c.next, st, st.live()
}

// signal sends sig to a container's init; a process that has just exited is
// not an error, the caller waits for its exit anyway. A paused container is
// thawed after the signal so the signal is delivered.
func (e *Engine) signal(ctx context.Context, c *Container, sig syscall.Signal, paused bool) error {
	err := e.keeper.Signal(ctx, c.id, "", sig)
	if err != nil && !isGone(err) {
		return err
	}
	e.emit(c.Record(), "kill", "signal", itoa(int(sig)))
	if paused {
		if err := e.keeper.Resume(ctx, c.id); err != nil && !isGone(err) {
			return err
		}
		c.mu.Lock()
		if c.rec.State.Status == StatusPaused {
			c.rec.State.Status = StatusRunning
		}
		c.mu.Unlock()
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

// markStopped records that a user stopped the container (a restart policy
// then leaves it alone) and cancels a pending restart. It reports whether a
// pending restart was cancelled, which leaves the container exited.
func (e *Engine) markStopped(c *Container) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rec.ManuallyStopped = true
	cancelled := false
	if c.rec.State.Status == StatusRestarting && c.cancelRestart != nil {
		c.cancelRestart()
		c.cancelRestart = nil
		c.rec.State.Status = StatusExited
		cancelled = true
	}
	if err := e.put(c.rec); err != nil {
		e.logf("container %s: %v", c.id, err)
	}
	return cancelled
}

// StopTimeout is what stop waits by default before SIGKILL.
const StopTimeout = 10 * time.Second

// Stop sends the stop signal (the container's, else the image's, else
// SIGTERM), waits up to timeout (negative: the container's stop timeout) for
// the container to exit, then kills it. Stopping a container that is not
// running does nothing.
func (e *Engine) Stop(ctx context.Context, ref string, timeout time.Duration) error {
	return e.StopWith(ctx, ref, timeout, "")
}

// StopWith is Stop with the signal named by signal (docker stop --signal)
// instead of the stop signal, when it is not "". A bad signal name is
// errdefs.ErrInvalid.
func (e *Engine) StopWith(ctx context.Context, ref string, timeout time.Duration, signal string) error {
	var chosen syscall.Signal
	if signal != "" {
		s, err := parseSignal(signal)
		if err != nil {
			return err
		}
		chosen = s
	}
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	e.markStopped(c)
	r, status, ok := c.live()
	if !ok {
		return nil
	}
	rec := c.Record()
	sig := syscall.SIGTERM
	if s := e.stopSignal(ctx, rec); chosen != 0 {
		sig = chosen
	} else if s != 0 {
		sig = s
	}
	if timeout < 0 {
		timeout = StopTimeout
		if rec.Config.StopTimeout != nil {
			timeout = time.Duration(*rec.Config.StopTimeout) * time.Second
		}
	}
	if err := e.signal(ctx, c, sig, status == StatusPaused); err != nil {
		return err
	}
	if timeout > 0 {
		if ended, err := waitRun(ctx, r, timeout); ended || err != nil {
			if ended {
				e.emit(c.Record(), "stop")
			}
			return err
		}
	}
	if err := e.signal(ctx, c, syscall.SIGKILL, false); err != nil {
		return err
	}
	if _, err = waitRun(ctx, r, 0); err == nil {
		e.emit(c.Record(), "stop")
	}
	return err
}

// stopSignal is the container's stop signal, else the image's, else 0.
func (e *Engine) stopSignal(ctx context.Context, rec Record) syscall.Signal {
	name := rec.Config.StopSignal
	if name == "" {
		if img, err := e.images.Get(ctx, rec.ImageID); err == nil {
			name = img.Config.Config.StopSignal
		}
	}
	if name == "" {
		return 0
	}
	sig, err := parseSignal(name)
	if err != nil {
		return 0
	}
	return sig
}

// Kill sends a signal (a name like TERM or SIGTERM, or a number; default
// KILL) to the container's process. For SIGKILL it also waits for the exit, so
// that the status read next says exited. A KILL, TERM or INT counts as a stop
// by the user for the restart policy.
func (e *Engine) Kill(ctx context.Context, ref, sig string) error {
	s, err := parseSignal(sig)
	if err != nil {
		return err
	}
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	r, status, ok := c.live()
	if !ok {
		return errdefs.Busy("container %s is not running", c.id)
	}
	if s == syscall.SIGKILL || s == syscall.SIGTERM || s == syscall.SIGINT {
		e.markStopped(c)
	}
	if err := e.signal(ctx, c, s, status == StatusPaused && s == syscall.SIGKILL); err != nil {
		return err
	}
	if s != syscall.SIGKILL {
		return nil
	}
	_, err = waitRun(ctx, r, 0)
	return err
}

// Pause freezes the container's processes; Resume thaws them.
func (e *Engine) Pause(ctx context.Context, ref string) error {
	return e.setPaused(ctx, ref, true)
}

// Resume thaws a paused container.
func (e *Engine) Resume(ctx context.Context, ref string) error {
	return e.setPaused(ctx, ref, false)
}

func (e *Engine) setPaused(ctx context.Context, ref string, pause bool) error {
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	// As docker: a pause stops the health checks (the health is then
	// unhealthy), an unpause starts them again once the lock is let go.
	resumed := false
	defer func() {
		if resumed {
			e.startHealth(c, true)
		}
	}()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.gate(); err != nil {
		return err
	}
	switch st := c.rec.State.Status; {
	case !st.live():
		return errdefs.Busy("container %s is not running", c.id)
	case pause && st == StatusPaused:
		return errdefs.Busy("container %s is already paused", c.id)
	case !pause && st != StatusPaused:
		return errdefs.Busy("container %s is not paused", c.id)
	}
	if pause {
		err = e.keeper.Pause(ctx, c.id)
	} else {
		err = e.keeper.Resume(ctx, c.id)
	}
	if err != nil {
		return err
	}
	c.rec.State.Status = StatusRunning
	action := "unpause"
	if pause {
		c.rec.State.Status, action = StatusPaused, "pause"
		c.stopHealth()
	}
	resumed = !pause
	e.emit(c.rec, action)
	return e.put(c.rec)
}

// Restart stops the container (as Stop) and starts it again.
func (e *Engine) Restart(ctx context.Context, ref string, timeout time.Duration) error {
	if err := e.Stop(ctx, ref, timeout); err != nil {
		return err
	}
	if err := e.Start(ctx, ref); err != nil {
		return err
	}
	if c, err := e.Get(ref); err == nil {
		e.emit(c.Record(), "restart")
	}
	return nil
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
		switch st := c.rec.State.Status; {
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
		case st == StatusNew:
			c.mu.Unlock()
			e.Release(c)
			return nil
		case st.live() || st == StatusRestarting:
			c.mu.Unlock()
			if !force {
				return cannotRemove(c.id, st)
			}
			if e.markStopped(c) {
				continue // a pending restart was cancelled: it is exited now
			}
			r, status, ok := c.live()
			if !ok {
				continue
			}
			if err := e.signal(ctx, c, syscall.SIGKILL, status == StatusPaused); err != nil {
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
	// After a clean wait the runtime has already removed the cgroup and
	// its state; otherwise kill and remove whatever is left.
	c.mu.Lock()
	reaped := c.reaped
	c.mu.Unlock()
	if !reaped {
		if err := e.keeper.Delete(ctx, c.id); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			return fail(err)
		}
	}
	if err := e.keeper.Forget(ctx, c.id, ""); err != nil && !isGone(err) {
		e.logf("container %s: %v", c.id, err)
	}
	e.forgetExecs(ctx, c)
	rec := c.Record()
	e.net.Down(ctx, c.id)
	if err := e.del(c.id); err != nil {
		return fail(err)
	}
	e.net.Detach(c.id, rec.Networks)
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
	if rec.Config.AutoRemove {
		e.vols.RemoveAnonymous(ctx, rec.Mounts) // run --rm takes its anonymous volumes along
	}
	e.emit(rec, "destroy")
	return nil
}

// startedAt is when the keeper started proc: taken by the keeper, so that
// it is never after the exit the keeper reports (a short process may have
// exited before the start's reply arrives here). Now, from a keeper that
// does not report it.
func startedAt(proc keeper.Proc) time.Time {
	if proc.StartedAt.IsZero() {
		return time.Now().UTC()
	}
	return proc.StartedAt.UTC()
}

// cannotRemove is dockerd's refusal to remove a live container without
// force, word for word: clients match on "You cannot remove a running
// container".
func cannotRemove(id string, st Status) error {
	if st == StatusPaused {
		return errdefs.Busy("You cannot remove a paused container %s. Unpause and then stop the container before attempting removal or force remove", id)
	}
	return errdefs.Busy("You cannot remove a %s container %s. Stop the container before attempting removal or force remove", st, id)
}
