package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/enginefs/enginefs/engine/network"
	"github.com/enginefs/enginefs/engine/volume"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/imagestore"
	"github.com/enginefs/enginefs/runtime/keeper"
)

// Engine holds the containers of one daemon. It is safe for concurrent use.
type Engine struct {
	dir      string // state dir; containers live in dir/containers/<id>
	db       *bolt.DB
	images   *imagestore.Store
	keeper   Keeper
	logf     func(format string, args ...any)
	runtimes map[string]bool // runtime names the keeper knows
	runtime  string          // the default runtime

	// ctx ends the monitors when the daemon shuts down; the containers
	// they watch go on running under the keeper.
	ctx    context.Context
	cancel context.CancelFunc

	closing  atomic.Bool    // Close was called: no more starts
	monitors sync.WaitGroup // one per live process watched
	running  sync.WaitGroup // one per transfer (pull, push) in progress

	events eventLog // recent events and their readers

	mu         sync.Mutex
	containers map[string]*Container // by id
	names      map[string]*Container // by name

	net       Networks
	vols      Volumes
	remap     *remapping            // --userns-remap, or nil
	xfers     map[string]*transfers // pulls and pushes, by kind (transfers.go)
	logConfig LogConfig             // containers' default logging driver (--log-driver)
}

// Option configures New.
type Option func(*Engine)

// WithLogger sets where the engine reports what it cannot return to a caller
// (a failed cleanup, a skipped record). Default: the standard logger.
func WithLogger(logf func(format string, args ...any)) Option {
	return func(e *Engine) { e.logf = logf }
}

// WithRuntimes names the runtimes a container may ask for (the keeper's
// configured runtimes) and the default one. Default: only "builtin".
func WithRuntimes(def string, names ...string) Option {
	return func(e *Engine) {
		e.runtime = def
		e.runtimes = map[string]bool{def: true}
		for _, n := range names {
			e.runtimes[n] = true
		}
	}
}

