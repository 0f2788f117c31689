package keeper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/logs"
	"github.com/enginefs/enginefs/runtime"
)

// handle runs one call (every method but hello, cancel and wait).
func (s *server) handle(ctx context.Context, method string, params json.RawMessage) (any, error) {
	decode := func(v any) error {
		if err := json.Unmarshal(params, v); err != nil {
			return errdefs.Invalid("keeper: %s: %w", method, err)
		}
		return nil
	}
	var (
		pp  procParams
		err error
	)
	switch method {
	case mStart:
		var p startParams
		if err := decode(&p); err != nil {
			return nil, err
		}
		return s.start(ctx, p)
	case mExec:
		var p ExecRequest
		if err := decode(&p); err != nil {
			return nil, err
		}
		return s.exec(ctx, p)
	case mSignal:
		var p signalParams
		if err := decode(&p); err != nil {
			return nil, err
		}
		return nil, s.signal(p.procParams, p.Signal)
	case mWrite:
		var p writeParams
		if err := decode(&p); err != nil {
			return nil, err
		}
		proc, err := s.proc(p.procParams)
		if err != nil {
			return nil, err
		}
		return nil, proc.writeStdin(ctx, p.Data)
	case mResize:
		var p resizeParams
		if err := decode(&p); err != nil {
			return nil, err
		}
		proc, err := s.proc(p.procParams)
		if err != nil {
			return nil, err
		}
		return nil, proc.resize(p.Rows, p.Cols)
	case mDelete:
		var p deleteParams
		if err := decode(&p); err != nil {
			return nil, err
		}
		return nil, s.delete(ctx, p)
	case mList:
		return s.list(), nil
	case mCloseStdin, mPause, mResume, mForget:
		if err = decode(&pp); err != nil {
			return nil, err
		}
	default:
		return nil, errdefs.Invalid("keeper: unknown method %q", method)
	}
	switch method {
	case mCloseStdin:
		proc, err := s.proc(pp)
		if err != nil {
			return nil, err
		}
		return nil, proc.closeStdin()
	case mPause, mResume:
		c, err := s.container(pp.ID)
		if err != nil {
			return nil, err
		}
		if method == mPause {
			return nil, c.rt.Pause(ctx, pp.ID)
		}
		return nil, c.rt.Resume(ctx, pp.ID)
	}
	return nil, s.forget(pp)
}

// start starts a container's init process.
func (s *server) start(ctx context.Context, r startParams) (Proc, error) {
	if err := checkName("container id", r.ID); err != nil {
		return Proc{}, err
	}
	if r.LogDir == "" || r.Bundle == "" {
		return Proc{}, errdefs.Invalid("container %s: no bundle or no log directory", r.ID)
	}
	k := key{r.ID, ""}
	if err := s.reserve(k); err != nil {
		return Proc{}, err
	}
	defer s.release(k)
	rt, err := s.runtime(r.RuntimeBinary)
	if err != nil {
		return Proc{}, fmt.Errorf("container %s: %w", r.ID, err)
	}
	spec, err := runtime.ReadBundle(r.Bundle)
	if err != nil {
		return Proc{}, fmt.Errorf("container %s: %w", r.ID, err)
	}
	c := &container{runtime: r.RuntimeBinary, rt: rt, bundle: r.Bundle}
	return s.launch(k, c, r.LogDir, &r.StartRequest, r.OpenStdin, spec.Process.Terminal, func(stdio runtime.Stdio) (runtime.Process, error) {
		return rt.Start(ctx, runtime.Container{ID: r.ID, Bundle: r.Bundle, Stdio: stdio})
	})
}

