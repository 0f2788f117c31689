// Package fs defines the enginefs file tree once, over a small node interface,
// so that every transport (FUSE in fs/fusefs, 9P2000.L in fs/ninep, the REST
// bridge in process) serves the same tree without knowing what is in it.
//
// A tree is made of [Node] values: a [Dir] looks up and lists children, a
// [File] is opened into a [Handle] that reads and writes at offsets. The kit in
// this package builds the usual kinds of synthetic files from plain functions:
//
//   - [ReadFile]: content computed at open (a per-open snapshot), e.g. status.
//   - [CtlFile]: each written line is a command; a read returns the reply of the
//     last command written on the same open file; failures also land in the
//     directory's [ErrFile].
//   - [BlockingFile]: the first read blocks until the content exists, e.g. wait.
//   - [DocFile]: a whole document (JSON) read as a snapshot and written back.
//   - [HostFile]: a regular file on the host that grows, e.g. log; it reports its
//     true size so that tail -f follows it.
//   - [StreamFile]: a pipe-like file, each open with its own [Stream] read
//     once until EOF, e.g. stdout; [SinkFile]: writes go elsewhere as they
//     come, e.g. stdin.
//   - [StaticDir] and [DirFunc]: fixed and computed directories.
//   - [HostDir]: a real directory of the host served read-write (a volume's
//     data), confined to it (os.Root: no symbolic link or ".." leads out).
//
// The tree is changed through ctl files. Only nodes that implement the
// optional interfaces [Creator], [Mkdirer], [Symlinker], [Remover],
// [Renamer], [Readlinker] and [AttrSetter] (HostDir's) take creates,
// removes, renames and attribute changes; the transports find them by type
// assertion and answer EPERM elsewhere. [WriteClient] is the client side.
//
// Adding a file to the tree is adding a Node; no transport code changes.
//
// Errors returned by nodes carry an errdefs class; [Errno] is the single place
// that turns a class into the errno a transport sends. On the client side,
// [Client] opens files by path through any transport, and [Command] writes one
// ctl line and returns the daemon's message on failure.
package fs
