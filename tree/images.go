package tree

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/go-units"

	"github.com/enginefs/enginefs/ctl"
	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/engine"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

// images is /images: ctl, err, list, pulls/ and pushes/ (transfer jobs),
// by-id/, and the repositories as directories (images/busybox/latest,
// images/127.0.0.1:5000/x/y/v1), each tag an image directory.
func (t *tree) images() fs.Dir {
	slot := t.slot("images")
	t.pulls, t.pushes = newJobs(t, "pulls"), newJobs(t, "pushes")
	static := fs.StaticDir{
		{Name: "ctl", Node: &fs.CtlFile{Exec: t.imagesCtl, Errors: slot}},
		{Name: "err", Node: fs.ErrFile(slot)},
		{Name: "list", Node: fs.ReadFile(t.imageList)},
		{Name: "save", Node: saveFile{t}},
		{Name: "load", Node: loadFile{t}},
		{Name: "pulls", Node: t.pulls.dir()},
		{Name: "pushes", Node: t.pushes.dir()},
		{Name: "by-id", Node: t.byID()},
	}
	return t.repoDir(static, "")
}

func (t *tree) imagesCtl(ctx context.Context, line string) (string, error) {
	v, err := verbs.Images.Parse(line)
	if err != nil {
		return "", err
	}
	switch v := v.(type) {
	case verbs.ImagePull:
		return t.pulls.run(ctx, v)
	case verbs.ImagePush:
		return t.pushes.run(ctx, v)
	case verbs.ImageTag:
		return "", t.e.TagImage(ctx, v.Src, v.Dst)
	case verbs.ImageResolve:
		img, err := t.e.Image(ctx, v.Ref)
		if err != nil {
			return "", err
		}
		return img.ID, nil
	case verbs.ImageRm:
		res, err := t.e.RemoveImage(ctx, v.Ref, v.Force)
		if err != nil {
			return "", err
		}
		return deleteReply(res, false), nil
	case verbs.ImageLoad:
		return t.load(ctx, v.Path)
	case verbs.ImageSave:
		if !filepath.IsAbs(v.Path) {
			return "", &ctl.Error{Verb: "save", Msg: "the path must be absolute", Word: v.Path, Usage: verbs.Usage(v)}
		}
		return "", t.e.SaveImages(ctx, v.Refs, v.Path)
	case verbs.ImagePrune:
		res, err := t.e.PruneImages(ctx, v.All)
		if err != nil {
			return "", err
		}
		return deleteReply(res, true), nil
	case verbs.ImageLogin:
		// NoSave is POST /auth: checked, and the client keeps them.
		if err := t.e.Login(ctx, v.Server, v.User, v.Password, !v.NoSave); err != nil {
			return "", err
		}
		return "Login Succeeded", nil
	case verbs.ImageLogout:
		server := v.Server
		if err := t.e.Logout(ctx, server); err != nil {
			return "", err
		}
		if server == "" {
			server = "https://index.docker.io/v1/"
		}
		return "Removing login credentials for " + server, nil
	}
	return "", errdefs.Invalid("unhandled command %q", v.Verb())
}

// deleteReply is docker's report of an rmi or a prune.
func deleteReply(res *engine.DeleteResult, prune bool) string {
	var out []string
	for _, u := range res.Untagged {
		out = append(out, "Untagged: "+u)
	}
	for _, d := range res.Deleted {
		out = append(out, "Deleted: "+d)
	}
	if prune {
		out = append(out, "Total reclaimed space: "+units.HumanSize(float64(res.SpaceReclaimed)))
	}
	return strings.Join(out, "\n")
}

func (t *tree) load(ctx context.Context, path string) (string, error) {
	if !filepath.IsAbs(path) {
		return "", errdefs.Invalid("load: path %q is not absolute", path)
	}
	imgs, err := t.e.LoadImage(ctx, path)
	if err != nil {
		return "", err
	}
	var out []string
	for _, img := range imgs {
		if len(img.Tags) == 0 {
			out = append(out, "Loaded image ID: "+img.ID)
		}
		for _, tag := range img.Tags { // those of the archive, as docker load says
			out = append(out, "Loaded image: "+tag)
		}
	}
	return strings.Join(out, "\n"), nil
}

// imageList is images/list: docker's image summaries (GET /images/json).
func (t *tree) imageList(ctx context.Context) ([]byte, error) {
	imgs, err := t.e.Images(ctx)
	if err != nil {
		return nil, err
	}
	used := t.e.ImageContainers()
	out := []image.Summary{}
	for _, img := range imgs {
		s := image.Summary{
			ID: img.ID, ParentID: img.Parent, RepoTags: img.RepoTags, RepoDigests: img.RepoDigests, Created: img.Created.Unix(),
			Size: img.Size, SharedSize: -1, Labels: img.Config.Config.Labels, Containers: int64(used[img.ID]),
		}
		if s.RepoTags == nil {
			s.RepoTags = []string{}
		}
		if s.RepoDigests == nil {
			s.RepoDigests = []string{}
		}
		if s.Labels == nil {
			s.Labels = map[string]string{}
		}
		out = append(out, s)
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
	children := func(ctx context.Context) (map[string]*engine.Image, map[string]bool, error) {
		imgs, err := t.e.Images(ctx)
		if err != nil {
			return nil, nil, err
		}
		tags, dirs := map[string]*engine.Image{}, map[string]bool{}
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
				return t.imageDir(img.ID, join(name)), nil
			}
			if dirs[name] {
				return t.repoDir(nil, join(name)), nil
			}
			return nil, errdefs.NotFound("no such image or repository: %s", join(name))
		},
	}
}

// byID is images/by-id: every image by its id's 64 hex digits; a lookup
// also takes "sha256:<hex>" or a unique prefix.
func (t *tree) byID() fs.Dir {
	return &fs.DirFunc{
		List: func(ctx context.Context) ([]fs.DirEntry, error) {
			imgs, err := t.e.Images(ctx)
			if err != nil {
				return nil, err
			}
			var ents []fs.DirEntry
			for _, img := range imgs {
				ents = append(ents, fs.DirEntry{Name: strings.TrimPrefix(img.ID, "sha256:"), Mode: os.ModeDir})
			}
			sort.Slice(ents, func(i, j int) bool { return ents[i].Name < ents[j].Name })
			return ents, nil
		},
		Get: func(ctx context.Context, name string) (fs.Node, error) {
			id := name
			if !strings.HasPrefix(id, "sha256:") {
				id = "sha256:" + id
			}
			img, err := t.e.Image(ctx, id)
			if err != nil {
				return nil, err
			}
			return t.imageDir(img.ID, ""), nil
		},
	}
}

// familiarTag is the reference a tag directory path names
// ("127.0.0.1:5000/x/latest" → "127.0.0.1:5000/x:latest").
func familiarTag(path string) string {
	i := strings.LastIndex(path, "/")
	if i < 0 {
		return path
	}
	return fmt.Sprintf("%s:%s", path[:i], path[i+1:])
}
