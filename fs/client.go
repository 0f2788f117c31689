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
