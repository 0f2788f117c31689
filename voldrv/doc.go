// Package voldrv holds the volume drivers' side of volumes: the [Driver]
// interface, which the local driver (voldrv/local: directories under the
// daemon's state) and plugins (voldrv/plugin: Docker's volume plugin
// protocol over a unix socket) implement, and the names volumes may have.
//
// The engine owns the volumes: their records, which containers use them,
// when they are mounted and removed. It calls a driver to make the data
// exist; a driver never calls back up. Bind mounts and tmpfs mounts need no
// driver: the engine puts them in the container's spec directly.
//
// Entry points: Driver; CheckName; voldrvtest.TestDriver is the conformance
// suite every driver runs.
package voldrv

import (
	"context"
	"regexp"

	"github.com/enginefs/enginefs/errdefs"
)

// Driver makes volumes' data exist on the host. The methods follow Docker's
// volume plugin protocol, so a plugin serves them one to one. Methods may
// be called concurrently, for the same volume too; a driver serialises
// what it must.
type Driver interface {
	// Name is the driver's name ("local", or the plugin's).
	Name() string
	// Create makes the volume name with the driver's options. Options
	// the driver does not know are an errdefs.ErrInvalid error, and then
	// nothing is made. Creating a volume that exists is not an error.
	Create(ctx context.Context, name string, opts map[string]string) error
	// Remove deletes the volume and its data. The engine calls it only
	// when no container uses the volume.
	Remove(ctx context.Context, name string) error
	// Mount makes the data available to the container id and returns its
	// path on the host. Each Mount is matched by an Unmount with the same
	// id; a driver keeps the data mounted while any id holds it.
	Mount(ctx context.Context, name, id string) (string, error)
	// Unmount releases the id's hold on the data.
	Unmount(ctx context.Context, name, id string) error
	// Path returns where the data is on the host now, or "" when it is
	// not available until mounted.
	Path(ctx context.Context, name string) (string, error)
}

var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// CheckName refuses what docker refuses as a volume name.
func CheckName(name string) error {
	if !validName.MatchString(name) || len(name) > 255 {
		return errdefs.Invalid("invalid volume name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at least 2 characters", name)
	}
	return nil
}
