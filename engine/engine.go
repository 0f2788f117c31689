package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker/docker/pkg/namesgenerator"
	bolt "go.etcd.io/bbolt"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/imagestore"
	"github.com/enginefs/enginefs/runtime"
)

// Engine holds the containers of one daemon. It is safe for concurrent use.
type Engine struct {
	dir    string // state dir; containers live in dir/containers/<id>
	db     *bolt.DB
	images *imagestore.Store
	rt     runtime.Runtime
	logf   func(format string, args ...any)

	mu         sync.Mutex
	containers map[string]*Container // by id
	names      map[string]*Container // by name
	monitors   sync.WaitGroup        // one per running container
}

// Option configures New.
type Option func(*Engine)

// WithLogger sets where the engine reports what it cannot return to a caller
// (a failed cleanup, a skipped record). Default: the standard logger.
func WithLogger(logf func(format string, args ...any)) Option {
	return func(e *Engine) { e.logf = logf }
}

// New opens (or creates) the engine state in dir, which must be on a
// filesystem that can hold overlayfs upper directories, and recovers the
// containers a previous daemon left.
func New(ctx context.Context, dir string, images *imagestore.Store, rt runtime.Runtime, opts ...Option) (*Engine, error) {
	e := &Engine{
		dir:        dir,
		images:     images,
		rt:         rt,
		logf:       log.Printf,
		containers: map[string]*Container{},
		names:      map[string]*Container{},
	}
	for _, o := range opts {
		o(e)
	}
	if err := os.MkdirAll(filepath.Join(dir, "containers"), 0o700); err != nil {
		return nil, fmt.Errorf("engine state: %w", err)
	}
	db, err := bolt.Open(filepath.Join(dir, "engine.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, errdefs.Unavailable("engine state %s: %w (is another daemon using it?)", dir, err)
	}
	e.db = db
	recs, err := e.loadRecords()
	if err != nil {
		db.Close()
		return nil, err
	}
	for _, r := range recs {
		c := &Container{id: r.ID, rec: r, next: newRun()}
		if r.State.Status == StatusRunning {
			e.recover(ctx, c)
		}
		e.containers[r.ID] = c
		if r.Name != "" {
			e.names[r.Name] = c
		}
	}
	return e, nil
}

// recover deals with a container a previous daemon was running. This daemon
// is not its parent and cannot learn its exit code, so the container is
// stopped and marked exited; keeping it running across daemon restarts is the
// job of the live-restore work (a later issue).
func (e *Engine) recover(ctx context.Context, c *Container) {
	pid := c.rec.State.Pid
	if pid > 0 && inCgroupOf(pid, c.id) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		for i := 0; i < 200 && inCgroupOf(pid, c.id); i++ {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if err := imagestore.Unmount(e.rootfs(c.id)); err != nil {
		e.logf("container %s: unmounting rootfs: %v", c.id, err)
	}
	if err := e.rt.Delete(ctx, c.id); err != nil {
		e.logf("container %s: %v", c.id, err)
	}
	c.rec.State = State{
		Status:     StatusExited,
		StartedAt:  c.rec.State.StartedAt,
		FinishedAt: time.Now().UTC(),
		ExitCode:   137,
		Error:      "the daemon restarted while the container ran",
	}
	if err := e.put(c.rec); err != nil {
		e.logf("container %s: %v", c.id, err)
	}
}

// inCgroupOf reports whether pid is alive and in the container's cgroup, which
// tells a container's process from an unrelated process that reused the pid.
func inCgroupOf(pid int, id string) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	return err == nil && strings.Contains(string(data), "/enginefs/"+id)
}

// Close stops every running container (the daemon's containers do not outlive
// it yet), waits for them and closes the state.
func (e *Engine) Close(ctx context.Context) error {
	for _, c := range e.List() {
		if c.Record().State.Status == StatusRunning {
			if err := e.Kill(ctx, c.id, "KILL"); err != nil {
				e.logf("container %s: %v", c.id, err)
			}
		}
	}
	e.monitors.Wait()
	return e.db.Close()
}

func (e *Engine) containerDir(id string) string { return filepath.Join(e.dir, "containers", id) }
func (e *Engine) rootfs(id string) string       { return filepath.Join(e.containerDir(id), "rootfs") }

// LogPath returns the file holding a container's output.
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

func newID() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b[:])
}

// Reserve hands out a new container id that is not configured yet (the
// containers/clone file). It is not persisted; Configure makes it a container,
// Release drops it.
func (e *Engine) Reserve() *Container {
	c := &Container{id: newID(), rec: Record{State: State{Status: StatusNew}}, next: newRun()}
	c.rec.ID = c.id
	e.mu.Lock()
	e.containers[c.id] = c
	e.mu.Unlock()
	return c
}

