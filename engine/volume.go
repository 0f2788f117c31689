package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	iofs "io/fs"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/mount"
	bolt "go.etcd.io/bbolt"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/voldrv"
	"github.com/enginefs/enginefs/voldrv/local"
	"github.com/enginefs/enginefs/voldrv/plugin"
)

// VolumeRecord is a volume, persisted in the volumes bucket of the engine's
// state. Which containers use it is in their records.
type VolumeRecord struct {
	Name    string            `json:"Name"`
	Driver  string            `json:"Driver"`
	Created time.Time         `json:"CreatedAt"`
	Labels  map[string]string `json:"Labels,omitempty"`
	Options map[string]string `json:"Options,omitempty"`
	// Anonymous volumes are made for a container (an image's VOLUME, -v
	// /path) and removed with it by run --rm and prune.
	Anonymous bool `json:"Anonymous,omitempty"`
}

// volState is the engine's volumes.
type volState struct {
	// use is held for reading while containers take volumes (create)
	// and for writing while volumes are removed, so that no volume goes
	// away under a container being made. Lock order: volState.use, then
	// netState.mu, then Engine.mu, then Container.mu.
	use sync.RWMutex

	mu   sync.Mutex // guards vols, making and filling
	vols map[string]VolumeRecord
	// making are the volumes being made (ensureVolume), by name: a
	// second create of the same name waits for the first, and nothing
	// else waits on a driver's Create.
	making map[string]chan struct{}
	// filling are the locks of volumes' first fill from an image, by
	// name, so that containers started together fill a new volume once.
	filling map[string]*sync.Mutex
	local   voldrv.Driver
	plugins *plugin.Registry
}

var bucketVolumes = []byte("volumes")

// WithVolumePlugins makes the Docker volume plugins whose sockets are in dir
// (NAME.sock, or NAME.spec) drivers of volumes. Default: the local driver
// only.
func WithVolumePlugins(dir string) Option {
	return func(e *Engine) { e.vols.plugins = plugin.NewRegistry(dir, 0) }
}

// loadVolumes opens the local driver and reads the volume records.
func (e *Engine) loadVolumes() error {
	drv, err := local.New(filepath.Join(e.dir, "volumes"))
	if err != nil {
		return err
	}
	e.vols.local = drv
	e.vols.vols = map[string]VolumeRecord{}
	e.vols.making = map[string]chan struct{}{}
	e.vols.filling = map[string]*sync.Mutex{}
	return e.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketVolumes)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var r VolumeRecord
			if err := json.Unmarshal(v, &r); err != nil || r.Name != string(k) {
				e.logf("skipping unreadable volume record %q: %v", k, err)
				return nil
			}
			e.vols.vols[r.Name] = r
			return nil
		})
	})
}

// volumeDriver returns the driver named name ("" is local).
func (e *Engine) volumeDriver(ctx context.Context, name string) (voldrv.Driver, error) {
	if name == "" || name == local.Name {
		return e.vols.local, nil
	}
	if e.vols.plugins == nil {
		return nil, errdefs.NotFound("no volume driver %q (this daemon has no plugin directory)", name)
	}
	return e.vols.plugins.Get(ctx, name)
}

// VolumeOptions is what volume create takes (docker's names).
type VolumeOptions struct {
	Name    string // "" for a generated one
	Driver  string // default "local"
	Options map[string]string
	Labels  map[string]string
}

// CreateVolume makes a volume; creating one that exists with the same
// driver returns it, as docker does.
func (e *Engine) CreateVolume(ctx context.Context, o VolumeOptions) (VolumeRecord, error) {
	rec, _, err := e.ensureVolume(ctx, o, false)
	return rec, err
}

