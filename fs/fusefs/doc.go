// Package fusefs serves an enginefs tree (an fs.Dir) as a FUSE file system
// through github.com/hanwen/go-fuse/v2, so that shell tools work on it:
// `echo start > ctl`, `cat status`, `ls`, `tail -f log`.
//
// [Mount] mounts a root at a directory and returns a [Server]; Unmount and Wait
// end it. The adapter is thin, and each choice follows from the tree being
// live:
//
//   - Every open is FOPEN_DIRECT_IO, so every read reaches the node and sees
//     fresh content; sizes come from fs.Attr (HostFile's true size lets tail -f
//     follow a growing log).
//   - Entry, attribute and negative timeouts are 0: objects appear and
//     disappear all the time, so the kernel asks again each time.
//   - Inode numbers are fs.PathID of the path. go-fuse keeps one Inode per
//     number, so a lookup stores the node it just resolved in the Inode it
//     returns: an object removed and re-created under the same name is served
//     as the new object, not the old one.
//   - The kernel delivers `echo cmd > ctl` as OPEN then SETATTR(size=0): a
//     size goes to the handle's fs.Truncater, else 0 is a no-op and any other
//     size is EINVAL; mode, owner and times go to an fs.AttrSetter and are
//     accepted and ignored elsewhere.
//   - CREATE, MKDIR, SYMLINK, UNLINK, RMDIR, RENAME and READLINK reach the
//     nodes that take them (fs.HostDir, a volume's data); elsewhere they
//     answer EPERM. A host file's inode number is its own identity
//     (fs.Attr.Ino), so a renamed file keeps its Inode, which Rename points
//     at the new name.
//   - Every error goes through fs.Errno. Node calls get go-fuse's context,
//     whose Done closes on a FUSE INTERRUPT (Ctrl-C on a blocked cat), or
//     when the server is unmounted.
//
// A process that serves a mount must not start a child whose working
// directory is on it (os/exec's Cmd.Dir): the chdir runs in a vfork child
// that holds one of the parent's threads, and a garbage collection in the
// parent then waits for that thread for ever while the child waits for the
// parent to answer. Reading its own mount works (the tests do), but a Go
// reader retries the EINTR that each of its preemption signals can bring.
package fusefs
