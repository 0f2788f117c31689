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
	// UID and GID own a node of a real directory (HostDir); synthetic
	// nodes are root's.
	UID, GID uint32
	// Ino, when not 0, is the node's identity (a host file's device and
	// inode), which transports use instead of the path's (PathID) so that
	// a file keeps its number when renamed.
	Ino uint64
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

// The optional interfaces below make a directory writable by name: a
// transport finds them by type assertion and answers EPERM where a node has
// none (the synthetic tree is changed through ctl files only). HostDir
// implements them all, over a real directory.

// Creator is a Dir in which regular files can be created (FUSE CREATE, 9P
// Tlcreate). The file is created and opened at once, as open(2) with O_CREAT
// does; flag holds the os.O_* bits of the open.
type Creator interface {
	Create(ctx context.Context, name string, flag int, perm os.FileMode) (Node, Handle, error)
}

// Mkdirer is a Dir in which directories can be made.
type Mkdirer interface {
	Mkdir(ctx context.Context, name string, perm os.FileMode) (Node, error)
}

// Symlinker is a Dir in which symbolic links can be made.
type Symlinker interface {
	Symlink(ctx context.Context, target, name string) (Node, error)
}

// Remover is a Dir whose names can be removed: a file or a symbolic link
// (unlink), or with dir an empty directory (rmdir).
type Remover interface {
	Remove(ctx context.Context, name string, dir bool) error
}

// Renamer is a Dir whose names can be moved, to newName in newDir (which
// may be the same directory), replacing what is there as rename(2) does. A
// newDir of another kind or tree is an EXDEV error.
type Renamer interface {
	Rename(ctx context.Context, oldName string, newDir Dir, newName string) error
}

// Readlinker is a symbolic link: a node whose Attr mode has os.ModeSymlink.
type Readlinker interface {
	Readlink(ctx context.Context) (string, error)
}

// AttrSetter is a node whose attributes can be changed (chmod, chown,
// truncate, utimes). Nil fields are left as they are.
type AttrSetter interface {
	SetAttr(ctx context.Context, a SetAttr) error
}

// SetAttr is a change of attributes.
type SetAttr struct {
	Mode         *os.FileMode // permission bits
	Size         *int64
	UID, GID     *uint32
	Atime, Mtime *time.Time
}
