package ninep

import (
	"context"
	"errors"
	"io"
	"os"
	"path"
	"sync"
	"syscall"
	"time"

	"github.com/hugelgupf/p9/fsimpl/templatefs"
	"github.com/hugelgupf/p9/linux"
	"github.com/hugelgupf/p9/p9"

	"github.com/enginefs/enginefs/fs"
)

// errno turns an error from the tree into the error p9 sends: always a
// linux.Errno, which p9 passes on as it is (it would turn EPERM, among
// others, into EACCES if it had to guess from a syscall.Errno).
func errno(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.EOF):
		return io.EOF
	}
	return linux.Errno(fs.Errno(err))
}

// attacher gives each attach of a connection a fresh root.
type attacher struct{ c *serverConn }

// Attach implements p9.Attacher.
func (a attacher) Attach() (p9.File, error) { return a.c.newFile("/", a.c.root), nil }

// file is one fid: a node of the tree, and once opened its handle. p9
// creates one per fid (Walk always returns a new file), so the per-open
// state in the handle is never shared between two opens.
//
// p9's File methods take no context; a file uses its connection's, and for
// reads and writes one of its own per call, which Tflush, Tclunk and the end
// of the connection cancel.
type file struct {
	templatefs.NotImplementedFile

	c   *serverConn
	qid p9.QID

	mu       sync.Mutex
	path     string    // where the file is; a rename (rename.go) moves it
	node     fs.Node   // what it resolved to there
	h        fs.Handle // set by Open of a file
	ents     []fs.DirEntry
	listed   bool // ents were served: a Readdir at 0 lists afresh
	isDir    bool // opened as a directory
	ctx      context.Context
	stop     context.CancelFunc
	ops      map[uint64]context.CancelFunc
	nextOp   uint64
	flushing int // flushed requests not yet answered
}

var _ p9.File = (*file)(nil)

func (c *serverConn) newFile(p string, n fs.Node) *file {
	f := &file{c: c, path: p, node: n, qid: qidOf(c.ctx, p, n)}
	c.mu.Lock()
	c.files[f] = struct{}{}
	c.mu.Unlock()
	return f
}

// at returns the file's node and path.
func (f *file) at() (fs.Node, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.node, f.path
}

// qidOf returns the QID of the node at p: its type, and its identity (a
// host file's, else the path's).
func qidOf(ctx context.Context, p string, n fs.Node) p9.QID {
	q := p9.QID{Type: p9.TypeRegular, Path: fs.PathID(p)}
	switch n.(type) {
	case fs.Dir:
		q.Type = p9.TypeDir
	case fs.Readlinker:
		q.Type = p9.TypeSymlink
	}
	if _, host := n.(fs.AttrSetter); host {
		if a, err := n.Attr(ctx); err == nil && a.Ino != 0 {
			q.Path = a.Ino
		}
	}
	return q
}

// Walk implements p9.File: no name clones the fid, one name looks it up (p9
// never passes more).
func (f *file) Walk(names []string) ([]p9.QID, p9.File, error) {
	node, p := f.at()
	switch len(names) {
	case 0:
		return nil, f.c.newFile(p, node), nil
	case 1:
	default:
		return nil, nil, linux.EINVAL
	}
	d, ok := node.(fs.Dir)
	if !ok {
		return nil, nil, linux.ENOTDIR
	}
	child, err := d.Lookup(f.c.ctx, names[0])
	if err != nil {
		return nil, nil, errno(err)
	}
	nf := f.c.newFile(path.Join(p, names[0]), child)
	return []p9.QID{nf.qid}, nf, nil
}

// GetAttr implements p9.File from the node's fs.Attr.
func (f *file) GetAttr(p9.AttrMask) (p9.QID, p9.AttrMask, p9.Attr, error) {
	node, _ := f.at()
	a, err := node.Attr(f.c.ctx)
	if err != nil {
		return p9.QID{}, p9.AttrMask{}, p9.Attr{}, errno(err)
	}
	mtime := a.Mtime
	if mtime.IsZero() {
		mtime = time.Now() // synthetic content is as new as the read
	}
	sec, nsec := uint64(mtime.Unix()), uint64(mtime.Nanosecond())
	size := uint64(max(a.Size, 0))
	attr := p9.Attr{
		Mode:             p9.ModeFromOS(a.Mode) | p9.FileMode(fs.UnixSpecial(a.Mode)),
		NLink:            1,
		Size:             size,
		BlockSize:        4096,
		Blocks:           (size + 511) / 512,
		ATimeSeconds:     sec,
		ATimeNanoSeconds: nsec,
		MTimeSeconds:     sec,
		MTimeNanoSeconds: nsec,
		CTimeSeconds:     sec,
		CTimeNanoSeconds: nsec,
	}
	if a.Mode.IsDir() {
		attr.NLink = 2
	}
	attr.UID, attr.GID = p9.UID(a.UID), p9.GID(a.GID)
	valid := p9.AttrMask{Mode: true, NLink: true, UID: true, GID: true, Size: true, Blocks: true, ATime: true, MTime: true, CTime: true}
	return f.qid, valid, attr, nil
}

