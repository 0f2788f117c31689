package engine

import (
	"cmp"
	"context"

	"github.com/docker/docker/api/types/mount"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/enginefs/enginefs/engine/volume"
	"github.com/enginefs/enginefs/internal/ids"
)

// Volumes is what the containers ask of the volumes: *volume.Manager,
// which cmd/enginefs builds with its drivers and hands to New
// (WithVolumes). New opens it with the engine's state, the containers'
// use of volumes and the engine's events, before anything else calls it.
type Volumes interface {
	Open(st volume.Store, users volume.Users, emit volume.Emit) error
	VolumeMaker
	VolumeMounter
}

// VolumeMaker makes the volumes of the containers being made, keeps them
// until the containers' records are saved, and removes what failed creates
// and removed containers leave.
type VolumeMaker interface {
	// Ensure finds or makes a volume of a container being made; made
	// says it made it. It is called holding no lock.
	Ensure(ctx context.Context, o volume.Options, anonymous bool) (rec volume.Record, made bool, err error)
	// Use holds the volumes of mounts (errdefs.ErrBusy if one went away
	// since Ensure) until done: no volume is removed meanwhile. It is
	// the first lock a create takes.
	Use(mounts []MountPoint) (done func(), err error)
	// RemoveMade removes the volumes a failed create made, unless a
	// container uses them. It is called holding no lock.
	RemoveMade(ctx context.Context, names []string)
	// RemoveAnonymous removes the anonymous volumes of mounts that no
	// container uses (run --rm, rm -v). It is called holding no lock.
	RemoveAnonymous(ctx context.Context, mounts []MountPoint)
}

// VolumeMounter mounts the volumes of the containers that run.
type VolumeMounter interface {
	// Mount takes the volumes of a starting container (filling a new
	// one from its root filesystem) and returns the spec mounts of
	// every mount point; on failure it holds nothing.
	Mount(ctx context.Context, id string, mounts []MountPoint, rootfs string) ([]specs.Mount, error)
	// Unmount releases what Mount took, once the container's run ended.
	Unmount(ctx context.Context, id string, mounts []MountPoint)
	// Restore takes back what Mount took for a container that runs
	// since before the daemon's restart.
	Restore(ctx context.Context, id string, mounts []MountPoint)
	// Path is where a local volume's data is on the host.
	Path(ctx context.Context, name string) (string, error)
}

var _ Volumes = (*volume.Manager)(nil)

// WithVolumes gives containers volumes (a *volume.Manager with its
// drivers). Default: none; containers may bind and mount tmpfs, and a
// volume is an errdefs.ErrUnavailable error.
func WithVolumes(v Volumes) Option {
	return func(e *Engine) { e.vols = v }
}

var bucketVolumes = []byte("volumes")

// volumeUsers names the containers whose mounts use the volume name
// (volume.Users).
func (e *Engine) volumeUsers(name string) []string {
	var users []string
	for _, c := range e.List() {
		r := c.Record()
		for _, m := range r.Mounts {
			if m.Type == mount.TypeVolume && m.Name == name {
				users = append(users, cmp.Or(r.Name, ids.Short(r.ID)))
				break
			}
		}
	}
	return users
}

// volumeEvent records an event of a volume (volume.Emit).
func (e *Engine) volumeEvent(action, name string, attrs ...string) {
	e.emitObject("volume", action, name, attrs...)
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
	e.vols.RemoveAnonymous(ctx, mounts)
	return nil
}
