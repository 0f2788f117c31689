package volume

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/docker/docker/api/types/mount"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/internal/ids"
)

// MountPoint is one mount of a container, resolved at create from its
// volumes-from, its image's VOLUMEs, -v, --mount and --tmpfs (docker's
// MountPoint, with what a start needs). It is persisted in the container's
// record.
type MountPoint struct {
	Type        mount.Type        `json:"Type"`
	Name        string            `json:"Name,omitempty"`   // a volume's
	Source      string            `json:"Source,omitempty"` // a bind's host path
	Destination string            `json:"Destination"`
	Driver      string            `json:"Driver,omitempty"`
	Mode        string            `json:"Mode"` // the options as given (ro, z, nocopy...)
	RW          bool              `json:"RW"`
	Propagation mount.Propagation `json:"Propagation,omitempty"`
	// NoCopy keeps a new volume empty instead of filling it with what the
	// image has at the destination.
	NoCopy bool `json:"NoCopy,omitempty"`
	// Anonymous volumes go with the container (run --rm).
	Anonymous bool `json:"Anonymous,omitempty"`
	// TmpfsOptions are a tmpfs mount's options (size=64m,mode=1777).
	TmpfsOptions string `json:"TmpfsOptions,omitempty"`
}

// Use holds the volumes of mounts, which Ensure made or found, for a
// container being made: none of them is removed until done is called,
// once the container's record (which makes it one of their users) is
// saved. A volume removed since Ensure is an errdefs.ErrBusy error, and
// then nothing is held.
func (m *Manager) Use(mounts []MountPoint) (done func(), err error) {
	m.use.RLock()
	for _, mp := range mounts {
		if mp.Type != mount.TypeVolume {
			continue
		}
		if _, err := m.Get(mp.Name); err != nil {
			m.use.RUnlock()
			return nil, errdefs.Busy("volume %s was removed while the container was being made: try again", mp.Name)
		}
	}
	return m.use.RUnlock, nil
}

// fillLock returns the lock of the volume name's fill from an image.
func (m *Manager) fillLock(name string) *sync.Mutex {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.filling[name]
	if f == nil {
		f = &sync.Mutex{}
		m.filling[name] = f
	}
	return f
}

// Mount mounts the volumes of mounts for the starting container id (the
// driver's Mount; a new volume is filled from what rootfs, the container's
// root filesystem, has at its destination first) and returns the spec
// mounts of every mount point, in order. On failure it releases what it
// took.
func (m *Manager) Mount(ctx context.Context, id string, mounts []MountPoint, rootfs string) ([]specs.Mount, error) {
	var out []specs.Mount
	for _, mp := range mounts {
		opts := []string{"rbind"}
		if !mp.RW {
			opts = append(opts, "ro")
		}
		opts = append(opts, string(cmp.Or(string(mp.Propagation), string(mount.PropagationRPrivate))))
		switch mp.Type {
		case mount.TypeVolume:
			drv, err := m.driver(ctx, mp.Driver)
			if err != nil {
				m.Unmount(ctx, id, mounts)
				return nil, err
			}
			src, err := drv.Mount(ctx, mp.Name, id)
			if err != nil {
				m.Unmount(ctx, id, mounts)
				return nil, fmt.Errorf("volume %s: %w", mp.Name, err)
			}
			if !mp.NoCopy {
				fill := m.fillLock(mp.Name)
				fill.Lock()
				err := populate(rootfs, mp.Destination, src)
				fill.Unlock()
				if err != nil {
					m.Unmount(ctx, id, mounts)
					return nil, fmt.Errorf("volume %s: filling it from the image's %s: %w", mp.Name, mp.Destination, err)
				}
			}
			out = append(out, specs.Mount{Destination: mp.Destination, Type: "bind", Source: src, Options: opts})
			m.emit("mount", mp.Name, "container", id, "destination", mp.Destination, "driver", mp.Driver, "propagation", string(mp.Propagation), "read/write", strconv.FormatBool(mp.RW))
		case mount.TypeBind:
			out = append(out, specs.Mount{Destination: mp.Destination, Type: "bind", Source: mp.Source, Options: opts})
		case mount.TypeTmpfs:
			topts := []string{"noexec", "nosuid", "nodev"}
			if mp.TmpfsOptions != "" {
				topts = append(topts, strings.Split(mp.TmpfsOptions, ",")...)
			}
			out = append(out, specs.Mount{Destination: mp.Destination, Type: "tmpfs", Source: "tmpfs", Options: topts})
		}
	}
	return out, nil
}

// Unmount releases the container id's holds on the volumes of mounts.
func (m *Manager) Unmount(ctx context.Context, id string, mounts []MountPoint) {
	for _, mp := range mounts {
		if mp.Type != mount.TypeVolume {
			continue
		}
		drv, err := m.driver(ctx, mp.Driver)
		if err == nil {
			err = drv.Unmount(ctx, mp.Name, id)
		}
		if err != nil {
			m.logf("container %s: unmounting volume %s: %v", ids.Short(id), ids.Short(mp.Name), err)
		}
		m.emit("unmount", mp.Name, "container", id, "driver", mp.Driver)
	}
}

// Restore takes back, after a daemon restart, the holds on the volumes of
// mounts of the container id, which runs: a volume stays mounted while any
// container that runs holds it.
func (m *Manager) Restore(ctx context.Context, id string, mounts []MountPoint) {
	for _, mp := range mounts {
		if mp.Type != mount.TypeVolume {
			continue
		}
		drv, err := m.driver(ctx, mp.Driver)
		if err == nil {
			_, err = drv.Mount(ctx, mp.Name, id)
		}
		if err != nil {
			m.logf("container %s: volume %s: %v", ids.Short(id), ids.Short(mp.Name), err)
		}
	}
}
