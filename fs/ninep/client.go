package ninep

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/hugelgupf/p9/linux"
	"github.com/hugelgupf/p9/p9"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

const (
	// msize is the message size the client asks for.
	msize = 256 << 10
	// ioUnit bounds one Tread or Twrite, well inside msize, so that each
	// I/O call is one request whose tag it can claim.
	ioUnit = msize / 2
)

type client struct {
	cc   *clientConn
	p9   *p9.Client
	root p9.File
}

var _ fs.Client = (*client)(nil)

// Dial connects to the 9P server at addr (`unix:PATH`, or `tcp:HOST:PORT`
// on loopback; any other address is an errdefs.ErrInvalid error) and attaches
// to its root. ctx bounds the connection and the handshake, not the client's
// use. The client is safe for concurrent use: a goroutine blocked reading a
// wait file does not hold up another writing to a ctl file. Besides the
// fs.Client methods it has Stat(ctx, name) (fs.Attr, error), for a caller
// that asserts it (fstest.StatClient names that interface).
//
// Errors from the server come back as *os.PathError values holding the
// syscall.Errno the server sent, which fs.ClassOf turns back into a class; a
// read or write cancelled through its ctx returns an error wrapping
// ctx.Err(), after the server has been told (Tflush); a broken connection is
// an errdefs.ErrUnavailable error.
func Dial(ctx context.Context, addr string) (fs.Client, error) {
	network, address, err := splitAddr(addr)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, errdefs.Unavailable("ninep: dial %s: %w", addr, err)
	}
	// p9's handshake has no context: closing the connection ends it.
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	cc := newClientConn(nc)
	pc, err := p9.NewClient(cc, p9.WithMessageSize(msize))
	var root p9.File
	if err == nil {
		root, err = pc.Attach("")
	}
	if !stop() {
		err = ctx.Err()
	}
	if err != nil {
		nc.Close()
		return nil, errdefs.Unavailable("ninep: attach to %s: %w", addr, err)
	}
	return &client{cc: cc, p9: pc, root: root}, nil
}

// pathError turns what p9 returned into the error a Client returns.
func pathError(op, name string, err error) error {
	var le linux.Errno
	switch {
	case err == nil, err == io.EOF:
		return err
	case errors.As(err, &le):
		return &os.PathError{Op: op, Path: name, Err: syscall.Errno(le)}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, io.ErrShortWrite):
		return &os.PathError{Op: op, Path: name, Err: err}
	}
	return errdefs.Unavailable("ninep: %s %s: %w", op, name, err)
}

// walk walks to name into a new fid, and returns it with its QID: one
// Twalk for up to 16 elements (MAXWELEM), as the server walks them one by
// one and fails the whole walk when one fails.
func (c *client) walk(name string) (p9.File, p9.QID, error) {
	cur, qid := c.root, p9.QID{Type: p9.TypeDir}
	elems := strings.Split(strings.TrimPrefix(path.Clean("/"+name), "/"), "/")
	if elems[0] == "" {
		elems = nil
	}
	if len(elems) == 0 {
		_, f, err := c.root.Walk(nil)
		return f, qid, err
	}
	for len(elems) > 0 {
		step := elems[:min(len(elems), maxWalk)]
		elems = elems[len(step):]
		qids, next, err := cur.Walk(step)
		if cur != c.root {
			cur.Close()
		}
		if err != nil {
			return nil, p9.QID{}, err
		}
		if len(qids) != len(step) {
			next.Close()
			return nil, p9.QID{}, linux.ENOENT
		}
		cur, qid = next, qids[len(qids)-1]
	}
	return cur, qid, nil
}

// maxWalk is the most names one Twalk carries (9P's MAXWELEM).
const maxWalk = 16

// openFlags turns os.O_* flags into Tlopen's (Linux's open flags).
func openFlags(flag int) p9.OpenFlags {
	var f p9.OpenFlags
	switch flag & syscall.O_ACCMODE {
	case os.O_WRONLY:
		f = p9.WriteOnly
	case os.O_RDWR:
		f = p9.ReadWrite
	default:
		f = p9.ReadOnly
	}
	return f | p9.OpenFlags(flag&(syscall.O_TRUNC|syscall.O_APPEND))
}

// Open implements fs.Client. A directory cannot be opened (EISDIR).
func (c *client) Open(_ context.Context, name string, flag int) (fs.Handle, error) {
	f, qid, err := c.walk(name)
	if err != nil {
		return nil, pathError("open", name, err)
	}
	if qid.Type&p9.TypeDir != 0 {
		f.Close()
		return nil, pathError("open", name, linux.EISDIR)
	}
	if _, _, err := f.Open(openFlags(flag)); err != nil {
		f.Close()
		return nil, pathError("open", name, err)
	}
	return &handle{c: c, f: f, name: name}, nil
}

