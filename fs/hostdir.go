package fs

import (
	"context"
	"errors"
	"hash/fnv"
	"io"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"golang.org/x/sys/unix"
)

// HostDir serves a real directory of the host, read-write: files, directories
// and symbolic links that clients create, rename, remove, read and write
// (a volume's data). Its nodes implement Creator, Mkdirer, Symlinker,
// Remover, Renamer, Readlinker and AttrSetter.
//
// Every operation resolves its path through an os.Root opened on the
// directory, which follows no symbolic link out of it and no ".." above
// it, so neither a client nor a container that writes into the directory
// can make the daemon touch a file outside. Lookups never go through a
// symbolic link (a link is not a directory), and opening one fails (ELOOP):
// the client resolves links itself, as every network file system's does.
type HostDir string

// hostNode is a path below a HostDir: "" is the directory itself.
type hostNode struct {
	base string
	rel  string
}

// Three kinds, so that transports tell them apart by type (ModeOf).
type (
	hostDirNode  struct{ hostNode }
	hostFileNode struct{ hostNode }
	hostLinkNode struct{ hostNode }
)

var (
	_ Dir        = HostDir("")
	_ Dir        = hostDirNode{}
	_ Creator    = hostDirNode{}
	_ Mkdirer    = hostDirNode{}
	_ Symlinker  = hostDirNode{}
	_ Remover    = hostDirNode{}
	_ Renamer    = hostDirNode{}
	_ AttrSetter = hostDirNode{}
	_ File       = hostFileNode{}
	_ AttrSetter = hostFileNode{}
	_ Readlinker = hostLinkNode{}
)

func (d HostDir) node() hostDirNode { return hostDirNode{hostNode{base: string(d)}} }

// Attr implements Node.
func (d HostDir) Attr(ctx context.Context) (Attr, error) { return d.node().Attr(ctx) }

// Lookup implements Dir.
func (d HostDir) Lookup(ctx context.Context, name string) (Node, error) {
	return d.node().Lookup(ctx, name)
}

// ReadDir implements Dir.
func (d HostDir) ReadDir(ctx context.Context) ([]DirEntry, error) { return d.node().ReadDir(ctx) }

// Create implements Creator.
func (d HostDir) Create(ctx context.Context, name string, flag int, perm os.FileMode) (Node, Handle, error) {
	return d.node().Create(ctx, name, flag, perm)
}

// Mkdir implements Mkdirer.
func (d HostDir) Mkdir(ctx context.Context, name string, perm os.FileMode) (Node, error) {
	return d.node().Mkdir(ctx, name, perm)
}

// Symlink implements Symlinker.
func (d HostDir) Symlink(ctx context.Context, target, name string) (Node, error) {
	return d.node().Symlink(ctx, target, name)
}

// Remove implements Remover.
func (d HostDir) Remove(ctx context.Context, name string, dir bool) error {
	return d.node().Remove(ctx, name, dir)
}

// Rename implements Renamer.
func (d HostDir) Rename(ctx context.Context, oldName string, newDir Dir, newName string) error {
	return d.node().Rename(ctx, oldName, newDir, newName)
}

// SetAttr implements AttrSetter.
func (d HostDir) SetAttr(ctx context.Context, a SetAttr) error { return d.node().SetAttr(ctx, a) }

// root opens the HostDir for one operation.
func (n hostNode) root() (*os.Root, error) {
	r, err := os.OpenRoot(n.base)
	if err != nil {
		return nil, hostErr(err)
	}
	return r, nil
}

// name returns the path of the node inside the root ("." for the root).
func (n hostNode) name() string {
	if n.rel == "" {
		return "."
	}
	return n.rel
}

// child returns the path of a child, refusing names that are not one.
func (n hostNode) child(name string) (string, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return "", errdefs.Invalid("invalid file name %q", name)
	}
	return path.Join(n.rel, name), nil
}

