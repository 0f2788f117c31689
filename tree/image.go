package tree

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/storage"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/engine"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

// imageDir is the directory of one image: under its tag (path is the tag
// directory's path, "127.0.0.1:5000/x/latest") or under by-id (path "").
// Its files are read fresh at each open, by id.
//
//	id        the image id, one line
//	config    the image config (json), as stored
//	manifest  the manifest, as stored (its digest is what a digest reference names)
//	inspect   docker's image inspect document (GET /images/{name}/json)
//	history   docker's history items (GET /images/{name}/history)
//	layers    one line per layer, base first: DIFF-ID BLOB-DIGEST UNPACKED-SIZE
//	ctl       tag DST | rm [force] | push (a tag directory's tag)
//	err
func (t *tree) imageDir(id, path string) fs.Dir {
	dir := "images/by-id/" + strings.TrimPrefix(id, "sha256:")
	if path != "" {
		dir = "images/" + path
	}
	slot := t.slot(dir)
	get := func(ctx context.Context) (*engine.Image, error) { return t.e.Image(ctx, id) }
	ref := id
	if path != "" {
		ref = familiarTag(path)
	}
	return fs.StaticDir{
		{Name: "ctl", Node: &fs.CtlFile{Errors: slot, Exec: func(ctx context.Context, line string) (string, error) {
			v, err := verbs.Image.Parse(line)
			if err != nil {
				return "", err
			}
			switch v := v.(type) {
			case verbs.ImageDirTag:
				return "", t.e.TagImage(ctx, id, v.Dst)
			case verbs.ImageDirRm:
				res, err := t.e.RemoveImage(ctx, ref, v.Force)
				if err != nil {
					return "", err
				}
				return deleteReply(res, false), nil
			case verbs.ImageDirPush:
				if path == "" {
					return "", errdefs.Invalid("push: an image is pushed by tag: use the ctl of its tag directory")
				}
				return t.pushes.run(ctx, verbs.ImagePush{Ref: ref})
			}
			return "", errdefs.Invalid("unhandled command %q", v.Verb())
		}}},
		{Name: "err", Node: fs.ErrFile(slot)},
		{Name: "id", Node: fs.ReadFile(func(ctx context.Context) ([]byte, error) {
			img, err := get(ctx)
			if err != nil {
				return nil, err
			}
			return []byte(img.ID + "\n"), nil
		})},
		{Name: "config", Node: fs.ReadFile(func(ctx context.Context) ([]byte, error) {
			img, err := get(ctx)
			if err != nil {
				return nil, err
			}
			return jsonDoc(img.Config)
		})},
		{Name: "manifest", Node: fs.ReadFile(func(ctx context.Context) ([]byte, error) {
			img, err := get(ctx)
			if err != nil {
				return nil, err
			}
			return img.Manifest, nil
		})},
		{Name: "inspect", Node: fs.ReadFile(func(ctx context.Context) ([]byte, error) {
			img, err := get(ctx)
			if err != nil {
				return nil, err
			}
			doc, err := imageInspect(img)
			if err != nil {
				return nil, err
			}
			return jsonDoc(doc)
		})},
		{Name: "history", Node: fs.ReadFile(func(ctx context.Context) ([]byte, error) {
			img, err := get(ctx)
			if err != nil {
				return nil, err
			}
			items := imageHistory(img)
			// As docker's: the entries of the images a build made on
			// the way, walking up the parents, carry their ids.
			for p := img.Parent; p != ""; {
				parent, err := t.e.Image(ctx, p)
				if err != nil {
					break
				}
				if i := len(items) - len(parent.Config.History); i >= 0 && i < len(items) && len(parent.Config.History) > 0 {
					items[i].ID, items[i].Tags = parent.ID, nonNil(parent.RepoTags)
				}
				p = parent.Parent
			}
			return jsonDoc(items)
		})},
		{Name: "layers", Node: fs.ReadFile(func(ctx context.Context) ([]byte, error) {
			img, err := get(ctx)
			if err != nil {
				return nil, err
			}
			var b strings.Builder
			for i, l := range img.Layers {
				fmt.Fprintf(&b, "%s %s %d\n", l, img.Blobs[i], img.LayerSizes[i])
			}
			return []byte(b.String()), nil
		})},
	}
}

// imageInspect is docker's image inspect document of img.
func imageInspect(img *engine.Image) (*image.InspectResponse, error) {
	c := img.Config
	var cfg dockerspec.DockerOCIImageConfig
	b, err := json.Marshal(c.Config)
	if err == nil {
		err = json.Unmarshal(b, &cfg)
	}
	if err != nil {
		return nil, errdefs.Invalid("image %s: config: %w", img.ID, err)
	}
	doc := &image.InspectResponse{
		ID:            img.ID,
		Parent:        img.Parent,
		RepoTags:      nonNil(img.RepoTags),
		RepoDigests:   nonNil(img.RepoDigests),
		Comment:       historyComment(c.History),
		DockerVersion: c.DockerVersion,
		Author:        c.Author,
		Config:        &cfg,
		Architecture:  c.Architecture,
		Variant:       c.Variant,
		Os:            c.OS,
		OsVersion:     c.OSVersion,
		Size:          img.Size,
		GraphDriver:   storage.DriverData{Name: "overlay2", Data: map[string]string{}},
		RootFS:        image.RootFS{Type: "layers", Layers: img.Layers},
	}
	if !c.Created.IsZero() {
		doc.Created = c.Created.UTC().Format(time.RFC3339Nano)
	}
	if doc.RootFS.Layers == nil {
		doc.RootFS.Layers = []string{}
	}
	return doc, nil
}

// historyComment is the comment of the last history entry, as docker's
// inspect shows it.
func historyComment(h []v1.History) string {
	if len(h) == 0 {
		return ""
	}
	return h[len(h)-1].Comment
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// imageHistory is docker's history of img: newest first, one item per
// history entry of the config, each non-empty entry with the size of its
// layer; the newest carries the image id and tags, the others "<missing>"
// (docker's answer for images that came from a registry).
func imageHistory(img *engine.Image) []image.HistoryResponseItem {
	var items []image.HistoryResponseItem
	layer := 0
	for _, h := range img.Config.History {
		var size int64
		if !h.EmptyLayer && layer < len(img.LayerSizes) {
			size = img.LayerSizes[layer]
			layer++
		}
		items = append(items, image.HistoryResponseItem{ID: "<missing>", Created: h.Created.Unix(), CreatedBy: h.CreatedBy, Comment: h.Comment, Size: size, Tags: []string{}})
	}
	// A config without history: one item per layer.
	for ; layer < len(img.LayerSizes) && len(img.Config.History) == 0; layer++ {
		items = append(items, image.HistoryResponseItem{ID: "<missing>", Created: img.Created.Unix(), Size: img.LayerSizes[layer], Tags: []string{}})
	}
	for i, j := 0, len(items)-1; i < j; i, j = i+1, j-1 {
		items[i], items[j] = items[j], items[i]
	}
	if len(items) == 0 {
		items = append(items, image.HistoryResponseItem{Created: img.Created.Unix()})
	}
	items[0].ID, items[0].Tags = img.ID, nonNil(img.RepoTags)
	return items
}