// ReadDir implements fs.Client.
func (c *client) ReadDir(_ context.Context, name string) ([]fs.DirEntry, error) {
	f, qid, err := c.walk(name)
	if err != nil {
		return nil, pathError("readdir", name, err)
	}
	defer f.Close()
	if qid.Type&p9.TypeDir == 0 {
		return nil, pathError("readdir", name, linux.ENOTDIR)
	}
	if _, _, err := f.Open(p9.ReadOnly); err != nil {
		return nil, pathError("readdir", name, err)
	}
	var out []fs.DirEntry
	var off uint64
	for {
		ents, err := f.Readdir(off, msize-64)
		if err != nil && err != io.EOF {
			return nil, pathError("readdir", name, err)
		}
		if len(ents) == 0 {
			return out, nil
		}
		for _, e := range ents {
			off = e.Offset
			if e.Name == "." || e.Name == ".." {
				continue
			}
			var m os.FileMode
			switch {
			case e.Type&p9.TypeDir != 0:
				m = os.ModeDir
			case e.Type&p9.TypeSymlink != 0:
				m = os.ModeSymlink
			}
			out = append(out, fs.DirEntry{Name: e.Name, Mode: m})
		}
	}
}

// Stat returns the attributes of the node at name.
func (c *client) Stat(_ context.Context, name string) (fs.Attr, error) {
	f, _, err := c.walk(name)
	if err != nil {
		return fs.Attr{}, pathError("stat", name, err)
	}
	defer f.Close()
	qid, _, a, err := f.GetAttr(p9.AttrMask{Mode: true, Size: true, MTime: true, UID: true, GID: true})
	if err != nil {
		return fs.Attr{}, pathError("stat", name, err)
	}
	return fs.Attr{
		Mode:  osMode(a.Mode),
		Size:  int64(a.Size),
		Mtime: time.Unix(int64(a.MTimeSeconds), int64(a.MTimeNanoSeconds)),
		UID:   uint32(a.UID),
		GID:   uint32(a.GID),
		Ino:   qid.Path,
	}, nil
}

// Close implements fs.Client: it closes the connection, which fails every
// call still waiting and releases everything the server held for it.
func (c *client) Close() error { return c.p9.Close() }

// io runs one Tread or Twrite (fn), cancelling it through Tflush if ctx is
// done before its reply.
func (c *client) io(ctx context.Context, fn func() (int, error)) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	type result struct {
		n   int
		err error
	}
	res := make(chan result, 1)
	cl := c.cc.startClaim()
	go func() {
		n, err := fn()
		res <- result{n, err}
	}()
	var tag uint16
	select {
	case tag = <-cl.tag:
		c.cc.endClaim()
	case r := <-res: // failed before sending
		c.cc.endClaim()
		return r.n, r.err
	}
	select {
	case r := <-res:
		return r.n, r.err
	case <-ctx.Done():
	}
	c.cc.flush(cl, tag)
	r := <-res // the server answers a flushed request (or we make it up)
	if r.err != nil && !errors.Is(r.err, io.EOF) {
		return r.n, ctx.Err()
	}
	return r.n, r.err
}

// handle is one open file on the server (one fid).
type handle struct {
	c    *client
	f    p9.File
	name string
}

// ReadAt implements fs.Handle. A read stops short at the end of what the
// server returned in one reply, and returns io.EOF at the end of the file.
func (h *handle) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	total := 0
	for total < len(p) {
		chunk, at := p[total:min(len(p), total+ioUnit)], off+int64(total)
		n, err := h.c.io(ctx, func() (int, error) { return h.f.ReadAt(chunk, at) })
		total += n
		if err != nil {
			return total, pathError("read", h.name, err)
		}
		if n < len(chunk) {
			break
		}
	}
	return total, nil
}

// WriteAt implements fs.Handle. Each ioUnit of p is one Twrite, so a ctl
// command longer than that would be cut.
func (h *handle) WriteAt(ctx context.Context, p []byte, off int64) (int, error) {
	total := 0
	for total < len(p) || len(p) == 0 {
		chunk, at := p[total:min(len(p), total+ioUnit)], off+int64(total)
		n, err := h.c.io(ctx, func() (int, error) { return h.f.WriteAt(chunk, at) })
		total += n
		if err != nil {
			return total, pathError("write", h.name, err)
		}
		if n < len(chunk) {
			return total, pathError("write", h.name, io.ErrShortWrite)
		}
		if len(p) == 0 {
			break
		}
	}
	return total, nil
}

// Truncate implements fs.Truncater: a Tsetattr of the size on the open
// fid, which the tree hands to the open file (fs.TruncateHandle).
func (h *handle) Truncate(ctx context.Context, size int64) error {
	_, err := h.c.io(ctx, func() (int, error) {
		return 0, h.f.SetAttr(p9.SetAttrMask{Size: true}, p9.SetAttr{Size: uint64(size)})
	})
	return pathError("truncate", h.name, err)
}

// Close implements fs.Handle: it clunks the fid.
func (h *handle) Close() error { return pathError("close", h.name, h.f.Close()) }

var _ fs.WriteClient = (*client)(nil)

