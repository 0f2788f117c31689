package fs

import (
	"context"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/enginefs/enginefs/errdefs"
)

// Client is a tree seen from outside, by path: over 9P (ninep.Dial), through a
// mounted tree (Mount), or in process (Local, which the REST bridge uses).
// Names are slash-separated and relative to the root. Errors carry the errno
// the transport returned (a syscall.Errno), which ClassOf maps back to a class.
type Client interface {
	Open(ctx context.Context, name string, flag int) (Handle, error)
	ReadDir(ctx context.Context, name string) ([]DirEntry, error)
	Close() error
}

// Walk resolves a slash-separated path from root.
func Walk(ctx context.Context, root Node, name string) (Node, error) {
	n := root
	for _, elem := range strings.Split(path.Clean("/"+name), "/") {
		if elem == "" {
			continue
		}
		d, ok := n.(Dir)
		if !ok {
			return nil, errdefs.NotFound("%s: not a directory", name)
		}
		var err error
		if n, err = d.Lookup(ctx, elem); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// Local returns a Client over a tree in the same process. Errors keep their
// class; no errno round trip is needed.
func Local(root Dir) Client { return localClient{root} }

type localClient struct{ root Dir }

func (c localClient) Open(ctx context.Context, name string, flag int) (Handle, error) {
	n, err := Walk(ctx, c.root, name)
	if err != nil {
		return nil, err
	}
	return OpenNode(ctx, n, flag)
}

func (c localClient) ReadDir(ctx context.Context, name string) ([]DirEntry, error) {
	n, err := Walk(ctx, c.root, name)
	if err != nil {
		return nil, err
	}
	d, ok := n.(Dir)
	if !ok {
		return nil, errdefs.Invalid("%s: not a directory", name)
	}
	return d.ReadDir(ctx)
}

func (localClient) Close() error { return nil }

// Mount returns a Client over a tree mounted at dir (FUSE or a kernel 9P
// mount). Reads that block cannot be cancelled through ctx.
func Mount(dir string) Client { return mountClient(dir) }

type mountClient string

func (m mountClient) Open(_ context.Context, name string, flag int) (Handle, error) {
	f, err := os.OpenFile(filepath.Join(string(m), filepath.FromSlash(name)), flag, 0)
	if err != nil {
		return nil, err
	}
	return osHandle{f}, nil
}

func (m mountClient) ReadDir(_ context.Context, name string) ([]DirEntry, error) {
	ents, err := os.ReadDir(filepath.Join(string(m), filepath.FromSlash(name)))
	if err != nil {
		return nil, err
	}
	out := make([]DirEntry, len(ents))
	for i, e := range ents {
		out[i] = DirEntry{Name: e.Name(), Mode: e.Type()}
	}
	return out, nil
}

func (mountClient) Close() error { return nil }

type osHandle struct{ f *os.File }

func (h osHandle) ReadAt(_ context.Context, p []byte, off int64) (int, error) {
	return h.f.ReadAt(p, off)
}
func (h osHandle) WriteAt(_ context.Context, p []byte, off int64) (int, error) {
	return h.f.WriteAt(p, off)
}
func (h osHandle) Close() error { return h.f.Close() }

// ReadAll reads a whole file from offset 0.
func ReadAll(ctx context.Context, c Client, name string) ([]byte, error) {
	h, err := c.Open(ctx, name, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return ReadHandle(ctx, h)
}

// ReadHandle reads an open handle from offset 0 to its end.
func ReadHandle(ctx context.Context, h Handle) ([]byte, error) {
	var out []byte
	buf := make([]byte, 32*1024)
	for {
		n, err := h.ReadAt(ctx, buf, int64(len(out)))
		out = append(out, buf[:n]...)
		if err == io.EOF || (err == nil && n == 0) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// Command writes one line to the ctl file at name and returns the command's
// reply. On failure the error has the class of the errno and the daemon's full
// message, read back from the same open file.
func Command(ctx context.Context, c Client, name, line string) (string, error) {
	h, err := c.Open(ctx, name, os.O_RDWR)
	if err != nil {
		return "", err
	}
	defer h.Close()
	return WriteCommand(ctx, h, line)
}

// WriteCommand writes one line to an open ctl handle and returns the reply,
// or an error with the daemon's message read back from the same handle.
func WriteCommand(ctx context.Context, h Handle, line string) (string, error) {
	if _, werr := h.WriteAt(ctx, []byte(line+"\n"), 0); werr != nil {
		msg, rerr := ReadHandle(ctx, h)
		if rerr != nil || len(msg) == 0 {
			return "", werr
		}
		return "", RemoteError(werr, strings.TrimSpace(string(msg)))
	}
	reply, err := ReadHandle(ctx, h)
	return strings.TrimSpace(string(reply)), err
}

// RemoteError returns an error with the daemon's message text and the class of
// the errno inside err (if any), so errors.Is works on the client as it does in
// the daemon.
func RemoteError(err error, msg string) error {
	if errdefs.Class(err) != nil {
		return errdefs.New(errdefs.Class(err), "%s", msg)
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if class := ClassOf(errno); class != nil {
			return errdefs.New(class, "%s", msg)
		}
	}
	return errors.New(msg)
}

// WriteClient is a Client that can change the directories of a tree that
// allow it (fs.HostDir: a volume's data), with what cp, mv, rm, mkdir,
// ln -s, chmod, touch and truncate need. Stat does not follow a final
// symbolic link. The 9P client (ninep.Dial), Mount and Local are
// WriteClients.
type WriteClient interface {
	Client
	Stat(ctx context.Context, name string) (Attr, error)
	Create(ctx context.Context, name string, flag int, perm os.FileMode) (Handle, error)
	Mkdir(ctx context.Context, name string, perm os.FileMode) error
	// Remove removes a file, a symbolic link or an empty directory.
	Remove(ctx context.Context, name string) error
	Rename(ctx context.Context, oldname, newname string) error
	Symlink(ctx context.Context, target, name string) error
	Readlink(ctx context.Context, name string) (string, error)
	SetAttr(ctx context.Context, name string, a SetAttr) error
}

var (
	_ WriteClient = localClient{}
	_ WriteClient = mountClient("")
)

// parentOf splits a path into its directory node and its last name.
func (c localClient) parentOf(ctx context.Context, name string) (Dir, string, error) {
	dir, base := path.Split(path.Clean("/" + name))
	n, err := Walk(ctx, c.root, dir)
	if err != nil {
		return nil, "", err
	}
	d, ok := n.(Dir)
	if !ok || base == "" {
		return nil, "", errdefs.Invalid("%s: not a name in a directory", name)
	}
	return d, base, nil
}

// notSupported is what a node without the operation answers, as the
// transports do.
func notSupported(op, name string) error {
	return &os.PathError{Op: op, Path: name, Err: syscall.EPERM}
}

func (c localClient) Stat(ctx context.Context, name string) (Attr, error) {
	n, err := Walk(ctx, c.root, name)
	if err != nil {
		return Attr{}, err
	}
	return n.Attr(ctx)
}

func (c localClient) Create(ctx context.Context, name string, flag int, perm os.FileMode) (Handle, error) {
	d, base, err := c.parentOf(ctx, name)
	if err != nil {
		return nil, err
	}
	cr, ok := d.(Creator)
	if !ok {
		return nil, notSupported("create", name)
	}
	_, h, err := cr.Create(ctx, base, flag, perm)
	return h, err
}

func (c localClient) Mkdir(ctx context.Context, name string, perm os.FileMode) error {
	d, base, err := c.parentOf(ctx, name)
	if err != nil {
		return err
	}
	m, ok := d.(Mkdirer)
	if !ok {
		return notSupported("mkdir", name)
	}
	_, err = m.Mkdir(ctx, base, perm)
	return err
}

func (c localClient) Remove(ctx context.Context, name string) error {
	d, base, err := c.parentOf(ctx, name)
	if err != nil {
		return err
	}
	r, ok := d.(Remover)
	if !ok {
		return notSupported("remove", name)
	}
	n, err := d.Lookup(ctx, base)
	if err != nil {
		return err
	}
	return r.Remove(ctx, base, ModeOf(n).IsDir())
}

func (c localClient) Rename(ctx context.Context, oldname, newname string) error {
	d, base, err := c.parentOf(ctx, oldname)
	if err != nil {
		return err
	}
	nd, nbase, err := c.parentOf(ctx, newname)
	if err != nil {
		return err
	}
	r, ok := d.(Renamer)
	if !ok {
		return notSupported("rename", oldname)
	}
	return r.Rename(ctx, base, nd, nbase)
}

func (c localClient) Symlink(ctx context.Context, target, name string) error {
	d, base, err := c.parentOf(ctx, name)
	if err != nil {
		return err
	}
	s, ok := d.(Symlinker)
	if !ok {
		return notSupported("symlink", name)
	}
	_, err = s.Symlink(ctx, target, base)
	return err
}

func (c localClient) Readlink(ctx context.Context, name string) (string, error) {
	n, err := Walk(ctx, c.root, name)
	if err != nil {
		return "", err
	}
	l, ok := n.(Readlinker)
	if !ok {
		return "", &os.PathError{Op: "readlink", Path: name, Err: syscall.EINVAL}
	}
	return l.Readlink(ctx)
}

func (c localClient) SetAttr(ctx context.Context, name string, a SetAttr) error {
	n, err := Walk(ctx, c.root, name)
	if err != nil {
		return err
	}
	s, ok := n.(AttrSetter)
	if !ok {
		return notSupported("setattr", name)
	}
	return s.SetAttr(ctx, a)
}

func (m mountClient) path(name string) string {
	return filepath.Join(string(m), filepath.FromSlash(name))
}

func (m mountClient) Stat(_ context.Context, name string) (Attr, error) {
	fi, err := os.Lstat(m.path(name))
	if err != nil {
		return Attr{}, err
	}
	a := Attr{Mode: fi.Mode(), Size: fi.Size(), Mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		a.UID, a.GID, a.Ino = st.Uid, st.Gid, st.Ino
	}
	return a, nil
}

func (m mountClient) Create(_ context.Context, name string, flag int, perm os.FileMode) (Handle, error) {
	f, err := os.OpenFile(m.path(name), flag|os.O_CREATE, perm)
	if err != nil {
		return nil, err
	}
	return osHandle{f}, nil
}

func (m mountClient) Mkdir(_ context.Context, name string, perm os.FileMode) error {
	return os.Mkdir(m.path(name), perm)
}

func (m mountClient) Remove(_ context.Context, name string) error { return os.Remove(m.path(name)) }

func (m mountClient) Rename(_ context.Context, oldname, newname string) error {
	return os.Rename(m.path(oldname), m.path(newname))
}

func (m mountClient) Symlink(_ context.Context, target, name string) error {
	return os.Symlink(target, m.path(name))
}

func (m mountClient) Readlink(_ context.Context, name string) (string, error) {
	return os.Readlink(m.path(name))
}

func (m mountClient) SetAttr(_ context.Context, name string, a SetAttr) error {
	p := m.path(name)
	if a.Size != nil {
		if err := os.Truncate(p, *a.Size); err != nil {
			return err
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
		if err := os.Lchown(p, uid, gid); err != nil {
			return err
		}
	}
	if a.Mode != nil {
		if err := os.Chmod(p, *a.Mode); err != nil {
			return err
		}
	}
	if a.Atime != nil || a.Mtime != nil {
		var at, mt time.Time
		if a.Atime != nil {
			at = *a.Atime
		}
		if a.Mtime != nil {
			mt = *a.Mtime
		}
		return os.Chtimes(p, at, mt)
	}
	return nil
}