// SetAttr implements p9.File. A size goes to the open handle
// (fs.TruncateHandle: `echo cmd > ctl` truncates first), else to an
// fs.AttrSetter; mode, owner and times go to an fs.AttrSetter and are
// ignored by other nodes.
func (f *file) SetAttr(valid p9.SetAttrMask, attr p9.SetAttr) error {
	f.mu.Lock()
	h, node := f.h, f.node
	f.mu.Unlock()
	setter, _ := node.(fs.AttrSetter)
	var change fs.SetAttr
	if valid.Size {
		switch {
		case h != nil:
			ctx, end := f.begin()
			err := fs.TruncateHandle(ctx, h, int64(attr.Size))
			end()
			if err != nil {
				return errno(err)
			}
		case setter != nil:
			size := int64(attr.Size)
			change.Size = &size
		case attr.Size != 0:
			return linux.EINVAL
		}
	}
	if setter == nil {
		return nil
	}
	if valid.Permissions {
		m := osMode(attr.Permissions)
		change.Mode = &m
	}
	if valid.UID {
		uid := uint32(attr.UID)
		change.UID = &uid
	}
	if valid.GID {
		gid := uint32(attr.GID)
		change.GID = &gid
	}
	now := time.Now()
	if valid.ATime {
		t := now
		if valid.ATimeNotSystemTime {
			t = time.Unix(int64(attr.ATimeSeconds), int64(attr.ATimeNanoSeconds))
		}
		change.Atime = &t
	}
	if valid.MTime {
		t := now
		if valid.MTimeNotSystemTime {
			t = time.Unix(int64(attr.MTimeSeconds), int64(attr.MTimeNanoSeconds))
		}
		change.Mtime = &t
	}
	return errno(setter.SetAttr(f.c.ctx, change))
}

// Open implements p9.File. A directory is listed now, for Readdir to serve;
// a file is opened, and its QID version carries a serial that tells the
// connection which fid this file is (see serverConn).
func (f *file) Open(mode p9.OpenFlags) (p9.QID, uint32, error) {
	acc := int(mode.Mode())
	node, _ := f.at()
	if d, ok := node.(fs.Dir); ok {
		ents, err := d.ReadDir(f.c.ctx)
		if err != nil {
			return p9.QID{}, 0, errno(err)
		}
		f.mu.Lock()
		f.isDir, f.ents = true, ents
		f.mu.Unlock()
		return f.qid, 0, nil
	}
	h, err := fs.OpenNode(f.c.ctx, node, acc|int(mode)&(syscall.O_TRUNC|syscall.O_APPEND))
	if err != nil {
		return p9.QID{}, 0, errno(err)
	}
	f.opened(h)
	qid := f.qid
	qid.Version = f.c.opened(f)
	return qid, 0, nil
}

// opened makes h the file's open handle.
func (f *file) opened(h fs.Handle) {
	ctx, stop := context.WithCancel(f.c.ctx)
	f.mu.Lock()
	f.h, f.ctx, f.stop, f.ops = h, ctx, stop, map[uint64]context.CancelFunc{}
	f.mu.Unlock()
	f.c.track(f)
}

// begin returns the context of one read or write, and the function that
// ends it. The context is cancelled by a Tflush of this request, a Tclunk of
// the fid, or the end of the connection.
func (f *file) begin() (context.Context, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	parent := f.ctx
	if parent == nil {
		parent = f.c.ctx
	}
	ctx, cancel := context.WithCancel(parent)
	if f.flushing > 0 {
		cancel() // flushed before it started
	}
	id := f.nextOp
	f.nextOp++
	if f.ops == nil {
		f.ops = map[uint64]context.CancelFunc{}
	}
	f.ops[id] = cancel
	return ctx, func() {
		f.mu.Lock()
		delete(f.ops, id)
		f.mu.Unlock()
		cancel()
	}
}