// hostErr keeps the errno of a host error, which transports send as it is,
// and classes the ones the engine knows.
func hostErr(err error) error {
	var errno syscall.Errno
	switch {
	case err == nil:
		return nil
	case errors.As(err, &errno):
		return err // ENOENT, EEXIST, ENOTEMPTY...: fs.Errno passes it on
	}
	if strings.Contains(err.Error(), "path escapes from parent") {
		return errdefs.New(errdefs.ErrPermission, "%v: it would leave the directory", err)
	}
	return err
}

// hostIno returns the Ino of a host file: a hash of its device and inode.
func hostIno(st *syscall.Stat_t) uint64 {
	h := fnv.New64a()
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[i] = byte(st.Dev >> (8 * i))
		b[8+i] = byte(st.Ino >> (8 * i))
	}
	h.Write(b[:])
	id := h.Sum64()
	if id <= 1 || id == ^uint64(0) {
		id ^= 0x5a5a5a5a5a5a5a5a
	}
	return id
}

// attrOf turns a host file's stat into an Attr.
func attrOf(fi os.FileInfo) Attr {
	a := Attr{Mode: fi.Mode(), Size: fi.Size(), Mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		a.UID, a.GID, a.Ino = st.Uid, st.Gid, hostIno(st)
	}
	return a
}

// nodeOf returns the node of kind fi at rel.
func (n hostNode) nodeOf(rel string, fi os.FileInfo) Node {
	h := hostNode{base: n.base, rel: rel}
	switch {
	case fi.IsDir():
		return hostDirNode{h}
	case fi.Mode()&os.ModeSymlink != 0:
		return hostLinkNode{h}
	}
	return hostFileNode{h}
}

// Attr implements Node.
func (n hostNode) Attr(context.Context) (Attr, error) {
	r, err := n.root()
	if err != nil {
		return Attr{}, err
	}
	defer r.Close()
	fi, err := r.Lstat(n.name())
	if err != nil {
		return Attr{}, hostErr(err)
	}
	return attrOf(fi), nil
}

// SetAttr implements AttrSetter.
func (n hostNode) SetAttr(_ context.Context, a SetAttr) error {
	r, err := n.root()
	if err != nil {
		return err
	}
	defer r.Close()
	name := n.name()
	if a.Size != nil {
		f, err := r.OpenFile(name, os.O_WRONLY|syscall.O_NOFOLLOW, 0)
		if err != nil {
			return hostErr(err)
		}
		err = f.Truncate(*a.Size)
		f.Close()
		if err != nil {
			return hostErr(err)
		}
	}
	if a.UID != nil || a.GID != nil {
		uid, gid := -1, -1
		if a.UID != nil {
			uid = int(*a.UID)
		}
		if a.GID != nil {
			gid = int(*a.GID)
		}
		if err := r.Lchown(name, uid, gid); err != nil {
			return hostErr(err)
		}
	}
	if a.Mode != nil {
		fi, err := r.Lstat(name)
		if err != nil {
			return hostErr(err)
		}
		if fi.Mode()&os.ModeSymlink == 0 { // a link's mode means nothing
			if err := r.Chmod(name, *a.Mode&(os.ModePerm|os.ModeSetuid|os.ModeSetgid|os.ModeSticky)); err != nil {
				return hostErr(err)
			}
		}
	}
	if a.Atime != nil || a.Mtime != nil {
		var at, mt time.Time // the zero time leaves it as it is
		if a.Atime != nil {
			at = *a.Atime
		}
		if a.Mtime != nil {
			mt = *a.Mtime
		}
		if err := lchtimes(r, name, at, mt); err != nil {
			return hostErr(err)
		}
	}
	return nil
}

// Lookup implements Dir.
func (d hostDirNode) Lookup(_ context.Context, name string) (Node, error) {
	rel, err := d.child(name)
	if err != nil {
		return nil, errdefs.NotFound("no file %q", name)
	}
	r, err := d.root()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	fi, err := r.Lstat(rel)
	if err != nil {
		return nil, hostErr(err)
	}
	return d.nodeOf(rel, fi), nil
}