// exec starts a process in a running container.
func (s *server) exec(ctx context.Context, r ExecRequest) (Proc, error) {
	if err := checkName("exec id", r.ExecID); err != nil {
		return Proc{}, err
	}
	if r.LogDir == "" {
		return Proc{}, errdefs.Invalid("container %s exec %s: no log directory", r.ContainerID, r.ExecID)
	}
	s.mu.Lock()
	c, init := s.containers[r.ContainerID], s.procs[key{r.ContainerID, ""}]
	running := c != nil && init != nil && !init.exited
	s.mu.Unlock()
	if !running {
		return Proc{}, errdefs.Busy("container %s is not running", r.ContainerID)
	}
	k := key{r.ContainerID, r.ExecID}
	if err := s.reserve(k); err != nil {
		return Proc{}, err
	}
	defer s.release(k)
	process := r.Process
	return s.launch(k, nil, r.LogDir, nil, r.OpenStdin, process.Terminal, func(stdio runtime.Stdio) (runtime.Process, error) {
		return c.rt.Exec(ctx, r.ContainerID, runtime.ExecProcess{
			ID: r.ExecID, Bundle: c.bundle, Pid: init.pid, Process: &process, Stdio: stdio,
		})
	})
}

// checkName refuses ids that could not name a process.
func checkName(what, id string) error {
	if id == "" || id == "." || id == ".." || filepath.Base(id) != id {
		return errdefs.Invalid("%s %q is not a plain name", what, id)
	}
	return nil
}

// reserve marks k as starting, so that two starts of one process do not
// race; release undoes it.
func (s *server) reserve(k key) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := (&proc{key: k}).String()
	switch p := s.procs[k]; {
	case s.closing:
		return errdefs.Unavailable("%s: the keeper is exiting", name)
	case s.starting[k]:
		return errdefs.AlreadyExists("%s is being started", name)
	case p != nil && !p.exited:
		return errdefs.AlreadyExists("%s is running (pid %d)", name, p.pid)
	}
	s.starting[k] = true
	s.checkIdle()
	return nil
}

func (s *server) release(k key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.starting, k)
	s.checkIdle()
}

// launch makes the stdio and the log of a process, starts it with run, and
// keeps it: copiers for its output, a reaper for its exit. c, if not nil,
// is the container it starts (an init process).
func (s *server) launch(k key, c *container, logDir string, drivers *StartRequest, openStdin, terminal bool, run func(runtime.Stdio) (runtime.Process, error)) (Proc, error) {
	name := (&proc{key: k}).String()
	var logMax int64
	if drivers != nil {
		logMax = drivers.LogMax
	}
	lw, err := logs.Create(logDir, logs.WithMaxSize(logMax))
	if err != nil {
		return Proc{}, fmt.Errorf("%s: %w", name, err)
	}
	sinks, err := openSinks(drivers)
	if err != nil {
		lw.Close()
		return Proc{}, fmt.Errorf("%s: %w", name, err)
	}
	pp := &pipes{}
	if !terminal {
		if pp, err = newPipes(openStdin); err != nil {
			lw.Close()
			return Proc{}, errdefs.Unavailable("%s: stdio: %w", name, err)
		}
	}
	rp, err := run(pp.child)
	pp.closeChild()
	if err != nil {
		pp.closeOurs()
		lw.Close()
		closeSinks(sinks)
		return Proc{}, err
	}
	p := &proc{key: k, pid: rp.Pid(), rp: rp, started: time.Now(), log: lw, sinks: sinks, stdin: pp.stdin}
	if terminal {
		if con := rp.Console(); con == nil {
			s.logf("%s: the runtime gave no terminal; its output is lost", name)
		} else if p.tty, err = pollable(con); err != nil {
			s.logf("%s: terminal: %v; its output is lost", name, err)
		} else {
			p.outs = []output{{p.tty, logs.Stdout}}
		}
	} else {
		p.outs = []output{{pp.stdout, logs.Stdout}, {pp.stderr, logs.Stderr}}
	}
	p.copiers.Add(len(p.outs))
	for _, o := range p.outs {
		go s.copyOut(p, o)
	}
	s.mu.Lock()
	s.procs[k] = p // replaces the status of a previous run
	if c != nil {
		s.containers[k.id] = c
	}
	s.mu.Unlock()
	go s.reap(p)
	return Proc{ContainerID: k.id, ExecID: k.exec, Pid: p.pid, StartedAt: p.started}, nil
}

// proc returns the process pp names.
func (s *server) proc(pp procParams) (*proc, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.procs[key{pp.ID, pp.Exec}]
	if p == nil {
		return nil, errdefs.NotFound("%s: no such process", &proc{key: key{pp.ID, pp.Exec}})
	}
	return p, nil
}

