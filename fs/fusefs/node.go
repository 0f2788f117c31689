package fusefs

import (
	"context"
	"fmt"
	"os"
	"path"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/enginefs/enginefs/fs"
)

// node is the go-fuse Inode of one path. cur is the tree node the path
// resolved to at the last lookup; a lookup of the same path replaces it, which
// is what keeps a re-created object from being served as the old one.
type node struct {
	gofs.Inode
	srv *Server

	mu   sync.Mutex
	path string
	cur  fs.Node
}

var (
	_ gofs.NodeGetattrer  = (*node)(nil)
	_ gofs.NodeSetattrer  = (*node)(nil)
	_ gofs.NodeLookuper   = (*node)(nil)
	_ gofs.NodeReaddirer  = (*node)(nil)
	_ gofs.NodeOpener     = (*node)(nil)
	_ gofs.NodeStatfser   = (*node)(nil)
	_ gofs.NodeReadlinker = (*node)(nil)
)

func (n *node) get() fs.Node {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cur
}

// getPath returns the path the node was last found at.
func (n *node) getPath() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.path
}

func (n *node) set(c fs.Node, p string) {
	n.mu.Lock()
	n.cur, n.path = c, p
	n.mu.Unlock()
}

// errno maps an error from the tree to what FUSE sends.
func errno(err error) syscall.Errno { return fs.Errno(err) }

// fuseMode returns the type bits FUSE wants for a node of the given mode.
func fuseMode(m os.FileMode) uint32 {
	switch {
	case m.IsDir():
		return syscall.S_IFDIR
	case m&os.ModeSymlink != 0:
		return syscall.S_IFLNK
	case m&os.ModeNamedPipe != 0:
		return syscall.S_IFIFO
	case m&os.ModeSocket != 0:
		return syscall.S_IFSOCK
	case m&os.ModeCharDevice != 0:
		return syscall.S_IFCHR
	case m&os.ModeDevice != 0:
		return syscall.S_IFBLK
	}
	return syscall.S_IFREG
}

// inoOf returns the inode number of the node at p with attributes a.
func inoOf(p string, a fs.Attr) uint64 {
	if a.Ino != 0 {
		return a.Ino
	}
	return fs.PathID(p)
}

// fillAttr turns an fs.Attr into FUSE attributes.
func fillAttr(out *fuse.Attr, p string, a fs.Attr) {
	out.Mode = fuseMode(a.Mode) | uint32(a.Mode.Perm()) | fs.UnixSpecial(a.Mode)
	out.Ino = inoOf(p, a)
	out.Owner = fuse.Owner{Uid: a.UID, Gid: a.GID}
	out.Size = uint64(max(a.Size, 0))
	out.Nlink = 1
	if a.Mode.IsDir() {
		out.Nlink = 2
	}
	mtime := a.Mtime
	if mtime.IsZero() {
		mtime = time.Now() // synthetic content is as new as the read
	}
	out.SetTimes(&mtime, &mtime, &mtime)
}

// statter is a handle that knows the attributes of its open file (a host
// file's, which hold after a rename).
type statter interface {
	Stat(ctx context.Context) (fs.Attr, error)
}

// Getattr implements gofs.NodeGetattrer.
func (n *node) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	var a fs.Attr
	var err error
	if h, ok := f.(*handle); ok {
		if st, ok := h.h.(statter); ok {
			a, err = st.Stat(ctx)
			if err != nil {
				return errno(err)
			}
			fillAttr(&out.Attr, n.getPath(), a)
			return 0
		}
	}
	if a, err = n.get().Attr(ctx); err != nil {
		return errno(err)
	}
	fillAttr(&out.Attr, n.getPath(), a)
	return 0
}

// Setattr implements gofs.NodeSetattrer. A size goes to the open handle's
// fs.Truncater; without an open handle to a node that is an fs.AttrSetter,
// 0 is accepted (the kernel's half of `echo cmd > ctl`) and any other size
// is EINVAL. Mode, owner and times go to an fs.AttrSetter, and are accepted
// and ignored by other nodes.
func (n *node) Setattr(ctx context.Context, f gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	setter, _ := n.get().(fs.AttrSetter)
	var change fs.SetAttr
	if size, ok := in.GetSize(); ok {
		h, open := f.(*handle)
		switch {
		case open:
			ctx, cancel := n.srv.opContext(ctx)
			err := fs.TruncateHandle(ctx, h.h, int64(size))
			cancel()
			if err != nil {
				return errno(err)
			}
		case setter != nil:
			sz := int64(size)
			change.Size = &sz
		case size != 0:
			return syscall.EINVAL
		}
	}
	if setter != nil {
		if mode, ok := in.GetMode(); ok {
			m := os.FileMode(mode & 0o777)
			if mode&syscall.S_ISUID != 0 {
				m |= os.ModeSetuid
			}
			if mode&syscall.S_ISGID != 0 {
				m |= os.ModeSetgid
			}
			if mode&syscall.S_ISVTX != 0 {
				m |= os.ModeSticky
			}
			change.Mode = &m
		}
		if uid, ok := in.GetUID(); ok {
			change.UID = &uid
		}
		if gid, ok := in.GetGID(); ok {
			change.GID = &gid
		}
		if t, ok := in.GetATime(); ok {
			change.Atime = &t
		}
		if t, ok := in.GetMTime(); ok {
			change.Mtime = &t
		}
		if err := setter.SetAttr(ctx, change); err != nil {
			return errno(err)
		}
	}
	return n.Getattr(ctx, f, out)
}