// Release drops a reserved id that was never configured. It does nothing to a
// configured container.
func (e *Engine) Release(c *Container) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rec.State.Status == StatusNew && e.containers[c.id] == c {
		delete(e.containers, c.id)
		c.next.err = errdefs.NotFound("no such container: %s", c.id)
		close(c.next.done)
	}
}

// Create makes a new container from cfg, with name (empty: a generated one).
func (e *Engine) Create(ctx context.Context, name string, cfg Config) (*Container, error) {
	c := e.Reserve()
	if err := e.Configure(ctx, c, name, cfg); err != nil {
		e.Release(c)
		return nil, err
	}
	return c, nil
}

// Configure turns a reserved container into a created one: it checks cfg,
// resolves the image, claims the name and persists the record.
func (e *Engine) Configure(ctx context.Context, c *Container, name string, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	if name != "" {
		if err := checkName(name); err != nil {
			return err
		}
	}
	img, err := e.images.Get(ctx, cfg.Image)
	if err != nil {
		return err
	}
	if _, err := merge(img, &cfg); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rec.State.Status != StatusNew {
		return errdefs.Busy("container %s is already created", c.id)
	}
	if err := e.claimName(c, name); err != nil {
		return err
	}
	rec := Record{
		ID:      c.id,
		Name:    c.rec.Name,
		Created: time.Now().UTC(),
		Config:  cfg,
		ImageID: img.ID,
		State:   State{Status: StatusCreated},
	}
	// The log exists from creation on, so a client can open it before
	// start and read the first run's output from the first byte.
	if err := os.MkdirAll(e.containerDir(c.id), 0o700); err != nil {
		e.dropName(c.rec.Name)
		return fmt.Errorf("container %s: %w", c.id, err)
	}
	if err := os.WriteFile(e.LogPath(c.id), nil, 0o640); err != nil {
		e.dropName(c.rec.Name)
		os.RemoveAll(e.containerDir(c.id))
		return fmt.Errorf("container %s: %w", c.id, err)
	}
	if err := e.put(rec); err != nil {
		e.dropName(c.rec.Name)
		os.RemoveAll(e.containerDir(c.id))
		return fmt.Errorf("container %s: saving: %w", c.id, err)
	}
	c.rec = rec
	return nil
}

// claimName gives c the name (or a generated one); c.mu is held.
func (e *Engine) claimName(c *Container, name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if name == "" {
		for retry := 0; ; retry++ {
			name = namesgenerator.GetRandomName(retry)
			if _, taken := e.names[name]; !taken {
				break
			}
		}
	}
	if other, taken := e.names[name]; taken && other != c {
		return errdefs.AlreadyExists("the container name %q is already in use by container %s", name, other.id)
	}
	e.names[name] = c
	c.rec.Name = name
	return nil
}

func (e *Engine) dropName(name string) {
	e.mu.Lock()
	delete(e.names, name)
	e.mu.Unlock()
}

// Rename gives a container a new name.
func (e *Engine) Rename(ctx context.Context, ref, name string) error {
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	if err := checkName(name); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rec.State.Status == StatusNew {
		return errdefs.Busy("container %s is not created yet", c.id)
	}
	old := c.rec.Name
	if old == name {
		return nil
	}
	if err := e.claimName(c, name); err != nil {
		return err
	}
	if err := e.put(c.rec); err != nil {
		e.dropName(name)
		e.mu.Lock()
		e.names[old] = c
		e.mu.Unlock()
		c.rec.Name = old
		return err
	}
	e.dropName(old)
	return nil
}

// LoadImage imports the images of a docker-save or OCI archive.
func (e *Engine) LoadImage(ctx context.Context, path string) ([]*imagestore.Image, error) {
	return e.images.Load(ctx, path)
}

// Images lists the images of the store.
func (e *Engine) Images(ctx context.Context) ([]*imagestore.Image, error) {
	return e.images.List(ctx)
}

// Image finds an image by reference or id.
func (e *Engine) Image(ctx context.Context, ref string) (*imagestore.Image, error) {
	return e.images.Get(ctx, ref)
}

// SetConfig replaces the config of a container that has not started yet; a
// container reserved by clone becomes created by it.
func (e *Engine) SetConfig(ctx context.Context, ref string, cfg Config) error {
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	c.mu.Lock()
	status := c.rec.State.Status
	c.mu.Unlock()
	switch status {
	case StatusNew:
		return e.Configure(ctx, c, "", cfg)
	case StatusCreated:
	default:
		return errdefs.Busy("container %s has started: its config is writable only until start", c.id)
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	img, err := e.images.Get(ctx, cfg.Image)
	if err != nil {
		return err
	}
	if _, err := merge(img, &cfg); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rec.State.Status != StatusCreated || c.busy {
		return errdefs.Busy("container %s has started: its config is writable only until start", c.id)
	}
	rec := c.rec
	rec.Config, rec.ImageID = cfg, img.ID
	if err := e.put(rec); err != nil {
		return err
	}
	c.rec = rec
	return nil
}