// container returns what the keeper knows of container id.
func (s *server) container(id string) (*container, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.containers[id]
	if c == nil {
		return nil, errdefs.NotFound("container %s: not started by this keeper", id)
	}
	return c, nil
}

// signal sends sig to a process that has not exited.
func (s *server) signal(pp procParams, sig syscall.Signal) error {
	p, err := s.proc(pp)
	if err != nil {
		return err
	}
	s.mu.Lock()
	exited := p.exited
	s.mu.Unlock()
	if exited {
		return errdefs.Busy("%v has exited: %w", p, os.ErrProcessDone)
	}
	return p.rp.Signal(sig)
}

// delete deletes a container through the runtime that started it, or, for
// one this keeper does not know, through each runtime the client knows.
func (s *server) delete(ctx context.Context, d deleteParams) error {
	if err := checkName("container id", d.ID); err != nil {
		return err
	}
	s.mu.Lock()
	c := s.containers[d.ID]
	s.mu.Unlock()
	if c != nil {
		if err := c.rt.Delete(ctx, d.ID); err != nil {
			return err
		}
		s.mu.Lock()
		if s.containers[d.ID] == c {
			delete(s.containers, d.ID)
		}
		s.mu.Unlock()
		return nil
	}
	var errs []error
	for _, name := range append([]string{"builtin"}, d.Runtimes...) {
		rt, err := s.runtime(name)
		if err == nil {
			err = rt.Delete(ctx, d.ID)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// list returns every process, sorted.
func (s *server) list() []State {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]State, 0, len(s.procs))
	for k, p := range s.procs {
		out = append(out, State{Proc: Proc{ContainerID: k.id, ExecID: k.exec, Pid: p.pid, StartedAt: p.started}, Running: !p.exited, Exit: p.status})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ContainerID != out[j].ContainerID {
			return out[i].ContainerID < out[j].ContainerID
		}
		return out[i].ExecID < out[j].ExecID
	})
	return out
}

// forget drops an exit status, or has a running process's dropped when it
// exits.
func (s *server) forget(pp procParams) error {
	k := key{pp.ID, pp.Exec}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.procs[k]
	switch {
	case p == nil:
		return errdefs.NotFound("%s: no such process", &proc{key: k})
	case p.exited:
		delete(s.procs, k)
		s.checkIdle()
	default:
		p.forgotten = true
	}
	return nil
}

// addWaiter has w called when the process k has exited: at once if it has.
func (s *server) addWaiter(k key, w *waiter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch p := s.procs[k]; {
	case p == nil:
		go w.fn(runtime.ExitStatus{}, errdefs.NotFound("%s: no such process", &proc{key: k}))
	case p.exited:
		go w.fn(p.status, nil)
	default:
		p.waiters = append(p.waiters, w)
	}
}

// dropWaiter cancels w.
func (s *server) dropWaiter(k key, w *waiter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.procs[k]; p != nil {
		for i, x := range p.waiters {
			if x == w {
				p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
				break
			}
		}
	}
}

// sink is a logging driver's copy of a container's output (logs.JSONFile,
// logs.Syslog), written beside the tree's log.
type sink interface {
	Write(s logs.Stream, p []byte, t time.Time) error
	Close() error
}

// openSinks opens the drivers r names (nil r: none, as for an exec).
func openSinks(r *StartRequest) ([]sink, error) {
	var sinks []sink
	if r == nil {
		return nil, nil
	}
	if r.JSONLog != nil {
		jw, err := logs.CreateJSONFile(*r.JSONLog)
		if err != nil {
			return nil, err
		}
		sinks = append(sinks, jw)
	}
	if r.Syslog != nil {
		sw, err := logs.DialSyslog(*r.Syslog)
		if err != nil {
			closeSinks(sinks)
			return nil, err
		}
		sinks = append(sinks, sw)
	}
	return sinks, nil
}

func closeSinks(sinks []sink) {
	for _, s := range sinks {
		s.Close()
	}
}
