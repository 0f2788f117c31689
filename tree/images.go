package tree

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/enginefs/enginefs/ctl"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
	"github.com/enginefs/enginefs/imagestore"
)

var imagesGrammar = ctl.Grammar{
	{Name: "load", MinArgs: 1, MaxArgs: 1, Usage: "load PATH"},
}

// images is /images: ctl, err, list, and the repositories as directories
// (images/busybox/latest, images/127.0.0.1:5000/x/y/v1), each tag a directory
// with id, config and manifest.
func (t *tree) images() fs.Dir {
	slot := t.slot("images")
	static := fs.StaticDir{
		{Name: "ctl", Node: &fs.CtlFile{Exec: t.imagesCtl, Errors: slot}},
		{Name: "err", Node: fs.ErrFile(slot)},
		{Name: "list", Node: fs.ReadFile(t.imageList)},
	}
	return t.repoDir(static, "")
}

func (t *tree) imagesCtl(ctx context.Context, line string) (string, error) {
	cmd, err := imagesGrammar.Parse(line)
	if err != nil {
		return "", err
	}
	path := cmd.Args[0]
	if !filepath.IsAbs(path) {
		return "", errdefs.Invalid("load: path %q is not absolute", path)
	}
	imgs, err := t.e.LoadImage(ctx, path)
	if err != nil {
		return "", err
	}
	var out []string
	for _, img := range imgs {
		if len(img.RepoTags) == 0 {
			out = append(out, "Loaded image ID: "+img.ID)
		}
		for _, tag := range img.RepoTags {
			out = append(out, "Loaded image: "+tag)
		}
	}
	return strings.Join(out, "\n"), nil
}

type imageEntry struct {
	ID       string   `json:"Id"`
	RepoTags []string `json:"RepoTags"`
	Created  int64    `json:"Created"`
	Size     int64    `json:"Size"`
}

func (t *tree) imageList(ctx context.Context) ([]byte, error) {
	imgs, err := t.e.Images(ctx)
	if err != nil {
		return nil, err
	}
	out := []imageEntry{}
	for _, img := range imgs {
		tags := img.RepoTags
		if tags == nil {
			tags = []string{}
		}
		out = append(out, imageEntry{ID: img.ID, RepoTags: tags, Created: img.Created.Unix(), Size: img.Size})
	}
	return jsonDoc(out)
}

// splitTag splits a familiar reference "host:5000/a/b:tag" into the repository
// path and the tag.
func splitTag(ref string) (repo, tag string) {
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return ref, ""
	}
	return ref[:i], ref[i+1:]
}

// repoDir is the directory of a repository path prefix: its children are the
// next path elements of repositories under it and, if the prefix is itself a
// repository, its tags.
func (t *tree) repoDir(static fs.StaticDir, prefix string) fs.Dir {
	children := func(ctx context.Context) (map[string]*imagestore.Image, map[string]bool, error) {
		imgs, err := t.e.Images(ctx)
		if err != nil {
			return nil, nil, err
		}
		tags, dirs := map[string]*imagestore.Image{}, map[string]bool{}
		for _, img := range imgs {
			for _, ref := range img.RepoTags {
				repo, tag := splitTag(ref)
				if repo == prefix {
					tags[tag] = img
				} else if rest, ok := strings.CutPrefix(repo, prefix+"/"); ok || prefix == "" {
					if prefix == "" {
						rest = repo
					}
					dirs[strings.SplitN(rest, "/", 2)[0]] = true
				}
			}
		}
		return tags, dirs, nil
	}
	join := func(name string) string {
		if prefix == "" {
			return name
		}
		return prefix + "/" + name
	}
	return &fs.DirFunc{
		List: func(ctx context.Context) ([]fs.DirEntry, error) {
			ents, _ := static.ReadDir(ctx)
			tags, dirs, err := children(ctx)
			if err != nil {
				return nil, err
			}
			names := map[string]bool{}
			for n := range tags {
				names[n] = true
			}
			for n := range dirs {
				names[n] = true
			}
			sorted := make([]string, 0, len(names))
			for n := range names {
				sorted = append(sorted, n)
			}
			sort.Strings(sorted)
			for _, n := range sorted {
				ents = append(ents, fs.DirEntry{Name: n, Mode: os.ModeDir})
			}
			return ents, nil
		},
		Get: func(ctx context.Context, name string) (fs.Node, error) {
			if n, err := static.Lookup(ctx, name); err == nil {
				return n, nil
			}
			tags, dirs, err := children(ctx)
			if err != nil {
				return nil, err
			}
			if img, ok := tags[name]; ok {
				return imageDir(img), nil
			}
			if dirs[name] {
				return t.repoDir(nil, join(name)), nil
			}
			return nil, errdefs.NotFound("no such image or repository: %s", join(name))
		},
	}
}

// imageDir is the directory of one image.
func imageDir(img *imagestore.Image) fs.Dir {
	return fs.StaticDir{
		{Name: "id", Node: fs.Text(img.ID + "\n")},
		{Name: "config", Node: fs.ReadFile(func(context.Context) ([]byte, error) {
			data, err := json.MarshalIndent(img.Config, "", "  ")
			return append(data, '\n'), err
		})},
		{Name: "manifest", Node: fs.ReadFile(func(context.Context) ([]byte, error) { return img.Manifest, nil })},
	}
}
