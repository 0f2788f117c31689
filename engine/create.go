package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/docker/docker/pkg/namesgenerator"

	"github.com/enginefs/enginefs/engine/network"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/imagestore"
	"github.com/enginefs/enginefs/internal/ids"
)

// Reserve hands out a new container id that is not configured yet (the
// containers/clone file). It is not persisted; Configure makes it a container,
// Release drops it.
func (e *Engine) Reserve() *Container {
	c := newContainer(ids.New(), Record{State: State{Status: StatusNew}})
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
	if err := e.checkUserns(cfg); err != nil {
		return nil, err
	}
	if err := e.resolveLogConfig(cfg); err != nil {
		return nil, err
	}
	img, err := e.images.Get(ctx, cfg.Image)
	if err != nil {
		return nil, err
	}
	if _, err := merge(img, cfg); err != nil {
		return nil, err
	}
	cfg.Healthcheck = mergeHealth(img, cfg.Healthcheck) // as docker, the config keeps the image's
	return img, nil
}

// Configure turns a reserved container into a created one: it checks cfg,
// resolves the image, claims the name and persists the record.
func (e *Engine) Configure(ctx context.Context, c *Container, name string, cfg Config) (err error) {
	img, err := e.prepare(ctx, &cfg)
	if err != nil {
		return err
	}
	if name != "" {
		if err := checkName(name); err != nil {
			return err
		}
	}
	// What a failure undoes runs once every lock below is released:
	// removing a volume takes the volumes' use lock for writing and
	// reads the containers' records, this one's included.
	var (
		claimed string
		made    []string
	)
	defer func() {
		if err != nil {
			if claimed != "" {
				e.dropName(claimed, c)
			}
			e.vols.RemoveMade(ctx, made)
		}
	}()
	// The name first (it takes only the engine's lock): a create refused
	// for its name makes nothing. Then the volumes, before any other
	// lock is taken: a plugin's Create may be slow, and other creates
	// must not wait on it.
	if claimed, err = e.claimName(c, name); err != nil {
		return err
	}
	mounts, made, err := e.resolveMounts(ctx, &cfg, img, nil)
	if err != nil {
		return err
	}
	unuse, err := e.vols.Use(mounts)
	if err != nil {
		return err
	}
	defer unuse()
	att, err := e.net.Attach(network.Container{ID: c.id, Settings: cfg.Networking.settings()}, imagePorts(img))
	if err != nil {
		return createInput(err)
	}
	// The attachment ends before the volumes are let go, and before a
	// failure removes the volumes made (the order of the locks).
	defer func() {
		if err != nil {
			att.Abort()
		} else {
			att.Commit(nil)
		}
	}()
	c.mu.Lock()
	defer c.mu.Unlock()
	rec := Record{
		ID:       c.id,
		Name:     claimed,
		Created:  time.Now().UTC(),
		Config:   cfg,
		ImageID:  img.ID,
		State:    State{Status: StatusCreated},
		Networks: att.Endpoints(),
		Mounts:   mounts,
	}
	err = c.gate()
	if err == nil && c.rec.State.Status != StatusNew {
		err = errdefs.Busy("container %s is already created", c.id)
	}
	if err == nil {
		err = e.persistNew(c.id, rec)
	}
	if err != nil {
		return err
	}
	c.rec = rec
	e.emit(rec, "create")
	return nil
}

// persistNew makes the directory of a new container, with an empty log that a
// client can open before start to read the first run from its first byte,
// and saves its record.
func (e *Engine) persistNew(id string, rec Record) error {
	dir := e.containerDir(id)
	err := os.MkdirAll(dir, 0o700)
	if err == nil {
		err = createLog(dir)
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
		e.emit(c.Record(), "rename", "oldName", "/"+old)
	}
	return err
}

// SetConfig replaces the config of a container that has not started yet; a
// container reserved by clone becomes created by it.
func (e *Engine) SetConfig(ctx context.Context, ref string, cfg Config) (err error) {
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
	// As in Configure, a failure is undone once the locks are released.
	var made []string
	defer func() {
		if err != nil {
			e.vols.RemoveMade(ctx, made)
		}
	}()
	cur := c.Record()
	mounts, made, err := e.resolveMounts(ctx, &cfg, img, cur.Mounts) // before the locks, as in Configure
	if err != nil {
		return err
	}
	unuse, err := e.vols.Use(mounts)
	if err != nil {
		return err
	}
	defer unuse()
	cur = c.Record()
	att, err := e.net.Attach(network.Container{ID: c.id, Settings: cfg.Networking.settings(), Endpoints: cur.Networks}, imagePorts(img))
	if err != nil {
		return err
	}
	var replaced map[string]*network.Endpoint // the endpoints the config's replace
	defer func() {
		if err != nil {
			att.Abort()
		} else {
			att.Commit(replaced)
		}
	}()
	eps := att.Endpoints()
	c.mu.Lock()
	defer c.mu.Unlock()
	err = c.gate()
	if err == nil && (c.rec.State.Status != StatusCreated || c.starting) {
		err = errdefs.Busy("container %s has started: its config is writable only until start", c.id)
	}
	rec := c.rec
	rec.Config, rec.ImageID, rec.Networks, rec.Mounts = cfg, img.ID, eps, mounts
	if err == nil {
		err = e.put(rec)
	}
	if err != nil {
		return err
	}
	replaced = c.rec.Networks
	c.rec = rec
	return nil
}

// createInput reclasses a not-found error of what a create names besides
// its image (a network) as invalid input, keeping its message: a not-found
// create means a missing image to docker's clients, which then pull it.
func createInput(err error) error {
	if errors.Is(err, errdefs.ErrNotFound) {
		return errdefs.Invalid("%s", err)
	}
	return err
}
