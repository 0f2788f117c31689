package tree

import (
	"context"
	"errors"
	"os"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	volumetypes "github.com/docker/docker/api/types/volume"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/engine"
	"github.com/enginefs/enginefs/engine/volume"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

// volumes is /volumes: ctl, err, list and a directory per volumetypes.
func (t *tree) volumes() fs.Dir {
	slot := t.slot("volumes")
	static := fs.StaticDir{
		{Name: "ctl", Node: &fs.CtlFile{Exec: t.volumesCtl, Errors: slot}},
		{Name: "err", Node: fs.ErrFile(slot)},
		{Name: "list", Node: fs.ReadFile(t.volumeList)},
		{Name: "usage", Node: fs.ReadFile(t.volumeUsage)},
	}
	return &fs.DirFunc{
		List: func(ctx context.Context) ([]fs.DirEntry, error) {
			ents, _ := static.ReadDir(ctx)
			for _, v := range t.v.List() {
				ents = append(ents, fs.DirEntry{Name: v.Name, Mode: os.ModeDir})
			}
			return ents, nil
		},
		Get: func(ctx context.Context, name string) (fs.Node, error) {
			if n, err := static.Lookup(ctx, name); err == nil {
				return n, nil
			}
			return t.volume(ctx, name)
		},
	}
}

func (t *tree) volumesCtl(ctx context.Context, line string) (string, error) {
	v, err := verbs.Volumes.Parse(line)
	if err != nil {
		return "", err
	}
	switch v := v.(type) {
	case verbs.VolumeCreate:
		o := volume.Options{Name: v.Name, Driver: v.Driver, Options: map[string]string{}, Labels: map[string]string{}}
		if reservedVolumeNames[o.Name] {
			return "", errdefs.Invalid("volume name %q is reserved: it names a file of /volumes", o.Name)
		}
		if err := keyValues(v, "opt", v.Opt, o.Options); err != nil {
			return "", err
		}
		if err := keyValues(v, "label", v.Label, o.Labels); err != nil {
			return "", err
		}
		rec, err := t.v.Create(ctx, o)
		if err != nil {
			return "", err
		}
		return rec.Name, nil
	case verbs.VolumeRm:
		for _, name := range v.Names {
			if err := t.v.Remove(ctx, name); err != nil {
				return "", err
			}
			t.forget("volumes/" + name)
		}
		return "", nil
	case verbs.VolumePrune:
		names, err := t.v.Prune(ctx, v.All)
		return strings.Join(names, "\n"), err
	}
	return "", errdefs.Invalid("unhandled command %q", v.Verb())
}

// reservedVolumeNames are the files of /volumes.
var reservedVolumeNames = map[string]bool{"ctl": true, "err": true, "list": true, "usage": true}

// volume is the directory of one volume: ctl, err, config and data/ (the
// volume's files, read-write, served from where its driver keeps them).
func (t *tree) volume(ctx context.Context, name string) (fs.Dir, error) {
	dir := "volumes/" + name
	slot := t.slot(dir)
	var data fs.Node
	switch p, err := t.v.Path(ctx, name); {
	case err != nil:
		return nil, err
	case p == "":
		// A plugin's volume that no container mounts has no data here.
		unavailable := func() error {
			return errdefs.Unavailable("volume %s: its driver has the data only while a container mounts it", name)
		}
		data = &fs.DirFunc{
			List: func(context.Context) ([]fs.DirEntry, error) { return nil, unavailable() },
			Get:  func(context.Context, string) (fs.Node, error) { return nil, unavailable() },
		}
	default:
		data = fs.HostDir(p)
	}
	return fs.StaticDir{
		{Name: "ctl", Node: &fs.CtlFile{Errors: slot, Exec: func(ctx context.Context, line string) (string, error) {
			if _, err := verbs.Volume.Parse(line); err != nil {
				return "", err
			}
			if err := t.v.Remove(ctx, name); err != nil { // rm, the one verb
				return "", err
			}
			t.forget(dir)
			return "", nil
		}}},
		{Name: "err", Node: fs.ErrFile(slot)},
		{Name: "config", Node: fs.ReadFile(func(ctx context.Context) ([]byte, error) {
			rec, err := t.v.Get(name)
			if err != nil {
				return nil, err
			}
			return jsonDoc(t.volumeDoc(ctx, rec))
		})},
		{Name: "data", Node: data},
	}, nil
}

// volumeDoc is docker's volume inspect document.
func (t *tree) volumeDoc(ctx context.Context, rec volume.Record) volumetypes.Volume {
	mp, _ := t.v.Path(ctx, rec.Name)
	doc := volumetypes.Volume{
		Name: rec.Name, Driver: rec.Driver, Mountpoint: mp, Scope: "local",
		CreatedAt: rec.Created.Format(time.RFC3339), Labels: rec.Labels, Options: rec.Options,
		UsageData: &volumetypes.UsageData{RefCount: int64(len(t.v.Users(rec.Name))), Size: -1},
	}
	if doc.Labels == nil {
		doc.Labels = map[string]string{}
	}
	if doc.Options == nil {
		doc.Options = map[string]string{}
	}
	if rec.Anonymous {
		doc.Labels["com.docker.volume.anonymous"] = ""
	}
	return doc
}

// volumeList is volumes/list: docker's volume ls documents.
func (t *tree) volumeList(ctx context.Context) ([]byte, error) {
	out := []volumetypes.Volume{}
	for _, rec := range t.v.List() {
		out = append(out, t.volumeDoc(ctx, rec))
	}
	return jsonDoc(out)
}

// volumeUsage is volumes/usage: volumes/list with each volume's disk usage
// (UsageData.Size, -1 when its driver does not show its files), what
// docker system df shows; it walks every volume's files.
func (t *tree) volumeUsage(ctx context.Context) ([]byte, error) {
	out := []volumetypes.Volume{}
	for _, rec := range t.v.List() {
		doc := t.volumeDoc(ctx, rec)
		size, err := t.v.Size(ctx, rec.Name)
		if errors.Is(err, errdefs.ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		doc.UsageData.Size = size
		out = append(out, doc)
	}
	return jsonDoc(out)
}

// mountPoints is docker's Mounts of a container.
func mountPoints(r engine.Record) []container.MountPoint {
	out := []container.MountPoint{}
	for _, m := range r.Mounts {
		mp := container.MountPoint{Type: m.Type, Name: m.Name, Source: m.Source, Destination: m.Destination,
			Driver: m.Driver, Mode: m.Mode, RW: m.RW, Propagation: m.Propagation}
		if m.Type == mount.TypeBind && mp.Propagation == "" {
			mp.Propagation = mount.PropagationRPrivate
		}
		out = append(out, mp)
	}
	return out
}
