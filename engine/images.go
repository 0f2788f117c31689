package engine

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/enginefs/enginefs/imagestore"
)

// Login checks credentials with a registry and keeps them in the
// credentials file (imagestore.Store.Login); with keep false it only
// checks them (POST /auth: the client keeps them).
func (e *Engine) Login(ctx context.Context, server, user, password string, keep bool) error {
	if keep {
		return e.images.Login(ctx, server, user, password)
	}
	return e.images.CheckLogin(ctx, server, user, password)
}

// Logout forgets the credentials of a registry.
func (e *Engine) Logout(ctx context.Context, server string) error {
	return e.images.Logout(ctx, server)
}

// PullImage pulls ref (imagestore.Store.Pull); the event's id is the
// reference pulled, as docker's.
func (e *Engine) PullImage(ctx context.Context, ref string, opts PullOptions) (*PullResult, error) {
	res, err := e.images.Pull(ctx, ref, opts)
	if err != nil {
		return nil, err
	}
	e.emitObject("image", "pull", res.Ref, "name", repoOf(res.Ref))
	return res, nil
}

// PushImage pushes the image tagged ref (imagestore.Store.PushWith) and
// returns its manifest digest.
func (e *Engine) PushImage(ctx context.Context, ref string, opts PushOptions) (string, error) {
	digest, err := e.images.PushWith(ctx, ref, opts)
	if err != nil {
		return "", err
	}
	e.emitObject("image", "push", ref, "name", repoOf(ref))
	return digest, nil
}

// TagImage points the tag dst at the image src names (imagestore.Store.Tag).
func (e *Engine) TagImage(ctx context.Context, src, dst string) error {
	if err := e.images.Tag(ctx, src, dst); err != nil {
		return err
	}
	if img, err := e.images.Get(ctx, dst); err == nil {
		e.emitObject("image", "tag", img.ID, "name", dst)
	}
	return nil
}

// SaveImages writes the images refs name to a docker-save archive at path
// (imagestore.Store.Save).
func (e *Engine) SaveImages(ctx context.Context, refs []string, path string) error {
	if err := e.images.Save(ctx, refs, path); err != nil {
		return err
	}
	for _, ref := range refs {
		if img, err := e.images.Get(ctx, ref); err == nil {
			e.emitObject("image", "save", img.ID, "name", ref)
		}
	}
	return nil
}

// LoadImage imports the images of a docker-save or OCI archive; each comes
// with the tags the archive gave it.
func (e *Engine) LoadImage(ctx context.Context, path string) ([]LoadedImage, error) {
	imgs, err := e.images.LoadTagged(ctx, path)
	for _, img := range imgs {
		e.emitObject("image", "load", img.ID, "name", cmp.Or(strings.Join(img.Tags, ","), img.ID))
	}
	return imgs, err
}

// Images lists the images of the store.
func (e *Engine) Images(ctx context.Context) ([]*Image, error) {
	return e.images.List(ctx)
}

// Image finds an image by reference or id.
func (e *Engine) Image(ctx context.Context, ref string) (*Image, error) {
	return e.images.Get(ctx, ref)
}

// RemoveImage removes an image reference or an image, as docker rmi does,
// refusing to remove an image a container uses (imagestore.Store.Delete).
func (e *Engine) RemoveImage(ctx context.Context, ref string, force bool) (*DeleteResult, error) {
	before, _ := e.images.List(ctx)
	res, err := e.images.Delete(ctx, ref, force, e.imageUser)
	if err == nil {
		e.imageDeleted(before, res)
	}
	return res, err
}

// PruneImages removes the dangling images (with all, every image) that no
// container uses, and the blobs and layers no image references.
func (e *Engine) PruneImages(ctx context.Context, all bool) (*DeleteResult, error) {
	before, _ := e.images.List(ctx)
	res, err := e.images.Prune(ctx, all, e.imageUser)
	if res != nil {
		e.imageDeleted(before, res)
	}
	return res, err
}

// PruneBuildCache removes the build cache nothing needs
// (imagestore.Store.PruneCache).
func (e *Engine) PruneBuildCache(ctx context.Context) (*DeleteResult, error) {
	before, _ := e.images.List(ctx)
	res, err := e.images.PruneCache(ctx, e.imageUser)
	if res != nil {
		e.imageDeleted(before, res)
	}
	return res, err
}

// imageDeleted records the untag and delete events of a removal; before
// is the list of images it started from, which says whose tags went.
func (e *Engine) imageDeleted(before []*imagestore.Image, res *imagestore.DeleteResult) {
	owner := map[string]string{}
	for _, img := range before {
		for _, t := range append(slices.Clone(img.RepoTags), img.RepoDigests...) {
			owner[t] = img.ID
		}
	}
	for _, u := range res.Untagged {
		e.emitObject("image", "untag", cmp.Or(owner[u], u), "name", u)
	}
	for _, id := range res.Deleted {
		e.emitObject("image", "delete", id, "name", id)
	}
}

// repoOf is the repository of a familiar reference ("busybox:latest" →
// "busybox"), the name attribute of docker's pull and push events.
func repoOf(ref string) string {
	if r, err := imagestore.ParseReference(ref); err == nil {
		fam := imagestore.Familiar(r.Context().Tag("x"))
		return strings.TrimSuffix(fam, ":x")
	}
	return ref
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
