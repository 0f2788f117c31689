package builder

import (
	"context"
	"io"

	"github.com/enginefs/enginefs/engine"
	"github.com/enginefs/enginefs/imagestore"
)

// Backend is what a build asks of the engine (*engine.Engine is one): find
// and pull images, run a RUN step's container, make images of changes
// (a container's, or an image mount's) and of configs, find cached steps.
// Its methods are safe for concurrent use.
type Backend interface {
	// Image resolves a reference or id; errdefs.ErrNotFound if absent.
	Image(ctx context.Context, ref string) (*imagestore.Image, error)
	// PullImage fetches ref from its registry.
	PullImage(ctx context.Context, ref string, opts imagestore.PullOptions) (*imagestore.PullResult, error)
	// TagImage points the tag dst at the image src.
	TagImage(ctx context.Context, src, dst string) error
	// RemoveImage removes an image (a failed build's).
	RemoveImage(ctx context.Context, ref string, force bool) (*imagestore.DeleteResult, error)

	// Get finds a container by name or id.
	Get(ref string) (*engine.Container, error)
	// RunBuild runs a container to its end and returns its id and exit
	// code; the container stays for CommitContainer and Remove.
	RunBuild(ctx context.Context, r engine.BuildRun) (string, int, error)
	// CommitContainer makes an image of a container's changes.
	CommitContainer(ctx context.Context, ref string, pause bool, spec imagestore.ImageSpec) (*imagestore.Image, error)
	// RemoveWithVolumes removes a container and its anonymous volumes.
	RemoveWithVolumes(ctx context.Context, ref string, force bool) error
	// MountImage mounts an image ("" for none) read-write over a fresh
	// directory of changes.
	MountImage(ctx context.Context, id string) (*engine.ImageMount, error)
	// CreateImage stores an image.
	CreateImage(ctx context.Context, spec imagestore.ImageSpec) (*imagestore.Image, error)
	// OpenBlob opens a stored blob (a layer's, for --cache-from).
	OpenBlob(ctx context.Context, digest string) (io.ReadCloser, error)
	// PruneBuildCache removes the build cache nothing needs.
	PruneBuildCache(ctx context.Context) (*imagestore.DeleteResult, error)
	// CachedImage finds the newest image built from parent with key.
	CachedImage(ctx context.Context, parent, key string) (*imagestore.Image, error)
}

var _ Backend = (*engine.Engine)(nil)