// ReadDir implements Dir.
func (d hostDirNode) ReadDir(context.Context) ([]DirEntry, error) {
	r, err := d.root()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	f, err := r.Open(d.name())
	if err != nil {
		return nil, hostErr(err)
	}
	defer f.Close()
	ents, err := f.ReadDir(-1)
	if err != nil {
		return nil, hostErr(err)
	}
	out := make([]DirEntry, len(ents))
	for i, e := range ents {
		out[i] = DirEntry{Name: e.Name(), Mode: e.Type()}
	}
	sortEntries(out)
	return out, nil
}

// Create implements Creator. A file it makes gets the owner of ctx and
// exactly perm (see settle); a file that exists (without O_EXCL) is
// opened as it is.
func (d hostDirNode) Create(ctx context.Context, name string, flag int, perm os.FileMode) (Node, Handle, error) {
	rel, err := d.child(name)
	if err != nil {
		return nil, nil, err
	}
	r, err := d.root()
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	flags := openFlags(flag) | syscall.O_NOFOLLOW
	node := hostFileNode{hostNode{base: d.base, rel: rel}}
	for try := 0; ; try++ {
		f, err := r.OpenFile(rel, flags|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			if err := d.settle(ctx, r, f, perm, false); err != nil {
				f.Close()
				_ = r.Remove(rel)
				return nil, nil, hostErr(err)
			}
			return node, rwHandle{f}, nil
		}
		if !errors.Is(err, os.ErrExist) || flag&os.O_EXCL != 0 || try == 3 {
			return nil, nil, hostErr(err)
		}
		// It exists: open it, unless it went meanwhile.
		f, err = r.OpenFile(rel, flags, 0)
		if err == nil {
			return node, rwHandle{f}, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, nil, hostErr(err)
		}
	}
}

// settle gives f, just made in d, the owner of ctx and the mode asked.
func (d hostDirNode) settle(ctx context.Context, r *os.Root, f *os.File, mode os.FileMode, dir bool) error {
	parent, err := r.Stat(d.name())
	if err != nil {
		return err
	}
	return settle(ctx, f, parent.Mode(), mode, dir)
}

