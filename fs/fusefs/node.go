package fusefs

import (
	"context"
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
	srv  *Server
	path string

	mu  sync.Mutex
	cur fs.Node
}

var (
	_ gofs.NodeGetattrer = (*node)(nil)
	_ gofs.NodeSetattrer = (*node)(nil)
	_ gofs.NodeLookuper  = (*node)(nil)
	_ gofs.NodeReaddirer = (*node)(nil)
	_ gofs.NodeOpener    = (*node)(nil)
	_ gofs.NodeStatfser  = (*node)(nil)
)

func (n *node) get() fs.Node {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cur
}

func (n *node) set(c fs.Node) {
	n.mu.Lock()
	n.cur = c
	n.mu.Unlock()
}

// errno maps an error from the tree to what FUSE sends.
func errno(err error) syscall.Errno { return fs.Errno(err) }

// fuseMode returns the type bits FUSE wants for a node of the given mode.
func fuseMode(m os.FileMode) uint32 {
	if m.IsDir() {
		return syscall.S_IFDIR
	}
	return syscall.S_IFREG
}

// fillAttr turns an fs.Attr into FUSE attributes.
func fillAttr(out *fuse.Attr, p string, a fs.Attr) {
	out.Mode = fuseMode(a.Mode) | uint32(a.Mode.Perm())
	out.Ino = fs.PathID(p)
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

// Getattr implements gofs.NodeGetattrer.
func (n *node) Getattr(ctx context.Context, _ gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	a, err := n.get().Attr(ctx)
	if err != nil {
		return errno(err)
	}
	fillAttr(&out.Attr, n.path, a)
	return 0
}

// Setattr implements gofs.NodeSetattrer. Only a size means anything: it goes
// to the open handle's fs.Truncater; without one, 0 is accepted (the kernel's
// half of `echo cmd > ctl`) and any other size is EINVAL. Mode, owner and
// times are accepted and ignored.
func (n *node) Setattr(ctx context.Context, f gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
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
		case size != 0:
			return syscall.EINVAL
		}
	}
	return n.Getattr(ctx, f, out)
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
	a, err := child.Attr(ctx)
	if err != nil {
		return nil, errno(err)
	}
	p := path.Join(n.path, name)
	fillAttr(&out.Attr, p, a)
	id := gofs.StableAttr{Mode: fuseMode(a.Mode), Ino: fs.PathID(p)}

	// go-fuse answers with the Inode it already has for id, if any, and
	// drops a new one: give the existing Inode the node just resolved.
	if old := n.GetChild(name); old != nil && old.StableAttr() == id {
		if on, ok := old.Operations().(*node); ok {
			on.set(child)
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
		out[i] = fuse.DirEntry{Name: e.Name, Mode: fuseMode(e.Mode), Ino: fs.PathID(path.Join(n.path, e.Name))}
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

// The tree is changed through ctl files, never by creating, linking,
// renaming or removing names: those answer EPERM, as over 9P.

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

// Create implements gofs.NodeCreater: EPERM.
func (n *node) Create(context.Context, string, uint32, uint32, *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EPERM
}

// Mkdir implements gofs.NodeMkdirer: EPERM.
func (n *node) Mkdir(context.Context, string, uint32, *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

// Mknod implements gofs.NodeMknoder: EPERM.
func (n *node) Mknod(context.Context, string, uint32, uint32, *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

// Symlink implements gofs.NodeSymlinker: EPERM.
func (n *node) Symlink(context.Context, string, string, *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

// Link implements gofs.NodeLinker: EPERM.
func (n *node) Link(context.Context, gofs.InodeEmbedder, string, *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

// Unlink implements gofs.NodeUnlinker: EPERM.
func (n *node) Unlink(context.Context, string) syscall.Errno { return syscall.EPERM }

// Rmdir implements gofs.NodeRmdirer: EPERM.
func (n *node) Rmdir(context.Context, string) syscall.Errno { return syscall.EPERM }

// Rename implements gofs.NodeRenamer: EPERM.
func (n *node) Rename(context.Context, string, gofs.InodeEmbedder, string, uint32) syscall.Errno {
	return syscall.EPERM
}