// parent walks to the directory of name and returns it with the last name.
func (c *client) parent(name string) (p9.File, string, error) {
	dir, base := path.Split(path.Clean("/" + name))
	if base == "" {
		return nil, "", linux.EINVAL
	}
	f, _, err := c.walk(dir)
	return f, base, err
}

// Create implements fs.WriteClient (Tlcreate): the new file is open.
func (c *client) Create(_ context.Context, name string, flag int, perm os.FileMode) (fs.Handle, error) {
	d, base, err := c.parent(name)
	if err != nil {
		return nil, pathError("create", name, err)
	}
	// Tlcreate turns the directory's fid into the new file's.
	f, _, _, err := d.Create(base, openFlags(flag)|p9.OpenFlags(flag&syscall.O_EXCL), p9.ModeFromOS(perm.Perm())|p9.FileMode(fs.UnixSpecial(perm)), p9.NoUID, p9.NoGID)
	if err != nil {
		d.Close()
		return nil, pathError("create", name, err)
	}
	return &handle{c: c, f: f, name: name}, nil
}

// Mkdir implements fs.WriteClient.
func (c *client) Mkdir(_ context.Context, name string, perm os.FileMode) error {
	d, base, err := c.parent(name)
	if err != nil {
		return pathError("mkdir", name, err)
	}
	defer d.Close()
	_, err = d.Mkdir(base, p9.ModeFromOS(perm)|p9.FileMode(fs.UnixSpecial(perm)), p9.NoUID, p9.NoGID)
	return pathError("mkdir", name, err)
}

// Remove implements fs.WriteClient: unlink, or rmdir for a directory.
func (c *client) Remove(_ context.Context, name string) error {
	d, base, err := c.parent(name)
	if err != nil {
		return pathError("remove", name, err)
	}
	defer d.Close()
	err = d.UnlinkAt(base, 0)
	if errors.Is(err, linux.EISDIR) {
		err = d.UnlinkAt(base, 0x200) // AT_REMOVEDIR
	}
	return pathError("remove", name, err)
}

// Rename implements fs.WriteClient (Trenameat).
func (c *client) Rename(_ context.Context, oldname, newname string) error {
	od, obase, err := c.parent(oldname)
	if err != nil {
		return pathError("rename", oldname, err)
	}
	defer od.Close()
	nd, nbase, err := c.parent(newname)
	if err != nil {
		return pathError("rename", newname, err)
	}
	defer nd.Close()
	return pathError("rename", oldname, od.RenameAt(obase, nd, nbase))
}

// Symlink implements fs.WriteClient.
func (c *client) Symlink(_ context.Context, target, name string) error {
	d, base, err := c.parent(name)
	if err != nil {
		return pathError("symlink", name, err)
	}
	defer d.Close()
	_, err = d.Symlink(target, base, p9.NoUID, p9.NoGID)
	return pathError("symlink", name, err)
}

// Readlink implements fs.WriteClient.
func (c *client) Readlink(_ context.Context, name string) (string, error) {
	f, _, err := c.walk(name)
	if err != nil {
		return "", pathError("readlink", name, err)
	}
	defer f.Close()
	target, err := f.Readlink()
	return target, pathError("readlink", name, err)
}

// SetAttr implements fs.WriteClient (Tsetattr).
func (c *client) SetAttr(_ context.Context, name string, a fs.SetAttr) error {
	f, _, err := c.walk(name)
	if err != nil {
		return pathError("setattr", name, err)
	}
	defer f.Close()
	var valid p9.SetAttrMask
	var attr p9.SetAttr
	if a.Mode != nil {
		valid.Permissions, attr.Permissions = true, p9.ModeFromOS(*a.Mode)|p9.FileMode(fs.UnixSpecial(*a.Mode))
	}
	if a.Size != nil {
		valid.Size, attr.Size = true, uint64(*a.Size)
	}
	if a.UID != nil {
		valid.UID, attr.UID = true, p9.UID(*a.UID)
	}
	if a.GID != nil {
		valid.GID, attr.GID = true, p9.GID(*a.GID)
	}
	if a.Atime != nil {
		valid.ATime, valid.ATimeNotSystemTime = true, true
		attr.ATimeSeconds, attr.ATimeNanoSeconds = uint64(a.Atime.Unix()), uint64(a.Atime.Nanosecond())
	}
	if a.Mtime != nil {
		valid.MTime, valid.MTimeNotSystemTime = true, true
		attr.MTimeSeconds, attr.MTimeNanoSeconds = uint64(a.Mtime.Unix()), uint64(a.Mtime.Nanosecond())
	}
	return pathError("setattr", name, f.SetAttr(valid, attr))
}

// osMode is p9's OSMode with the setuid, setgid and sticky bits where
// os.FileMode keeps them (p9's leaves the sticky bit as 01000).
func osMode(m p9.FileMode) os.FileMode {
	return m.OSMode()&^0o7777 | os.FileMode(m&0o777) | fs.SpecialMode(uint32(m))
}