// Setxattr implements gofs.NodeSetxattrer: extended attributes are not
// supported (ENOTSUP, which cp -a and tar take as such; go-fuse's default
// ENODATA makes them fail).
func (n *node) Setxattr(context.Context, string, []byte, uint32) syscall.Errno {
	return syscall.ENOTSUP
}

// Removexattr implements gofs.NodeRemovexattrer: ENOTSUP, as Setxattr.
func (n *node) Removexattr(context.Context, string) syscall.Errno { return syscall.ENOTSUP }

var (
	_ gofs.NodeSetxattrer    = (*node)(nil)
	_ gofs.NodeRemovexattrer = (*node)(nil)
)

// Readlink implements gofs.NodeReadlinker.
func (n *node) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	l, ok := n.get().(fs.Readlinker)
	if !ok {
		return nil, syscall.EINVAL
	}
	target, err := l.Readlink(ctx)
	if err != nil {
		return nil, errno(err)
	}
	return []byte(target), 0
}

// Lookup implements gofs.NodeLookuper.
func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	d, ok := n.get().(fs.Dir)
	if !ok {
		return nil, syscall.ENOTDIR
	}
	child, err := d.Lookup(ctx, name)
	if err != nil {
		return nil, errno(err)
	}
	return n.inode(ctx, name, child, out)
}

// inode returns the Inode of child, found or made under name, with out
// filled in.
func (n *node) inode(ctx context.Context, name string, child fs.Node, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	a, err := child.Attr(ctx)
	if err != nil {
		return nil, errno(err)
	}
	p := path.Join(n.getPath(), name)
	fillAttr(&out.Attr, p, a)
	id := gofs.StableAttr{Mode: fuseMode(a.Mode), Ino: inoOf(p, a)}

	// go-fuse answers with the Inode it already has for id, if any, and
	// drops a new one: give the existing Inode the node just resolved.
	// (A renamed host file keeps its Inode, which Rename updates.)
	if old := n.GetChild(name); old != nil && old.StableAttr() == id {
		if on, ok := old.Operations().(*node); ok {
			on.set(child, p)
			return old, 0
		}
	}
	return n.NewInode(ctx, &node{srv: n.srv, path: p, cur: child}, id), 0
}

// Readdir implements gofs.NodeReaddirer.
func (n *node) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	d, ok := n.get().(fs.Dir)
	if !ok {
		return nil, syscall.ENOTDIR
	}
	ents, err := d.ReadDir(ctx)
	if err != nil {
		return nil, errno(err)
	}
	out := make([]fuse.DirEntry, len(ents))
	for i, e := range ents {
		out[i] = fuse.DirEntry{Name: e.Name, Mode: fuseMode(e.Mode), Ino: fs.PathID(path.Join(n.getPath(), e.Name))}
	}
	return gofs.NewListDirStream(out), 0
}

// Open implements gofs.NodeOpener. Every open is direct I/O, so that reads
// are never served from the page cache.
func (n *node) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	acc := int(flags) & syscall.O_ACCMODE
	h, err := fs.OpenNode(ctx, n.get(), acc|int(flags)&(os.O_TRUNC|os.O_APPEND))
	if err != nil {
		return nil, 0, errno(err)
	}
	return &handle{srv: n.srv, h: h}, fuse.FOPEN_DIRECT_IO, 0
}

// Statfs implements gofs.NodeStatfser, so that df shows sane numbers.
func (n *node) Statfs(context.Context, *fuse.StatfsOut) syscall.Errno { return 0 }

// The tree is changed through ctl files; only directories that implement
// the fs interfaces for it (fs.HostDir, a volume's data) take creates,
// removes and renames. Elsewhere they answer EPERM, as over 9P. Hard links
// and device nodes are refused everywhere.

var (
	_ gofs.NodeCreater   = (*node)(nil)
	_ gofs.NodeMkdirer   = (*node)(nil)
	_ gofs.NodeMknoder   = (*node)(nil)
	_ gofs.NodeSymlinker = (*node)(nil)
	_ gofs.NodeLinker    = (*node)(nil)
	_ gofs.NodeUnlinker  = (*node)(nil)
	_ gofs.NodeRmdirer   = (*node)(nil)
	_ gofs.NodeRenamer   = (*node)(nil)
)