// flush cancels the reads and writes in progress, and those that start
// before unflush: a Tflush names one request, but a fid says no more than
// that one of its requests is meant, so all of them stop.
func (f *file) flush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flushing++
	for _, cancel := range f.ops {
		cancel()
	}
}

// unflush is called once a flushed request has been answered.
func (f *file) unflush() {
	f.mu.Lock()
	f.flushing--
	f.mu.Unlock()
}

// shutdown cancels every read and write, now and later (Tclunk).
func (f *file) shutdown() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stop != nil {
		f.stop()
	}
}

func (f *file) handle() (fs.Handle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.isDir:
		return nil, linux.EISDIR
	case f.h == nil:
		return nil, linux.EBADF
	}
	return f.h, nil
}

// ReadAt implements p9.File.
func (f *file) ReadAt(p []byte, off int64) (int, error) {
	h, err := f.handle()
	if err != nil {
		return 0, err
	}
	ctx, end := f.begin()
	defer end()
	n, err := h.ReadAt(ctx, p, off)
	return n, errno(err)
}

// WriteAt implements p9.File.
func (f *file) WriteAt(p []byte, off int64) (int, error) {
	h, err := f.handle()
	if err != nil {
		return 0, err
	}
	ctx, end := f.begin()
	defer end()
	n, err := h.WriteAt(ctx, p, off)
	return n, errno(err)
}

// Readdir implements p9.File. Offsets are indexes into the listing made at
// open, so a listing read in several calls is consistent; a Readdir at 0
// after the listing was served (rewinddir) lists afresh.
func (f *file) Readdir(offset uint64, count uint32) (p9.Dirents, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.isDir {
		return nil, linux.ENOTDIR
	}
	if offset == 0 && f.listed {
		ents, err := f.node.(fs.Dir).ReadDir(f.c.ctx)
		if err != nil {
			return nil, errno(err)
		}
		f.ents = ents
	}
	f.listed = true
	var out p9.Dirents
	size := 0
	for i := offset; i < uint64(len(f.ents)); i++ {
		e := f.ents[i]
		// qid[13] offset[8] type[1] name[s]: stop where p9 would cut.
		if size += 24 + len(e.Name); size > int(count) && len(out) > 0 {
			break
		}
		t := p9.TypeRegular
		switch {
		case e.Mode.IsDir():
			t = p9.TypeDir
		case e.Mode&os.ModeSymlink != 0:
			t = p9.TypeSymlink
		}
		q := p9.QID{Type: t, Path: fs.PathID(path.Join(f.path, e.Name))}
		out = append(out, p9.Dirent{QID: q, Offset: i + 1, Type: t, Name: e.Name})
	}
	return out, nil
}

// Close implements p9.File; it runs once the fid is clunked and no request
// uses it any more, inside p9's Tclunk handler, whose reply carries its
// error. A handle that holds work not yet done (fs.Flusher: a ctl line
// written without its newline) does it now, so that the client's close
// learns how it went. (p9 holds the connection's fid table while Close runs:
// other requests of the connection wait for such a command.)
func (f *file) Close() error {
	f.mu.Lock()
	h, stop := f.h, f.stop
	f.h = nil
	f.mu.Unlock()
	f.c.mu.Lock()
	delete(f.c.files, f)
	f.c.mu.Unlock()
	if stop != nil {
		stop()
	}
	var err error
	if h != nil {
		if fl, ok := h.(fs.Flusher); ok {
			err = fl.Flush(f.c.ctx)
		}
		f.c.untrack(f)
		_ = h.Close()
	}
	return errno(err)
}

// StatFS implements p9.File.
func (f *file) StatFS() (p9.FSStat, error) {
	return p9.FSStat{Type: 0x01021997 /* V9FS_MAGIC */, BlockSize: 4096, NameLength: 255}, nil
}

// FSync implements p9.File: there is nothing to sync.
func (f *file) FSync() error { return nil }

// Renamed implements p9.File. p9 calls it from its rename handlers, which
// never run: the connection serves renames itself and moves its files
// (serverConn.moved).
func (f *file) Renamed(p9.File, string) {}

