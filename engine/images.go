package engine

import (
	"context"

	"github.com/enginefs/enginefs/imagestore"
)

// ImageStore returns the engine's image store: pulls, pushes, tags, saves
// and loads go to it directly. Deleting and pruning go through the engine
// (RemoveImage, PruneImages), which knows which images containers use.
func (e *Engine) ImageStore() *imagestore.Store { return e.images }

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

// RemoveImage removes an image reference or an image, as docker rmi does,
// refusing to remove an image a container uses (imagestore.Store.Delete).
func (e *Engine) RemoveImage(ctx context.Context, ref string, force bool) (*imagestore.DeleteResult, error) {
	return e.images.Delete(ctx, ref, force, e.imageUser)
}

// PruneImages removes the dangling images (with all, every image) that no
// container uses, and the blobs and layers no image references.
func (e *Engine) PruneImages(ctx context.Context, all bool) (*imagestore.DeleteResult, error) {
	return e.images.Prune(ctx, all, e.imageUser)
}

// ImageContainers counts the containers created from each image id.
func (e *Engine) ImageContainers() map[string]int {
	out := map[string]int{}
	for _, c := range e.List() {
		out[c.Record().ImageID]++
	}
	return out
}

// imageUser names a container that uses image id, preferring a running
// one, and says whether it runs.
func (e *Engine) imageUser(id string) (string, bool) {
	user := ""
	for _, c := range e.List() {
		r := c.Record()
		if r.ImageID != id {
			continue
		}
		if r.State.Status.live() || r.State.Status == StatusRestarting {
			return shortContainerID(r.ID), true
		}
		if user == "" {
			user = shortContainerID(r.ID)
		}
	}
	return user, false
}

// shortContainerID is the 12-digit id docker prints.
func shortContainerID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