// Create implements gofs.NodeCreater through fs.Creator.
func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	c, ok := n.get().(fs.Creator)
	if !ok {
		return nil, nil, 0, syscall.EPERM
	}
	child, h, err := c.Create(withCaller(ctx), name, int(flags), os.FileMode(mode&0o777)|fs.SpecialMode(mode))
	if err != nil {
		return nil, nil, 0, errno(err)
	}
	in, e := n.inode(ctx, name, child, out)
	if e != 0 {
		h.Close()
		return nil, nil, 0, e
	}
	return in, &handle{srv: n.srv, h: h}, fuse.FOPEN_DIRECT_IO, 0
}

// Mkdir implements gofs.NodeMkdirer through fs.Mkdirer.
func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	m, ok := n.get().(fs.Mkdirer)
	if !ok {
		return nil, syscall.EPERM
	}
	child, err := m.Mkdir(withCaller(ctx), name, os.FileMode(mode&0o777)|fs.SpecialMode(mode)&(os.ModeSetgid|os.ModeSticky))
	if err != nil {
		return nil, errno(err)
	}
	return n.inode(ctx, name, child, out)
}

// Mknod implements gofs.NodeMknoder: EPERM.
func (n *node) Mknod(context.Context, string, uint32, uint32, *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

// Symlink implements gofs.NodeSymlinker through fs.Symlinker.
func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	s, ok := n.get().(fs.Symlinker)
	if !ok {
		return nil, syscall.EPERM
	}
	child, err := s.Symlink(withCaller(ctx), target, name)
	if err != nil {
		return nil, errno(err)
	}
	return n.inode(ctx, name, child, out)
}

// Link implements gofs.NodeLinker: EPERM.
func (n *node) Link(context.Context, gofs.InodeEmbedder, string, *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

// Unlink implements gofs.NodeUnlinker through fs.Remover.
func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	return n.remove(ctx, name, false)
}

// Rmdir implements gofs.NodeRmdirer through fs.Remover.
func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	return n.remove(ctx, name, true)
}

func (n *node) remove(ctx context.Context, name string, dir bool) syscall.Errno {
	r, ok := n.get().(fs.Remover)
	if !ok {
		return syscall.EPERM
	}
	return errno(r.Remove(ctx, name, dir))
}

// Rename implements gofs.NodeRenamer through fs.Renamer. The flags of
// renameat2 (no replace, exchange) are not supported.
func (n *node) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	r, ok := n.get().(fs.Renamer)
	if !ok {
		return syscall.EPERM
	}
	np, ok := newParent.(*node)
	if !ok {
		return syscall.EXDEV
	}
	nd, ok := np.get().(fs.Dir)
	if !ok {
		return syscall.ENOTDIR
	}
	if flags != 0 {
		return syscall.EINVAL
	}
	if err := r.Rename(ctx, name, nd, newName); err != nil {
		return errno(err)
	}
	// go-fuse moves the child's Inode once this returns: it must serve
	// the node under its new name from now on, and so must the Inodes
	// the kernel still holds below a renamed directory (a process's
	// working directory, an open directory it calls openat on).
	if ch := n.GetChild(name); ch != nil {
		if moved, err := nd.Lookup(ctx, newName); err == nil {
			refresh(ctx, ch, moved, path.Join(np.getPath(), newName))
		}
	}
	return 0
}

// refresh points the Inode in, and those known below it, at the node cur
// found at p.
func refresh(ctx context.Context, in *gofs.Inode, cur fs.Node, p string) {
	n, ok := in.Operations().(*node)
	if !ok {
		return
	}
	n.set(cur, p)
	d, ok := cur.(fs.Dir)
	if !ok {
		return
	}
	for name, ch := range in.Children() {
		if c, err := d.Lookup(ctx, name); err == nil {
			refresh(ctx, ch, c, path.Join(p, name))
		}
	}
}

// withCaller returns ctx carrying the calling process's uid and gid as the
// owner of what it creates (fs.Owner), as a file system gives a new file
// to the process that makes it.
func withCaller(ctx context.Context) context.Context {
	if c, ok := fuse.FromContext(ctx); ok {
		return fs.WithOwner(withClient(ctx), fs.Owner{UID: c.Uid, GID: c.Gid, HasUID: true, HasGID: true})
	}
	return ctx
}

// withClient returns ctx naming the calling process, for the log of
// refused input (fs.ClientOf).
func withClient(ctx context.Context) context.Context {
	if c, ok := fuse.FromContext(ctx); ok {
		return fs.WithClient(ctx, fmt.Sprintf("fuse pid %d uid %d", c.Pid, c.Uid))
	}
	return ctx
}