// Mkdir implements Mkdirer: the directory gets the owner of ctx and
// exactly perm, sticky and setgid bits included (see settle).
func (d hostDirNode) Mkdir(ctx context.Context, name string, perm os.FileMode) (Node, error) {
	rel, err := d.child(name)
	if err != nil {
		return nil, err
	}
	r, err := d.root()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if err := r.Mkdir(rel, 0o700); err != nil {
		return nil, hostErr(err)
	}
	f, err := r.OpenFile(rel, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
	if err == nil {
		err = d.settle(ctx, r, f, perm, true)
		f.Close()
	}
	if err != nil {
		_ = r.Remove(rel)
		return nil, hostErr(err)
	}
	return hostDirNode{hostNode{base: d.base, rel: rel}}, nil
}

// Symlink implements Symlinker. The target is stored as it is: it is
// resolved by whoever follows the link (the client, the container). The
// link gets the owner of ctx.
func (d hostDirNode) Symlink(ctx context.Context, target, name string) (Node, error) {
	rel, err := d.child(name)
	if err != nil {
		return nil, err
	}
	r, err := d.root()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if err := r.Symlink(target, rel); err != nil {
		return nil, hostErr(err)
	}
	if o := OwnerOf(ctx); o.HasUID || o.HasGID {
		uid, gid := -1, -1
		if o.HasUID {
			uid = int(o.UID)
		}
		if parent, err := r.Stat(d.name()); err == nil && parent.Mode()&os.ModeSetgid == 0 && o.HasGID {
			gid = int(o.GID)
		}
		if err := r.Lchown(rel, uid, gid); err != nil {
			_ = r.Remove(rel)
			return nil, hostErr(err)
		}
	}
	return hostLinkNode{hostNode{base: d.base, rel: rel}}, nil
}

// Remove implements Remover.
func (d hostDirNode) Remove(_ context.Context, name string, dir bool) error {
	rel, err := d.child(name)
	if err != nil {
		return err
	}
	r, err := d.root()
	if err != nil {
		return err
	}
	defer r.Close()
	fi, err := r.Lstat(rel)
	if err != nil {
		return hostErr(err)
	}
	switch {
	case dir && !fi.IsDir():
		return &os.PathError{Op: "rmdir", Path: name, Err: syscall.ENOTDIR}
	case !dir && fi.IsDir():
		return &os.PathError{Op: "unlink", Path: name, Err: syscall.EISDIR}
	}
	return hostErr(r.Remove(rel))
}

// Rename implements Renamer: both directories must be of the same HostDir.
func (d hostDirNode) Rename(_ context.Context, oldName string, newDir Dir, newName string) error {
	from, err := d.child(oldName)
	if err != nil {
		return err
	}
	var to hostDirNode
	switch nd := newDir.(type) {
	case hostDirNode:
		to = nd
	case HostDir:
		to = nd.node()
	default:
		return &os.LinkError{Op: "rename", Old: oldName, New: newName, Err: syscall.EXDEV}
	}
	if to.base != d.base {
		return &os.LinkError{Op: "rename", Old: oldName, New: newName, Err: syscall.EXDEV}
	}
	dest, err := to.child(newName)
	if err != nil {
		return err
	}
	r, err := d.root()
	if err != nil {
		return err
	}
	defer r.Close()
	return hostErr(r.Rename(from, dest))
}

// Open implements File. O_CREATE, O_EXCL and O_APPEND are dropped: the
// file exists, and writes come with their offsets.
func (f hostFileNode) Open(_ context.Context, flag int) (Handle, error) {
	r, err := f.root()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	file, err := r.OpenFile(f.rel, openFlags(flag)|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, hostErr(err)
	}
	return rwHandle{file}, nil
}

// openFlags keeps the bits of an open that the file itself takes.
func openFlags(flag int) int {
	return flag & (syscall.O_ACCMODE | os.O_TRUNC | os.O_SYNC)
}

// Readlink implements Readlinker.
func (l hostLinkNode) Readlink(context.Context) (string, error) {
	r, err := l.root()
	if err != nil {
		return "", err
	}
	defer r.Close()
	target, err := r.Readlink(l.rel)
	return target, hostErr(err)
}

// rwHandle is an open host file.
type rwHandle struct{ f *os.File }

func (h rwHandle) ReadAt(_ context.Context, p []byte, off int64) (int, error) {
	n, err := h.f.ReadAt(p, off)
	if err != nil && err != io.EOF {
		err = hostErr(err)
	}
	return n, err
}

func (h rwHandle) WriteAt(_ context.Context, p []byte, off int64) (int, error) {
	n, err := h.f.WriteAt(p, off)
	return n, hostErr(err)
}

// Truncate implements Truncater.
func (h rwHandle) Truncate(_ context.Context, size int64) error { return hostErr(h.f.Truncate(size)) }

// Stat returns the attributes of the open file, which hold even if its name
// changed meanwhile.
func (h rwHandle) Stat(context.Context) (Attr, error) {
	fi, err := h.f.Stat()
	if err != nil {
		return Attr{}, hostErr(err)
	}
	return attrOf(fi), nil
}

func (h rwHandle) Close() error { return h.f.Close() }

// lchtimes sets the times of name in r without following it when it is a
// symlink (utimensat with AT_SYMLINK_NOFOLLOW, as cp -a asks through
// FUSE): os.Root's Chtimes would follow the link, failing with ENOENT on a
// dangling one and changing its target's times otherwise. A zero time is
// left as it is.
func lchtimes(r *os.Root, name string, at, mt time.Time) error {
	dir, err := r.Open(path.Dir(name))
	if err != nil {
		return err
	}
	defer dir.Close()
	ts := func(t time.Time) unix.Timespec {
		if t.IsZero() {
			return unix.Timespec{Nsec: unix.UTIME_OMIT}
		}
		return unix.NsecToTimespec(t.UnixNano())
	}
	base := path.Base(name)
	if err := unix.UtimesNanoAt(int(dir.Fd()), base, []unix.Timespec{ts(at), ts(mt)}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimensat", Path: name, Err: err}
	}
	return nil
}