// ensureVolume returns the volume o names, making it if it does not exist;
// made says it did. Concurrent calls for the same new name make it once;
// the driver's Create runs with no lock of the engine held.
func (e *Engine) ensureVolume(ctx context.Context, o VolumeOptions, anonymous bool) (rec VolumeRecord, made bool, err error) {
	if o.Name == "" {
		o.Name, anonymous = newID(), true
	}
	if err := voldrv.CheckName(o.Name); err != nil {
		return VolumeRecord{}, false, err
	}
	o.Driver = firstOf(o.Driver, local.Name)
	for {
		e.vols.mu.Lock()
		if old, ok := e.vols.vols[o.Name]; ok {
			e.vols.mu.Unlock()
			if o.Driver != old.Driver && o.Driver != local.Name {
				return VolumeRecord{}, false, errdefs.AlreadyExists("volume %s exists with driver %s, not %s", o.Name, old.Driver, o.Driver)
			}
			return old, false, nil
		}
		busy, ok := e.vols.making[o.Name]
		if !ok {
			done := make(chan struct{})
			e.vols.making[o.Name] = done
			e.vols.mu.Unlock()
			rec, err := e.makeVolume(ctx, o, anonymous)
			e.vols.mu.Lock()
			if err == nil {
				e.vols.vols[o.Name] = rec
			}
			delete(e.vols.making, o.Name)
			e.vols.mu.Unlock()
			close(done)
			if err != nil {
				return VolumeRecord{}, false, err
			}
			e.emitObject("volume", "create", rec.Name, "driver", rec.Driver)
			return rec, true, nil
		}
		e.vols.mu.Unlock()
		// Another create makes it: take what it made, or try again if
		// it failed.
		select {
		case <-busy:
		case <-ctx.Done():
			return VolumeRecord{}, false, ctx.Err()
		}
	}
}

// makeVolume makes a volume through its driver and records it; no lock of
// the engine is held, a plugin's Create may be slow.
func (e *Engine) makeVolume(ctx context.Context, o VolumeOptions, anonymous bool) (VolumeRecord, error) {
	drv, err := e.volumeDriver(ctx, o.Driver)
	if err != nil {
		return VolumeRecord{}, err
	}
	if err := drv.Create(ctx, o.Name, o.Options); err != nil {
		return VolumeRecord{}, err
	}
	rec := VolumeRecord{Name: o.Name, Driver: o.Driver, Created: time.Now().UTC(), Labels: o.Labels, Options: o.Options, Anonymous: anonymous}
	if err := e.putVolume(rec); err != nil {
		_ = drv.Remove(context.WithoutCancel(ctx), o.Name)
		return VolumeRecord{}, err
	}
	return rec, nil
}

// fillLock returns the lock of the volume name's fill from an image.
func (e *Engine) fillLock(name string) *sync.Mutex {
	e.vols.mu.Lock()
	defer e.vols.mu.Unlock()
	m := e.vols.filling[name]
	if m == nil {
		m = &sync.Mutex{}
		e.vols.filling[name] = m
	}
	return m
}

// checkVolumes checks that the volumes of mounts, which resolveMounts made
// or found before the caller took e.vols.use, still exist: one removed in
// between is an error, and while e.vols.use is held none goes.
func (e *Engine) checkVolumes(mounts []MountPoint) error {
	for _, mp := range mounts {
		if mp.Type != mount.TypeVolume {
			continue
		}
		if _, err := e.Volume(mp.Name); err != nil {
			return errdefs.Busy("volume %s was removed while the container was being made: try again", mp.Name)
		}
	}
	return nil
}

func (e *Engine) putVolume(rec VolumeRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return e.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketVolumes).Put([]byte(rec.Name), data) })
}

