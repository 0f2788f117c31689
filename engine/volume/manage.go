package volume

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/mount"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/internal/ids"
	"github.com/enginefs/enginefs/voldrv"
	"github.com/enginefs/enginefs/voldrv/local"
)

// Create makes a volume; creating one that exists with the same driver
// returns it, as docker does.
func (m *Manager) Create(ctx context.Context, o Options) (Record, error) {
	rec, _, err := m.Ensure(ctx, o, false)
	return rec, err
}

// Ensure returns the volume o names, making it if it does not exist (an
// anonymous one, with anonymous or when o names none); made says it did.
// Concurrent calls for the same new name make it once; the driver's Create
// runs with no lock of the manager held.
func (m *Manager) Ensure(ctx context.Context, o Options, anonymous bool) (rec Record, made bool, err error) {
	if o.Name == "" {
		o.Name, anonymous = ids.New(), true
	}
	if err := voldrv.CheckName(o.Name); err != nil {
		return Record{}, false, err
	}
	o.Driver = cmp.Or(o.Driver, local.Name)
	for {
		m.mu.Lock()
		if old, ok := m.vols[o.Name]; ok {
			m.mu.Unlock()
			if o.Driver != old.Driver && o.Driver != local.Name {
				return Record{}, false, errdefs.AlreadyExists("volume %s exists with driver %s, not %s", o.Name, old.Driver, o.Driver)
			}
			return old, false, nil
		}
		busy, ok := m.making[o.Name]
		if !ok {
			done := make(chan struct{})
			m.making[o.Name] = done
			m.mu.Unlock()
			rec, err := m.make(ctx, o, anonymous)
			m.mu.Lock()
			if err == nil {
				m.vols[o.Name] = rec
			}
			delete(m.making, o.Name)
			m.mu.Unlock()
			close(done)
			if err != nil {
				return Record{}, false, err
			}
			m.emit("create", rec.Name, "driver", rec.Driver)
			return rec, true, nil
		}
		m.mu.Unlock()
		// Another create makes it: take what it made, or try again if
		// it failed.
		select {
		case <-busy:
		case <-ctx.Done():
			return Record{}, false, ctx.Err()
		}
	}
}

// make makes a volume through its driver and records it; no lock of the
// manager is held, a plugin's Create may be slow.
func (m *Manager) make(ctx context.Context, o Options, anonymous bool) (Record, error) {
	drv, err := m.driver(ctx, o.Driver)
	if err != nil {
		return Record{}, err
	}
	if err := drv.Create(ctx, o.Name, o.Options); err != nil {
		return Record{}, err
	}
	rec := Record{Name: o.Name, Driver: o.Driver, Created: time.Now().UTC(), Labels: o.Labels, Options: o.Options, Anonymous: anonymous}
	if err := m.put(rec); err != nil {
		_ = drv.Remove(context.WithoutCancel(ctx), o.Name)
		return Record{}, err
	}
	return rec, nil
}

// List returns every volume, by name.
func (m *Manager) List() []Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Record, 0, len(m.vols))
	for _, r := range m.vols {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Get returns the volume name; errdefs.ErrNotFound if there is none.
func (m *Manager) Get(name string) (Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.vols[name]
	if !ok {
		return Record{}, errdefs.NotFound("no such volume: %s", name)
	}
	return r, nil
}

// Path returns where the volume's data is on the host now ("" when its
// driver makes it available only while mounted).
func (m *Manager) Path(ctx context.Context, name string) (string, error) {
	r, err := m.Get(name)
	if err != nil {
		return "", err
	}
	drv, err := m.driver(ctx, r.Driver)
	if err != nil {
		return "", err
	}
	return drv.Path(ctx, name)
}

// Size is the disk usage of a volume's files, bytes (each file counted
// once however many links it has), as docker system df shows it; -1 for a
// volume whose driver shows its files only while it is mounted.
func (m *Manager) Size(ctx context.Context, name string) (int64, error) {
	p, err := m.Path(ctx, name)
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

// Users names the containers whose mounts use the volume (the engine's
// Users callback).
func (m *Manager) Users(name string) []string {
	if m.users == nil {
		return nil
	}
	return m.users(name)
}

// Remove removes a volume no container uses, with its data. A volume in
// use is an errdefs.ErrBusy error naming its containers.
func (m *Manager) Remove(ctx context.Context, name string) error {
	m.use.Lock()
	defer m.use.Unlock()
	return m.removeLocked(ctx, name)
}

// RemoveMade removes the volumes that a create that failed made (Ensure),
// unless a container took them meanwhile. The caller holds no lock of the
// daemon: this takes the use lock for writing, which waits for the
// creates under way (Use), so that a container that found one of these
// volumes is in the records when its users are counted.
func (m *Manager) RemoveMade(ctx context.Context, names []string) {
	if len(names) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	m.use.Lock()
	defer m.use.Unlock()
	for _, name := range names {
		if err := m.removeLocked(ctx, name); err != nil && !errors.Is(err, errdefs.ErrBusy) && !errors.Is(err, errdefs.ErrNotFound) {
			m.logf("volume %s: %v", ids.Short(name), err)
		}
	}
}

// RemoveAnonymous removes the anonymous volumes of mounts, those of a
// container removed with run --rm (or rm -v), unless another container
// uses them too.
func (m *Manager) RemoveAnonymous(ctx context.Context, mounts []MountPoint) {
	for _, mp := range mounts {
		if mp.Type != mount.TypeVolume || !mp.Anonymous {
			continue
		}
		if err := m.Remove(ctx, mp.Name); err != nil && !errors.Is(err, errdefs.ErrBusy) && !errors.Is(err, errdefs.ErrNotFound) {
			m.logf("volume %s: %v", ids.Short(mp.Name), err)
		}
	}
}

// removeLocked removes a volume. m.use is held for writing.
func (m *Manager) removeLocked(ctx context.Context, name string) error {
	r, err := m.Get(name)
	if err != nil {
		return err
	}
	if users := m.Users(name); len(users) > 0 {
		return errdefs.Busy("volume %s is in use by container(s) %s: remove them first", name, strings.Join(users, ", "))
	}
	drv, err := m.driver(ctx, r.Driver)
	if err != nil {
		return err
	}
	if err := drv.Remove(ctx, name); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return fmt.Errorf("volume %s: %w", name, err)
	}
	if err := m.store.Delete(name); err != nil {
		return fmt.Errorf("volume %s: %w", name, err)
	}
	m.mu.Lock()
	delete(m.vols, name)
	delete(m.filling, name)
	m.mu.Unlock()
	m.emit("destroy", name, "driver", r.Driver)
	return nil
}

// Prune removes the volumes no container uses: the anonymous ones, or
// with all every one, as docker volume prune [--all] does. It returns
// their names.
func (m *Manager) Prune(ctx context.Context, all bool) ([]string, error) {
	m.use.Lock()
	defer m.use.Unlock()
	var removed []string
	var errs []error
	for _, r := range m.List() {
		if (!all && !r.Anonymous) || len(m.Users(r.Name)) > 0 {
			continue
		}
		if err := m.removeLocked(ctx, r.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, r.Name)
	}
	return removed, errors.Join(errs...)
}
