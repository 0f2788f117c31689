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
	closing    bool                  // Close was called: no more starts
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
		c := newContainer(r.ID, r)
		e.recover(ctx, c)
		e.containers[r.ID] = c
		if r.Name != "" {
			e.names[r.Name] = c
		}
	}
	return e, nil
}

// recover cleans up after the previous daemon. No container can be running
// for this daemon yet, so whatever still runs in a container's cgroup is an
// orphan: a container that was running when the daemon died (this daemon is
// not its parent and cannot learn its exit code), or one whose start the
// crash cut short. The runtime kills such processes and removes the cgroup,
// the rootfs is unmounted, and a container recorded as running is marked
// exited. Keeping containers running across daemon restarts (live restore)
// is later work.
func (e *Engine) recover(ctx context.Context, c *Container) {
	if err := e.rt.Delete(ctx, c.id); err != nil {
		e.logf("container %s: %v", c.id, err)
	}
	if err := imagestore.Unmount(e.rootfs(c.id)); err != nil {
		e.logf("container %s: unmounting rootfs: %v", c.id, err)
	}
	if c.rec.State.Status != StatusRunning {
		return
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

// Close stops every running container (the daemon's containers do not outlive
// it yet), waits for them and closes the state.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	e.closing = true
	e.mu.Unlock()
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
	c := newContainer(newID(), Record{State: State{Status: StatusNew}})
	e.mu.Lock()
	e.containers[c.id] = c
	e.mu.Unlock()
	return c
}

// Release drops a reserved id that was never configured. It does nothing to a
// configured container.
func (e *Engine) Release(c *Container) {
	c.mu.Lock()
	if c.removed || c.rec.State.Status != StatusNew {
		c.mu.Unlock()
		return
	}
	c.markRemoved()
	c.mu.Unlock()
	e.mu.Lock()
	if e.containers[c.id] == c {
		delete(e.containers, c.id)
	}
	e.mu.Unlock()
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

// reservedNames are the files of /containers, which a container name would hide.
var reservedNames = map[string]bool{"clone": true, "ctl": true, "err": true, "list": true}

// prepare checks a config against its image and returns the image.
func (e *Engine) prepare(ctx context.Context, cfg *Config) (*imagestore.Image, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	img, err := e.images.Get(ctx, cfg.Image)
	if err != nil {
		return nil, err
	}
	if _, err := merge(img, cfg); err != nil {
		return nil, err
	}
	return img, nil
}

// Configure turns a reserved container into a created one: it checks cfg,
// resolves the image, claims the name and persists the record.
func (e *Engine) Configure(ctx context.Context, c *Container, name string, cfg Config) error {
	img, err := e.prepare(ctx, &cfg)
	if err != nil {
		return err
	}
	if name != "" {
		if err := checkName(name); err != nil {
			return err
		}
	}
	if name, err = e.claimName(c, name); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rec := Record{
		ID:      c.id,
		Name:    name,
		Created: time.Now().UTC(),
		Config:  cfg,
		ImageID: img.ID,
		State:   State{Status: StatusCreated},
	}
	err = c.gate()
	if err == nil && c.rec.State.Status != StatusNew {
		err = errdefs.Busy("container %s is already created", c.id)
	}
	if err == nil {
		err = e.persistNew(c.id, rec)
	}
	if err != nil {
		e.dropName(name, c)
		return err
	}
	c.rec = rec
	return nil
}

// persistNew makes the directory of a new container, with an empty log that a
// client can open before start to read the first run from its first byte,
// and saves its record.
func (e *Engine) persistNew(id string, rec Record) error {
	dir := e.containerDir(id)
	err := os.MkdirAll(dir, 0o700)
	if err == nil {
		err = os.WriteFile(e.LogPath(id), nil, 0o640)
	}
	if err == nil {
		err = e.put(rec)
	}
	if err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("container %s: saving: %w", id, err)
	}
	return nil
}

// claimName reserves name (or a generated one) for c and returns it. It takes
// only the engine's lock.
func (e *Engine) claimName(c *Container, name string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if name == "" {
		for retry := 0; ; retry++ {
			name = namesgenerator.GetRandomName(retry)
			if _, taken := e.names[name]; !taken && !reservedNames[name] {
				break
			}
		}
	}
	if reservedNames[name] {
		return "", errdefs.Invalid("container name %q is reserved: it names a file of /containers", name)
	}
	if other, taken := e.names[name]; taken && other != c {
		return "", errdefs.AlreadyExists("the container name %q is already in use by container %s", name, other.id)
	}
	e.names[name] = c
	return name, nil
}

// dropName frees name if c holds it.
func (e *Engine) dropName(name string, c *Container) {
	e.mu.Lock()
	if e.names[name] == c {
		delete(e.names, name)
	}
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
	if name, err = e.claimName(c, name); err != nil {
		return err
	}
	c.mu.Lock()
	old := c.rec.Name
	err = c.gate()
	if err == nil && c.rec.State.Status == StatusNew {
		err = errdefs.Busy("container %s is not created yet", c.id)
	}
	if err == nil && old != name {
		rec := c.rec
		rec.Name = name
		if err = e.put(rec); err == nil {
			c.rec = rec
		}
	}
	c.mu.Unlock()
	switch {
	case err != nil:
		e.dropName(name, c)
	case old != name:
		e.dropName(old, c)
	}
	return err
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
	if status == StatusNew {
		return e.Configure(ctx, c, "", cfg)
	}
	img, err := e.prepare(ctx, &cfg)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.gate(); err != nil {
		return err
	}
	if c.rec.State.Status != StatusCreated || c.starting {
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
