package fs

import (
	"context"
	"os"
	"time"
)

// Attr describes a node. Mode holds the type bits (os.ModeDir for directories)
// and the permissions; a transport derives everything else from it.
type Attr struct {
	Mode  os.FileMode
	Size  int64
	Mtime time.Time
}

// Node is any entry of the tree.
//
// Nodes are cheap values created on every lookup; they hold no per-open state,
// so a transport may cache or drop them freely. A node whose object has gone
// answers every call with an errdefs.ErrNotFound error.
type Node interface {
	// Attr returns the node's attributes. It is called often (each stat,
	// each lookup by FUSE) and must not block.
	Attr(ctx context.Context) (Attr, error)
}

// DirEntry names one child of a directory.
type DirEntry struct {
	Name string
	Mode os.FileMode // type bits only are meaningful
}

// Dir is a directory node. Lookup and ReadDir may be called concurrently.
type Dir interface {
	Node
	// Lookup returns the named child or an errdefs.ErrNotFound error. A
	// directory may resolve names it does not list (containers resolve
	// names and id prefixes besides the ids they list).
	Lookup(ctx context.Context, name string) (Node, error)
	// ReadDir lists the children, in a stable order.
	ReadDir(ctx context.Context) ([]DirEntry, error)
}

// File is a node that can be opened.
type File interface {
	Node
	// Open returns a handle for one open of the file. flag holds the
	// os.O_* access bits the client asked for; a file opened for writing
	// that cannot be written answers errdefs.ErrPermission.
	Open(ctx context.Context, flag int) (Handle, error)
}

// Handle is one open of a File: the per-open state lives here (the snapshot a
// read returns, the reply of the last ctl command).
//
// ReadAt and WriteAt may block (a wait file, a ctl command that starts a
// container); they must return when ctx is done, which is how a transport
// passes on a FUSE interrupt, a closed 9P connection or a daemon shutdown.
// ReadAt returns io.EOF at the end of the content. A transport calls the
// methods of one handle from several goroutines, so handles lock what they share.
type Handle interface {
	ReadAt(ctx context.Context, p []byte, off int64) (int, error)
	WriteAt(ctx context.Context, p []byte, off int64) (int, error)
	// Close releases the handle. Its error reaches nobody (FUSE release and
	// 9P clunk have no reply worth reading), so work with a result happens
	// in WriteAt, never here.
	Close() error
}

// Truncater is implemented by handles that accept a truncate. A shell
// redirection (`echo start > ctl`) opens with O_TRUNC, which FUSE delivers as
// a separate SETATTR(size=0) and 9P as Tsetattr; handles that do not implement
// Truncater treat a truncate to zero as a no-op and refuse any other size.
type Truncater interface {
	Truncate(ctx context.Context, size int64) error
}