// New opens (or creates) the engine state in dir, which must be on a
// filesystem that can hold overlayfs upper directories, and takes back the
// containers a previous daemon left: those the keeper still runs are watched
// again, those that exited meanwhile get their exit recorded (and their
// restart policy applied).
func New(ctx context.Context, dir string, images *imagestore.Store, k Keeper, opts ...Option) (*Engine, error) {
	e := &Engine{
		dir:        dir,
		images:     images,
		keeper:     k,
		xfers:      newTransfers(),
		logf:       log.Printf,
		runtimes:   map[string]bool{"builtin": true},
		runtime:    "builtin",
		containers: map[string]*Container{},
		names:      map[string]*Container{},
		net:        network.Disabled(),
		vols:       volume.New(nil),
	}
	for _, o := range opts {
		o(e)
	}
	if e.remap != nil && e.runtime == "builtin" {
		return nil, errdefs.Invalid("--userns-remap: the default runtime builtin cannot run containers in a user namespace yet; choose --default-runtime runc or crun")
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	// The scratch directory holds what lives as long as an open file of
	// a client (an image archive on its way in or out); what a killed
	// daemon left there is nobody's.
	if err := os.RemoveAll(filepath.Join(dir, "tmp")); err != nil {
		return nil, fmt.Errorf("emptying %s: %w", filepath.Join(dir, "tmp"), err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "containers"), 0o700); err != nil {
		return nil, fmt.Errorf("engine state: %w", err)
	}
	if err := e.openForRemap(dir); err != nil {
		return nil, err
	}
	db, err := bolt.Open(filepath.Join(dir, "engine.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, errdefs.Unavailable("engine state %s: %w (is another daemon using it?)", dir, err)
	}
	e.db = db
	recs, err := e.loadRecords()
	if err == nil {
		e.load(recs)
		err = e.vols.Open(bucket{db, bucketVolumes}, e.volumeUsers, e.volumeEvent)
	}
	if err == nil {
		err = e.net.Open(ctx, bucket{db, bucketNetworks}, containerNetworks{e}, e.networkEvent)
	}
	if err == nil {
		err = e.restore(ctx, recs)
	}
	if err != nil {
		e.cancel()
		db.Close()
		return nil, err
	}
	return e, nil
}

// ScratchDir returns a directory of the engine's state for short-lived
// files (image archives a client sends or reads), on the state's disk
// rather than in a tmpfs, and emptied when the engine starts.
func (e *Engine) ScratchDir() string { return filepath.Join(e.dir, "tmp") }

// adopted is a container the keeper knows at restore, and whether it has
// exited already.
type adopted struct {
	c      *Container
	exited bool
}

// load makes the containers of the records, as they were saved.
func (e *Engine) load(recs []Record) {
	for _, r := range recs {
		c := newContainer(r.ID, r)
		e.containers[r.ID] = c
		if r.Name != "" {
			e.names[r.Name] = c
		}
	}
}

// restore matches the containers of the records (load) with what the
// keeper runs or remembers.
func (e *Engine) restore(ctx context.Context, recs []Record) error {
	states, err := e.keeper.List(ctx)
	if err != nil {
		return fmt.Errorf("asking the keeper what runs: %w", err)
	}
	inits := map[string]keeper.State{}
	var execs []keeper.State
	for _, st := range states {
		if st.ExecID == "" {
			inits[st.ContainerID] = st
		} else {
			execs = append(execs, st)
		}
	}
	mounted := mountedUnder(filepath.Join(e.dir, "containers"))
	var policy []*Container
	var adopt []adopted
	for _, r := range recs {
		c := e.containers[r.ID]
		st, known := inits[r.ID]
		delete(inits, r.ID)
		switch {
		case known:
			// Running, or exited while no daemon watched: the monitor
			// records the exit (its Wait answers at once) and applies
			// the policy. A container whose start the crash cut short
			// after the keeper started it is adopted.
			if !c.rec.State.Status.live() {
				c.rec.State = State{Status: StatusRunning, Pid: st.Pid, StartedAt: startedAt(st.Proc)}
			}
			adopt = append(adopt, adopted{c, !st.Running})
		case r.State.Status.live() || r.State.Status == StatusRestarting || mounted[e.rootfs(r.ID)]:
			// The keeper lost it (the keeper died), or a start was cut
			// short before the keeper had it: kill what is left.
			e.cleanup(ctx, c)
			if r.State.Status.live() {
				c.rec.State = State{Status: StatusExited, StartedAt: r.State.StartedAt, FinishedAt: time.Now().UTC(),
					ExitCode: 137, Error: "lost: the keeper did not know the container when the daemon restarted"}
			} else if r.State.Status == StatusRestarting {
				c.rec.State.Status = StatusExited
			}
			if err := e.put(c.rec); err != nil {
				e.logf("container %s: %v", c.id, err)
			}
			policy = append(policy, c)
		default:
			policy = append(policy, c)
		}
	}
	// The network side of the running containers (DNS, port proxies) and
	// their holds on volumes are taken back before their monitors may see
	// them exit.
	e.net.Restore(ctx)
	for _, c := range e.List() {
		if rec := c.Record(); rec.State.Status.live() {
			e.vols.Restore(ctx, rec.ID, rec.Mounts)
		}
	}
	// The exit of a container that ended while no daemon ran is recorded
	// before the engine serves anyone, so that its status is never seen
	// as running; the others are watched from now on.
	for _, a := range adopt {
		c := a.c
		e.monitors.Add(1)
		done := make(chan struct{})
		go func() {
			defer close(done)
			e.monitor(c, false)
		}()
		if a.exited {
			// Bounded: a keeper that stops answering must not keep
			// the daemon from coming up.
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				e.logf("container %s: its exit is not recorded yet", c.id)
			}
		}
	}
	// The health checks of the containers that run go on where they were.
	for _, a := range adopt {
		if !a.exited {
			e.startHealth(a.c, true)
		}
	}
	for id := range inits {
		e.logf("keeper runs %s, which has no record: killing it", id)
		if err := e.keeper.Delete(ctx, id); err != nil {
			e.logf("container %s: %v", id, err)
		}
		_ = e.keeper.Forget(ctx, id, "")
	}
	for _, st := range execs {
		e.adoptExec(st)
	}
	// Docker starts always and unless-stopped containers when the daemon
	// starts; do it without holding up the start-up.
	for _, c := range policy {
		r := c.rec
		p := r.Config.RestartPolicy.Name
		if r.State.Status == StatusExited && (p == "always" || (p == "unless-stopped" && !r.ManuallyStopped)) {
			go func(id string) {
				if err := e.Start(e.ctx, id); err != nil {
					e.logf("container %s: restart at daemon start: %v", id, err)
				}
			}(c.id)
		}
	}
	return nil
}

// cleanup kills whatever is left of a container's processes and unmounts its
// root filesystem.
func (e *Engine) cleanup(ctx context.Context, c *Container) {
	if err := e.keeper.Delete(ctx, c.id); err != nil {
		e.logf("container %s: %v", c.id, err)
	}
	if err := imagestore.Unmount(e.rootfs(c.id)); err != nil {
		e.logf("container %s: unmounting rootfs: %v", c.id, err)
	}
}

// mountedUnder returns the mount points below dir.
func mountedUnder(dir string) map[string]bool {
	out := map[string]bool{}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			out[fields[4]] = true
		}
	}
	return out
}