// Volumes returns every volume, by name.
func (e *Engine) Volumes() []VolumeRecord {
	e.vols.mu.Lock()
	defer e.vols.mu.Unlock()
	out := make([]VolumeRecord, 0, len(e.vols.vols))
	for _, r := range e.vols.vols {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Volume returns the volume name.
func (e *Engine) Volume(name string) (VolumeRecord, error) {
	e.vols.mu.Lock()
	defer e.vols.mu.Unlock()
	r, ok := e.vols.vols[name]
	if !ok {
		return VolumeRecord{}, errdefs.NotFound("no such volume: %s", name)
	}
	return r, nil
}

// VolumePath returns where the volume's data is on the host now ("" when
// its driver makes it available only while mounted).
func (e *Engine) VolumePath(ctx context.Context, name string) (string, error) {
	r, err := e.Volume(name)
	if err != nil {
		return "", err
	}
	drv, err := e.volumeDriver(ctx, r.Driver)
	if err != nil {
		return "", err
	}
	return drv.Path(ctx, name)
}

// VolumeSize is the disk usage of a volume's files, bytes (each file
// counted once however many links it has), as docker system df shows it;
// -1 for a volume whose driver shows its files only while it is mounted.
func (e *Engine) VolumeSize(ctx context.Context, name string) (int64, error) {
	p, err := e.VolumePath(ctx, name)
	if err != nil || p == "" {
		return -1, err
	}
	seen := map[uint64]bool{}
	var size int64
	err = filepath.WalkDir(p, func(_ string, d iofs.DirEntry, err error) error {
		if err != nil {
			return nil // gone meanwhile, or unreadable: not counted
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil || d.IsDir() {
			return nil
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			if seen[st.Ino] {
				return nil
			}
			seen[st.Ino] = true
		}
		size += info.Size()
		return nil
	})
	return size, err
}

// VolumeUsers names the containers whose mounts use the volume.
func (e *Engine) VolumeUsers(name string) []string {
	var users []string
	for _, c := range e.List() {
		r := c.Record()
		for _, m := range r.Mounts {
			if m.Type == mount.TypeVolume && m.Name == name {
				users = append(users, firstOf(r.Name, short(r.ID)))
				break
			}
		}
	}
	return users
}

// RemoveVolume removes a volume no container uses, with its data. A volume
// in use is an errdefs.ErrBusy error naming its containers.
func (e *Engine) RemoveVolume(ctx context.Context, name string) error {
	e.vols.use.Lock()
	defer e.vols.use.Unlock()
	return e.removeVolumeLocked(ctx, name)
}

// removeMade removes the volumes a create that failed made (resolveMounts),
// unless a container took them meanwhile. The caller holds no lock: this
// takes e.vols.use for writing, which waits for the creates under way, so
// that a container that found one of these volumes is in the records when
// its users are counted.
func (e *Engine) removeMade(ctx context.Context, names []string) {
	if len(names) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	e.vols.use.Lock()
	defer e.vols.use.Unlock()
	for _, name := range names {
		if err := e.removeVolumeLocked(ctx, name); err != nil && !errors.Is(err, errdefs.ErrBusy) && !errors.Is(err, errdefs.ErrNotFound) {
			e.logf("volume %s: %v", short(name), err)
		}
	}
}

// removeVolumeLocked removes a volume. e.vols.use is held for writing.
func (e *Engine) removeVolumeLocked(ctx context.Context, name string) error {
	r, err := e.Volume(name)
	if err != nil {
		return err
	}
	if users := e.VolumeUsers(name); len(users) > 0 {
		return errdefs.Busy("volume %s is in use by container(s) %s: remove them first", name, strings.Join(users, ", "))
	}
	drv, err := e.volumeDriver(ctx, r.Driver)
	if err != nil {
		return err
	}
	if err := drv.Remove(ctx, name); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return fmt.Errorf("volume %s: %w", name, err)
	}
	if err := e.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketVolumes).Delete([]byte(name)) }); err != nil {
		return fmt.Errorf("volume %s: %w", name, err)
	}
	e.vols.mu.Lock()
	delete(e.vols.vols, name)
	delete(e.vols.filling, name)
	e.vols.mu.Unlock()
	e.emitObject("volume", "destroy", name, "driver", r.Driver)
	return nil
}

// PruneVolumes removes the volumes no container uses: the anonymous ones,
// or with all every one, as docker volume prune [--all] does. It returns
// their names.
func (e *Engine) PruneVolumes(ctx context.Context, all bool) ([]string, error) {
	e.vols.use.Lock()
	defer e.vols.use.Unlock()
	var removed []string
	var errs []error
	for _, r := range e.Volumes() {
		if (!all && !r.Anonymous) || len(e.VolumeUsers(r.Name)) > 0 {
			continue
		}
		if err := e.removeVolumeLocked(ctx, r.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, r.Name)
	}
	return removed, errors.Join(errs...)
}

// RemoveWithVolumes is Remove followed by the removal of the container's
// anonymous volumes that no other container uses, as docker rm -v does;
// named volumes stay.
func (e *Engine) RemoveWithVolumes(ctx context.Context, ref string, force bool) error {
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	mounts := c.Record().Mounts
	if err := e.Remove(ctx, ref, force); err != nil {
		return err
	}
	e.removeAnonymous(ctx, mounts)
	return nil
}

// removeAnonymous removes the anonymous volumes of a container removed with
// run --rm (or rm -v), unless another container uses them too.
func (e *Engine) removeAnonymous(ctx context.Context, mounts []MountPoint) {
	for _, m := range mounts {
		if m.Type != mount.TypeVolume || !m.Anonymous {
			continue
		}
		if err := e.RemoveVolume(ctx, m.Name); err != nil && !errors.Is(err, errdefs.ErrBusy) && !errors.Is(err, errdefs.ErrNotFound) {
			e.logf("volume %s: %v", short(m.Name), err)
		}
	}
}
