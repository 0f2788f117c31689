package tree

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/volume"

	"github.com/enginefs/enginefs/ctl"
	"github.com/enginefs/enginefs/engine"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

const volumeCreateUsage = "create [NAME] [driver=local] [opt=K=V]... [label=K=V]..."

var volumesGrammar = ctl.Grammar{
	{Name: "create", MaxArgs: 1, Keys: []string{"driver", "opt", "label"}, Usage: volumeCreateUsage},
	{Name: "rm", MinArgs: 1, MaxArgs: -1, Usage: "rm NAME..."},
	{Name: "prune", MaxArgs: 1, Usage: "prune [all]"},
}

var volumeGrammar = ctl.Grammar{
	{Name: "rm", Usage: "rm"},
}

// volumes is /volumes: ctl, err, list and a directory per volume.
func (t *tree) volumes() fs.Dir {
	slot := t.slot("volumes")
	static := fs.StaticDir{
		{Name: "ctl", Node: &fs.CtlFile{Exec: t.volumesCtl, Errors: slot}},
		{Name: "err", Node: fs.ErrFile(slot)},
		{Name: "list", Node: fs.ReadFile(t.volumeList)},
	}
	return &fs.DirFunc{
		List: func(ctx context.Context) ([]fs.DirEntry, error) {
			ents, _ := static.ReadDir(ctx)
			for _, v := range t.e.Volumes() {
				ents = append(ents, fs.DirEntry{Name: v.Name, Mode: os.ModeDir})
			}
			return ents, nil
		},
		Get: func(ctx context.Context, name string) (fs.Node, error) {
			if n, err := static.Lookup(ctx, name); err == nil {
				return n, nil
			}
			rec, err := t.e.Volume(name)
			if err != nil {
				return nil, err
			}
			return t.volume(rec), nil
		},
	}
}

func (t *tree) volumesCtl(ctx context.Context, line string) (string, error) {
	cmd, err := volumesGrammar.Parse(line)
	if err != nil {
		return "", err
	}
	switch cmd.Verb {
	case "create":
		o := engine.VolumeOptions{Options: map[string]string{}, Labels: map[string]string{}}
		if len(cmd.Args) > 0 {
			o.Name = cmd.Args[0]
		}
		if o.Name == "ctl" || o.Name == "err" || o.Name == "list" {
			return "", errdefs.Invalid("volume name %q is reserved: it names a file of /volumes", o.Name)
		}
		o.Driver, _ = cmd.Get("driver")
		for key, dst := range map[string]map[string]string{"opt": o.Options, "label": o.Labels} {
			for _, kv := range cmd.All(key) {
				k, v, _ := strings.Cut(kv, "=")
				if k == "" {
					return "", &ctl.Error{Verb: "create", Msg: "want K=V", Word: key + "=" + kv, Usage: volumeCreateUsage}
				}
				dst[k] = v
			}
		}
		rec, err := t.e.CreateVolume(ctx, o)
		if err != nil {
			return "", err
		}
		return rec.Name, nil
	case "rm":
		for _, name := range cmd.Args {
			if err := t.e.RemoveVolume(ctx, name); err != nil {
				return "", err
			}
			t.forget("volumes/" + name)
		}
		return "", nil
	case "prune":
		all := len(cmd.Args) > 0
		if all && cmd.Args[0] != "all" {
			return "", &ctl.Error{Verb: "prune", Msg: "unexpected argument", Word: cmd.Args[0], Usage: "prune [all]"}
		}
		names, err := t.e.PruneVolumes(ctx, all)
		return strings.Join(names, "\n"), err
	}
	return "", errdefs.Invalid("unhandled command %q", cmd.Verb)
}

// volume is the directory of one volume: ctl, err, config and data/ (the
// volume's files, read-write).
func (t *tree) volume(rec engine.VolumeRecord) fs.Dir {
	dir := "volumes/" + rec.Name
	slot := t.slot(dir)
	name, created := rec.Name, rec.Created
	alive := func() error {
		r, err := t.e.Volume(name)
		if err == nil && !r.Created.Equal(created) {
			err = errdefs.NotFound("volume %s was removed", name)
		}
		return err
	}
	return fs.StaticDir{
		{Name: "ctl", Node: &fs.CtlFile{Errors: slot, Exec: func(ctx context.Context, line string) (string, error) {
			cmd, err := volumeGrammar.Parse(line)
			if err != nil {
				return "", err
			}
			if err := alive(); err != nil {
				return "", err
			}
			if cmd.Verb == "rm" {
				if err := t.e.RemoveVolume(ctx, name); err != nil {
					return "", err
				}
				t.forget(dir)
			}
			return "", nil
		}}},
		{Name: "err", Node: fs.ErrFile(slot)},
		{Name: "config", Node: fs.ReadFile(func(ctx context.Context) ([]byte, error) {
			if err := alive(); err != nil {
				return nil, err
			}
			return jsonDoc(t.volumeDoc(ctx, rec))
		})},
		{Name: "data", Node: volumeData{t: t, name: name, alive: alive}},
	}
}