// Close stops watching: the containers go on running under the keeper, and
// the next daemon takes them back. It refuses new starts, cancels pending
// restarts, waits for the monitors to let go and closes the state.
func (e *Engine) Close(ctx context.Context) error {
	e.closing.Store(true)
	e.cancel()
	e.monitors.Wait()
	e.running.Wait()
	e.releaseAllFiles()
	e.net.Close(ctx)
	return e.db.Close()
}

// closed reports whether Close was called.
func (e *Engine) closed() error {
	if e.closing.Load() {
		return errdefs.Unavailable("the daemon is shutting down")
	}
	return nil
}

func (e *Engine) containerDir(id string) string { return filepath.Join(e.dir, "containers", id) }
func (e *Engine) rootfs(id string) string       { return filepath.Join(e.containerDir(id), "rootfs") }

// LogPath returns the file holding a container's output (the log file
// the tree serves as it grows, and docker's inspect LogPath).
func (e *Engine) LogPath(id string) string { return filepath.Join(e.containerDir(id), "log") }

// Get finds a container by full id, name or unique id prefix, as docker does.
// A container only reserved by clone is found by its full id.
func (e *Engine) Get(ref string) (*Container, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c, ok := e.containers[ref]; ok {
		return c, nil
	}
	if c, ok := e.names[strings.TrimPrefix(ref, "/")]; ok {
		return c, nil
	}
	var found *Container
	if ref != "" && strings.Trim(ref, "0123456789abcdef") == "" {
		for id, c := range e.containers {
			if strings.HasPrefix(id, ref) {
				if found != nil {
					return nil, errdefs.Invalid("container id prefix %q is ambiguous", ref)
				}
				found = c
			}
		}
	}
	if found == nil {
		return nil, errdefs.NotFound("no such container: %s", ref)
	}
	return found, nil
}

// List returns every container, oldest first.
func (e *Engine) List() []*Container {
	e.mu.Lock()
	out := make([]*Container, 0, len(e.containers))
	for _, c := range e.containers {
		out = append(out, c)
	}
	e.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		ri, rj := out[i].Record(), out[j].Record()
		if !ri.Created.Equal(rj.Created) {
			return ri.Created.Before(rj.Created)
		}
		return ri.ID < rj.ID
	})
	return out
}

// isGone reports whether an error from the keeper says the process is not
// there (any more).
func isGone(err error) bool {
	return errors.Is(err, errdefs.ErrNotFound) || errors.Is(err, os.ErrProcessDone)
}
