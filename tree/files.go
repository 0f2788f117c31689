package tree

import (
	"context"
	"io"
	"os"
	"path"
	"strings"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

// The container's files: root/ (its root file system, read-write, with
// its volumes and binds where the container sees them), changes (docker
// diff) and export (docker export).

// rootDir is containers/<id>/root: the container's root file system as
// engine.Engine.RootFS mounts it, confined to it as a volume's data/ is
// (fs.HostDir), with the host directories of its volume and bind mounts
// at their destinations, so that a copy into /data of a container that
// mounts a volume there lands in the volume, as docker cp's does.
type rootDir struct {
	t  *tree
	id string
}

var (
	_ fs.Dir        = rootDir{}
	_ fs.Creator    = rootDir{}
	_ fs.Mkdirer    = rootDir{}
	_ fs.Symlinker  = rootDir{}
	_ fs.Remover    = rootDir{}
	_ fs.Renamer    = rootDir{}
	_ fs.AttrSetter = rootDir{}
)

// open mounts (or finds) the root file system and returns it as a
// mountedDir.
func (r rootDir) open(ctx context.Context) (mountedDir, error) {
	p, err := r.t.e.RootFS(ctx, r.id)
	if err != nil {
		return mountedDir{}, err
	}
	c, err := r.t.e.Get(r.id)
	if err != nil {
		return mountedDir{}, err
	}
	mounts := map[string]string{}
	for _, m := range c.Record().Mounts {
		dst := path.Clean("/" + m.Destination)
		switch {
		case m.Name != "" && r.t.v != nil:
			if src, err := r.t.v.Path(ctx, m.Name); err == nil && src != "" {
				mounts[dst] = src
			}
		case m.Source != "":
			mounts[dst] = m.Source
		}
	}
	return mountedDir{Dir: fs.HostDir(p), rel: "/", mounts: mounts}, nil
}

// Attr implements fs.Node. It mounts nothing: listing a container's
// directory must not mount a stopped container's root (a lookup below
// it does).
func (r rootDir) Attr(context.Context) (fs.Attr, error) {
	if _, err := r.t.e.Get(r.id); err != nil {
		return fs.Attr{}, err
	}
	return fs.Attr{Mode: os.ModeDir | 0o755}, nil
}

// Lookup implements fs.Dir.
func (r rootDir) Lookup(ctx context.Context, name string) (fs.Node, error) {
	d, err := r.open(ctx)
	if err != nil {
		return nil, err
	}
	return d.Lookup(ctx, name)
}

// ReadDir implements fs.Dir.
func (r rootDir) ReadDir(ctx context.Context) ([]fs.DirEntry, error) {
	d, err := r.open(ctx)
	if err != nil {
		return nil, err
	}
	return d.ReadDir(ctx)
}

// Create implements fs.Creator.
func (r rootDir) Create(ctx context.Context, name string, flag int, perm os.FileMode) (fs.Node, fs.Handle, error) {
	d, err := r.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	return d.Create(ctx, name, flag, perm)
}

// Mkdir implements fs.Mkdirer.
func (r rootDir) Mkdir(ctx context.Context, name string, perm os.FileMode) (fs.Node, error) {
	d, err := r.open(ctx)
	if err != nil {
		return nil, err
	}
	return d.Mkdir(ctx, name, perm)
}

// Symlink implements fs.Symlinker.
func (r rootDir) Symlink(ctx context.Context, target, name string) (fs.Node, error) {
	d, err := r.open(ctx)
	if err != nil {
		return nil, err
	}
	return d.Symlink(ctx, target, name)
}

// Remove implements fs.Remover.
func (r rootDir) Remove(ctx context.Context, name string, dir bool) error {
	d, err := r.open(ctx)
	if err != nil {
		return err
	}
	return d.Remove(ctx, name, dir)
}

// Rename implements fs.Renamer.
func (r rootDir) Rename(ctx context.Context, oldName string, newDir fs.Dir, newName string) error {
	d, err := r.open(ctx)
	if err != nil {
		return err
	}
	return d.Rename(ctx, oldName, newDir, newName)
}

// SetAttr implements fs.AttrSetter.
func (r rootDir) SetAttr(ctx context.Context, a fs.SetAttr) error {
	d, err := r.open(ctx)
	if err != nil {
		return err
	}
	return d.SetAttr(ctx, a)
}

// mountedDir is a directory of a container's root file system (rel, from
// "/") whose children may be mount points: the host directory mounted
// there replaces the child, and a directory on the way to a mount point
// is a mountedDir too.
type mountedDir struct {
	fs.Dir
	rel    string
	mounts map[string]string // destination → host directory
}

func (d mountedDir) child(name string) string { return path.Join(d.rel, name) }

// wrap returns what the child name is, as the container sees it.
func (d mountedDir) wrap(name string, n fs.Node) fs.Node {
	p := d.child(name)
	if src, ok := d.mounts[p]; ok {
		return fs.HostDir(src)
	}
	dir, ok := n.(fs.Dir)
	if !ok {
		return n
	}
	for dst := range d.mounts {
		if strings.HasPrefix(dst, p+"/") {
			return mountedDir{Dir: dir, rel: p, mounts: d.mounts}
		}
	}
	return n
}

// Lookup implements fs.Dir.
func (d mountedDir) Lookup(ctx context.Context, name string) (fs.Node, error) {
	if src, ok := d.mounts[d.child(name)]; ok {
		return fs.HostDir(src), nil
	}
	n, err := d.Dir.Lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	return d.wrap(name, n), nil
}

// Create implements fs.Creator.
func (d mountedDir) Create(ctx context.Context, name string, flag int, perm os.FileMode) (fs.Node, fs.Handle, error) {
	c, ok := d.Dir.(fs.Creator)
	if !ok {
		return nil, nil, errdefs.New(errdefs.ErrPermission, "%s: read-only", d.rel)
	}
	return c.Create(ctx, name, flag, perm)
}

// Mkdir implements fs.Mkdirer.
func (d mountedDir) Mkdir(ctx context.Context, name string, perm os.FileMode) (fs.Node, error) {
	c, ok := d.Dir.(fs.Mkdirer)
	if !ok {
		return nil, errdefs.New(errdefs.ErrPermission, "%s: read-only", d.rel)
	}
	n, err := c.Mkdir(ctx, name, perm)
	if err != nil {
		return nil, err
	}
	return d.wrap(name, n), nil
}

// Symlink implements fs.Symlinker.
func (d mountedDir) Symlink(ctx context.Context, target, name string) (fs.Node, error) {
	c, ok := d.Dir.(fs.Symlinker)
	if !ok {
		return nil, errdefs.New(errdefs.ErrPermission, "%s: read-only", d.rel)
	}
	return c.Symlink(ctx, target, name)
}

// Remove implements fs.Remover. A mount point is busy, as rmdir of one is.
func (d mountedDir) Remove(ctx context.Context, name string, dir bool) error {
	if _, ok := d.mounts[d.child(name)]; ok {
		return errdefs.Busy("%s is a mount point", d.child(name))
	}
	c, ok := d.Dir.(fs.Remover)
	if !ok {
		return errdefs.New(errdefs.ErrPermission, "%s: read-only", d.rel)
	}
	return c.Remove(ctx, name, dir)
}

// Rename implements fs.Renamer, within the same host directory.
func (d mountedDir) Rename(ctx context.Context, oldName string, newDir fs.Dir, newName string) error {
	if m, ok := newDir.(mountedDir); ok {
		newDir = m.Dir
	}
	c, ok := d.Dir.(fs.Renamer)
	if !ok {
		return errdefs.New(errdefs.ErrPermission, "%s: read-only", d.rel)
	}
	return c.Rename(ctx, oldName, newDir, newName)
}

// SetAttr implements fs.AttrSetter.
func (d mountedDir) SetAttr(ctx context.Context, a fs.SetAttr) error {
	c, ok := d.Dir.(fs.AttrSetter)
	if !ok {
		return errdefs.New(errdefs.ErrPermission, "%s: read-only", d.rel)
	}
	return c.SetAttr(ctx, a)
}

// changesFile is containers/<id>/changes: docker diff's lines, "C /etc".
func (t *tree) changesFile(id string) fs.Node {
	return fs.ReadFile(func(ctx context.Context) ([]byte, error) {
		cs, err := t.e.Changes(ctx, id)
		if err != nil {
			return nil, err
		}
		var b strings.Builder
		for _, c := range cs {
			b.WriteString(c.String())
			b.WriteByte('\n')
		}
		return []byte(b.String()), nil
	})
}

// exportFile is containers/<id>/export: a tar stream of the container's
// root file system, made as it is read.
func (t *tree) exportFile(id string) fs.Node {
	return fs.StreamFile(func(ctx context.Context) (fs.Stream, error) {
		if _, err := t.e.RootFS(ctx, id); err != nil {
			return nil, err // refused at open, with its reason
		}
		ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(t.e.Export(ctx, id, pw)) }()
		return &pipeStream{r: pr, cancel: cancel}, nil
	})
}

// exportChunk is the size of the chunks an export is read in.
const exportChunk = 128 << 10

// pipeStream is an fs.Stream over the reading end of a pipe.
type pipeStream struct {
	r      *io.PipeReader
	cancel context.CancelFunc
}

func (s *pipeStream) Next(ctx context.Context) ([]byte, error) {
	buf := make([]byte, exportChunk)
	n, err := s.r.Read(buf)
	if n > 0 {
		return buf[:n], nil
	}
	return nil, err
}

func (s *pipeStream) Close() error {
	s.cancel()
	return s.r.CloseWithError(io.ErrClosedPipe)
}
