// Package ninep serves an enginefs tree (an fs.Dir) over 9P2000.L through
// github.com/hugelgupf/p9, and is the client dctl uses to reach it.
//
// Server side: [Listen] opens `unix:PATH` (mode 0600) or `tcp:HOST:PORT`
// (loopback only; other addresses will need TLS) and [Serve] serves a root
// on every connection accepted. Client side: [Dial] returns an fs.Client
// over one connection.
//
// What the adapter adds to p9, and why:
//
//   - Each connection has its own context, cancelled when the client goes
//     away or Serve's ctx is done: p9's File methods take no context and a
//     blocked ReadAt (a wait file) would otherwise keep the connection open
//     for ever.
//   - Tflush cancels the read or write it names (p9's own Tflush only waits
//     for it), then Rflush follows that request's reply. Dial's client sends
//     Tflush when the ctx of a read or write is done, so Ctrl-C in dctl
//     stops a blocked read on the server too.
//   - Tauth is answered Rlerror(ENOENT), which Debian's diod clients
//     (diodcat, diodls) take as "no authentication needed"; p9's ENOSYS
//     stops them. Authentication belongs to the transport (unix socket
//     permissions, later TLS client certificates).
//   - Every error from the tree goes through fs.Errno, as a linux.Errno p9
//     sends unchanged.
//   - QID paths are fs.PathID of the path, the same numbers FUSE uses as
//     inodes, or a host file's identity (fs.Attr.Ino) in a writable
//     directory. Readdir offsets are indexes into a listing made at open.
//   - Tlcreate, Tmkdir, Tsymlink, Tunlinkat, Trenameat, Treadlink and
//     Tsetattr reach the nodes that take them (fs.HostDir); others answer
//     EPERM. p9 renames under a lock of the connection that waits for its
//     blocked reads: rename over a connection that has no read of a wait
//     or stream file pending (dctl's own connection never renames).
package ninep