// The tree is changed through ctl files; only directories that implement
// the fs interfaces for it (fs.HostDir, a volume's data) take creates,
// removes and renames. Elsewhere they answer EPERM. Hard links and device
// nodes are refused everywhere.

// Create implements p9.File through fs.Creator: the new file is open.
func (f *file) Create(name string, flags p9.OpenFlags, perm p9.FileMode, uid p9.UID, gid p9.GID) (p9.File, p9.QID, uint32, error) {
	node, p := f.at()
	c, ok := node.(fs.Creator)
	if !ok {
		return nil, p9.QID{}, 0, linux.EPERM
	}
	child, h, err := c.Create(withOwner(f.c.ctx, uid, gid), name, int(flags.Mode())|int(flags)&(syscall.O_TRUNC|syscall.O_EXCL), perm.OSMode().Perm()|fs.SpecialMode(uint32(perm)))
	if err != nil {
		return nil, p9.QID{}, 0, errno(err)
	}
	nf := f.c.newFile(path.Join(p, name), child)
	nf.opened(h)
	qid := nf.qid
	qid.Version = f.c.opened(nf)
	return nf, qid, 0, nil
}

// Mkdir implements p9.File through fs.Mkdirer.
func (f *file) Mkdir(name string, perm p9.FileMode, uid p9.UID, gid p9.GID) (p9.QID, error) {
	node, p := f.at()
	m, ok := node.(fs.Mkdirer)
	if !ok {
		return p9.QID{}, linux.EPERM
	}
	child, err := m.Mkdir(withOwner(f.c.ctx, uid, gid), name, perm.OSMode().Perm()|fs.SpecialMode(uint32(perm))&(os.ModeSetgid|os.ModeSticky))
	if err != nil {
		return p9.QID{}, errno(err)
	}
	return qidOf(f.c.ctx, path.Join(p, name), child), nil
}

// Symlink implements p9.File through fs.Symlinker.
func (f *file) Symlink(target, name string, uid p9.UID, gid p9.GID) (p9.QID, error) {
	node, p := f.at()
	s, ok := node.(fs.Symlinker)
	if !ok {
		return p9.QID{}, linux.EPERM
	}
	child, err := s.Symlink(withOwner(f.c.ctx, uid, gid), target, name)
	if err != nil {
		return p9.QID{}, errno(err)
	}
	return qidOf(f.c.ctx, path.Join(p, name), child), nil
}

// Readlink implements p9.File through fs.Readlinker.
func (f *file) Readlink() (string, error) {
	node, _ := f.at()
	l, ok := node.(fs.Readlinker)
	if !ok {
		return "", linux.EINVAL
	}
	target, err := l.Readlink(f.c.ctx)
	return target, errno(err)
}

// Link implements p9.File: EPERM.
func (f *file) Link(p9.File, string) error { return linux.EPERM }

// Mknod implements p9.File: EPERM.
func (f *file) Mknod(string, p9.FileMode, uint32, uint32, p9.UID, p9.GID) (p9.QID, error) {
	return p9.QID{}, linux.EPERM
}

// atRemoveDir is unlinkat's AT_REMOVEDIR.
const atRemoveDir = 0x200

// UnlinkAt implements p9.File through fs.Remover.
func (f *file) UnlinkAt(name string, flags uint32) error {
	node, _ := f.at()
	r, ok := node.(fs.Remover)
	if !ok {
		return linux.EPERM
	}
	return errno(r.Remove(f.c.ctx, name, flags&atRemoveDir != 0))
}

// RenameAt implements p9.File. p9 never calls it: the connection serves
// renames itself (serverConn.serveRename).
func (f *file) RenameAt(string, p9.File, string) error { return linux.EPERM }

// Rename implements p9.File; as RenameAt, p9 never calls it.
func (f *file) Rename(p9.File, string) error { return linux.EPERM }

// withOwner returns ctx carrying the uid and gid a client sent with a
// create (fs.Owner); p9 gives NoUID for Tlcreate, Tmkdir and Tsymlink,
// whose messages carry a gid only, and the uid of the 9P2000.u forms.
func withOwner(ctx context.Context, uid p9.UID, gid p9.GID) context.Context {
	o := fs.Owner{UID: uint32(uid), GID: uint32(gid), HasUID: uid.Ok(), HasGID: gid.Ok()}
	if !o.HasUID && !o.HasGID {
		return ctx
	}
	return fs.WithOwner(ctx, o)
}