// volumeData is volumes/<name>/data: the volume's files, served from
// where its driver keeps them (fs.HostDir). A plugin's volume that is not
// mounted has no data to serve.
type volumeData struct {
	t     *tree
	name  string
	alive func() error
}

func (d volumeData) dir(ctx context.Context) (fs.HostDir, error) {
	if err := d.alive(); err != nil {
		return "", err
	}
	p, err := d.t.e.VolumePath(ctx, d.name)
	if err != nil {
		return "", err
	}
	if p == "" {
		return "", errdefs.Unavailable("volume %s: its driver has the data only while a container mounts it", d.name)
	}
	return fs.HostDir(p), nil
}

// Attr implements fs.Node.
func (d volumeData) Attr(ctx context.Context) (fs.Attr, error) {
	h, err := d.dir(ctx)
	if err != nil {
		return fs.Attr{}, err
	}
	return h.Attr(ctx)
}

// Lookup implements fs.Dir.
func (d volumeData) Lookup(ctx context.Context, name string) (fs.Node, error) {
	h, err := d.dir(ctx)
	if err != nil {
		return nil, err
	}
	return h.Lookup(ctx, name)
}

// ReadDir implements fs.Dir.
func (d volumeData) ReadDir(ctx context.Context) ([]fs.DirEntry, error) {
	h, err := d.dir(ctx)
	if err != nil {
		return nil, err
	}
	return h.ReadDir(ctx)
}

// Create implements fs.Creator.
func (d volumeData) Create(ctx context.Context, name string, flag int, perm os.FileMode) (fs.Node, fs.Handle, error) {
	h, err := d.dir(ctx)
	if err != nil {
		return nil, nil, err
	}
	return h.Create(ctx, name, flag, perm)
}

// Mkdir implements fs.Mkdirer.
func (d volumeData) Mkdir(ctx context.Context, name string, perm os.FileMode) (fs.Node, error) {
	h, err := d.dir(ctx)
	if err != nil {
		return nil, err
	}
	return h.Mkdir(ctx, name, perm)
}

// Symlink implements fs.Symlinker.
func (d volumeData) Symlink(ctx context.Context, target, name string) (fs.Node, error) {
	h, err := d.dir(ctx)
	if err != nil {
		return nil, err
	}
	return h.Symlink(ctx, target, name)
}

// Remove implements fs.Remover.
func (d volumeData) Remove(ctx context.Context, name string, dir bool) error {
	h, err := d.dir(ctx)
	if err != nil {
		return err
	}
	return h.Remove(ctx, name, dir)
}

// Rename implements fs.Renamer: within the volume only.
func (d volumeData) Rename(ctx context.Context, oldName string, newDir fs.Dir, newName string) error {
	h, err := d.dir(ctx)
	if err != nil {
		return err
	}
	if nd, ok := newDir.(volumeData); ok {
		if newDir, err = nd.dir(ctx); err != nil {
			return err
		}
	}
	return h.Rename(ctx, oldName, newDir, newName)
}

// SetAttr implements fs.AttrSetter.
func (d volumeData) SetAttr(ctx context.Context, a fs.SetAttr) error {
	h, err := d.dir(ctx)
	if err != nil {
		return err
	}
	return h.SetAttr(ctx, a)
}

// volumeDoc is docker's volume inspect document.
func (t *tree) volumeDoc(ctx context.Context, rec engine.VolumeRecord) volume.Volume {
	mp, _ := t.e.VolumePath(ctx, rec.Name)
	doc := volume.Volume{
		Name: rec.Name, Driver: rec.Driver, Mountpoint: mp, Scope: "local",
		CreatedAt: rec.Created.Format(time.RFC3339), Labels: rec.Labels, Options: rec.Options,
		UsageData: &volume.UsageData{RefCount: int64(len(t.e.VolumeUsers(rec.Name))), Size: -1},
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
	out := []volume.Volume{}
	for _, rec := range t.e.Volumes() {
		out = append(out, t.volumeDoc(ctx, rec))
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
