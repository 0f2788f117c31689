package builder

import (
	"context"
	"errors"
	"io"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/imagestore"
)

// cacheFrom looks step s up in the history of the --cache-from images, as
// docker's legacy builder does: an image whose history begins with the
// stage's image's and goes on with s's line holds the step's result. When
// that step is the image's last, the image itself is the result;
// otherwise an image is made of the stage's image and that step's layer
// and time. errdefs.ErrNotFound when no image has it.
func (bd *build) cacheFrom(ctx context.Context, st *stage, s step) (*imagestore.Image, error) {
	for _, ref := range bd.opts.CacheFrom {
		src, err := bd.b.Image(ctx, ref)
		if errors.Is(err, errdefs.ErrNotFound) {
			continue // docker does not pull them either
		}
		if err != nil {
			return nil, err
		}
		sc, err := configOf(src)
		if err != nil {
			return nil, err
		}
		n := len(st.cfg.History)
		if len(sc.History) <= n || !sameHistory(sc.History[:n], st.cfg.History) ||
			!hasPrefix(sc.RootFS.DiffIDs, st.cfg.RootFS.DiffIDs) || sc.History[n].CreatedBy != s.createdBy {
			continue
		}
		next := sc.History[n]
		layers := len(st.cfg.RootFS.DiffIDs)
		if len(sc.History) == n+1 && (next.EmptyLayer && len(sc.RootFS.DiffIDs) == layers || !next.EmptyLayer && len(sc.RootFS.DiffIDs) == layers+1) {
			return src, nil
		}
		spec := imagestore.ImageSpec{Parent: st.imageID, CacheKey: st.key(s)}
		var blob io.ReadCloser
		if !next.EmptyLayer {
			if layers >= len(src.Blobs) {
				continue
			}
			if blob, err = bd.b.OpenBlob(ctx, src.Blobs[layers]); err != nil {
				return nil, err
			}
			spec.Tar = blob
		}
		spec.Config = func(layer *imagestore.Layer) ([]byte, error) {
			diff := ""
			if layer != nil {
				diff = layer.DiffID
			}
			return st.cfg.child(st.run, s.probe, s.createdBy, st.maintainer, diff, next.Created).marshal()
		}
		img, err := bd.b.CreateImage(ctx, spec)
		if blob != nil {
			blob.Close()
		}
		if err != nil {
			return nil, err
		}
		bd.created = append(bd.created, img.ID)
		return img, nil
	}
	return nil, errdefs.NotFound("no cache-from image has this step")
}

// sameHistory reports whether two histories have the same steps.
func sameHistory(a, b []history) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].CreatedBy != b[i].CreatedBy || a[i].EmptyLayer != b[i].EmptyLayer {
			return false
		}
	}
	return true
}

func hasPrefix(s, prefix []string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := range prefix {
		if s[i] != prefix[i] {
			return false
		}
	}
	return true
}
