package ninep

import (
	"context"
	"path"
	"strings"
	"syscall"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

// Renames are served by the connection, not by p9 (see serverConn). p9
// v0.3.0 renames under the write side of its rename lock, and every request
// holds the read side while the file's method runs: a Tread of a blocking
// file (wait, events, log follow) holds it until it returns, so a rename on
// the same connection would wait for it, and every request after the
// rename would wait behind it. The connection knows the path of each fid
// from the replies that made it (trackFid), renames through the tree, and
// then does what p9's rename does to its fids: every file at the old path
// or below it is moved to the new one (moved).

// trackFid notes what the reply of type typ to req does to the fids. c.mu
// is held.
func (c *serverConn) trackFid(req *request, typ byte) {
	switch {
	case req.typ == msgTattach && typ == msgRattach:
		c.fids[req.fid] = "/"
	case req.typ == msgTwalk && typ == msgRwalk, req.typ == msgTwalkgetattr && typ == msgRwalkgetattr:
		if p, ok := c.fids[req.fid]; ok {
			c.fids[req.newfid] = path.Join(append([]string{p}, req.names...)...)
		}
	case opens(req.typ, typ):
		if p, ok := c.fids[req.fid]; ok && req.name != "" {
			c.fids[req.fid] = path.Join(p, req.name) // Tlcreate turns the directory's fid into the file's
		}
	case req.typ == msgTclunk || req.typ == msgTremove:
		delete(c.fids, req.fid) // gone, whatever the reply
	}
}

// rename is a Trenameat, or a Trename turned into one.
type rename struct {
	typ              byte // the request's
	reply            byte // the reply's type
	oldDir, newDir   uint32
	oldName, newName string
	fid              uint32 // Trename's: the file to move
}

// parseRename reads a Trenameat or a Trename; ok is false for a message
// too short, which p9 then refuses.
func parseRename(f frame) (r rename, ok bool) {
	b := f.body()
	r.typ = f.typ()
	switch r.typ {
	case msgTrenameat:
		r.reply = msgRrenameat
		r.oldDir, r.oldName, r.newDir, r.newName = b.u32(), b.str(), b.u32(), b.str()
	case msgTrename:
		r.reply = msgRrename
		r.fid, r.newDir, r.newName = b.u32(), b.u32(), b.str()
	default:
		return r, false
	}
	return r, !b.bad
}

// serveRename answers a Trenameat or Trename in the background, as p9
// answers any request; false leaves a malformed one to p9.
func (c *serverConn) serveRename(f frame) bool {
	r, ok := parseRename(f)
	if !ok {
		return false
	}
	tag := f.tag()
	req := &request{typ: r.typ, done: make(chan struct{})}
	c.mu.Lock()
	if tag != noTag {
		c.inflight[tag] = req // a Tflush of it waits for its reply
	}
	oldDir, okOld := c.fids[r.oldDir]
	newDir, okNew := c.fids[r.newDir]
	if r.typ == msgTrename {
		var p string
		p, okOld = c.fids[r.fid]
		oldDir, r.oldName = path.Split(p) // the root has no name: EINVAL
	}
	c.mu.Unlock()
	go func() {
		var err error
		if !okOld || !okNew {
			err = syscall.EBADF
		} else {
			err = c.rename(c.ctx, path.Clean("/"+oldDir), r.oldName, newDir, r.newName)
		}
		reply := header(headerLen, r.reply, tag)
		if err != nil {
			reply = rlerror(tag, fs.Errno(err))
		}
		c.mu.Lock()
		if c.inflight[tag] == req {
			delete(c.inflight, tag)
		}
		c.mu.Unlock()
		c.reply(reply)
		close(req.done)
	}()
	return true
}

// safeName is p9's checkSafeName: one name, not . or ..
func safeName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.Contains(name, "/")
}

// rename moves oldName of the directory at oldDir to newName of the one at
// newDir, through fs.Renamer, and moves the connection's files with it.
func (c *serverConn) rename(ctx context.Context, oldDir, oldName, newDir, newName string) error {
	if !safeName(oldName) || !safeName(newName) {
		return syscall.EINVAL
	}
	if oldDir == newDir && oldName == newName {
		return nil
	}
	od, err := fs.Walk(ctx, c.root, oldDir)
	if err != nil {
		return err
	}
	nd, err := fs.Walk(ctx, c.root, newDir)
	if err != nil {
		return err
	}
	r, ok := od.(fs.Renamer)
	if !ok {
		return errdefs.New(errdefs.ErrPermission, "%s: no renames here", oldDir)
	}
	d, ok := nd.(fs.Dir)
	if !ok {
		return syscall.ENOTDIR
	}
	if err := r.Rename(ctx, oldName, d, newName); err != nil {
		return err
	}
	from, to := path.Join(oldDir, oldName), path.Join(newDir, newName)
	for _, pc := range c.peers.all() {
		pc.moved(ctx, from, to)
	}
	return nil
}

// moved tells the fids and files of the connection at from, and below it,
// that they are at to now: their paths change and their nodes are looked
// up again there. A rename calls it on every connection of the server.
func (c *serverConn) moved(ctx context.Context, from, to string) {
	under := func(p string) (string, bool) {
		if p == from {
			return to, true
		}
		if rest, ok := strings.CutPrefix(p, from+"/"); ok {
			return path.Join(to, rest), true
		}
		return "", false
	}
	c.mu.Lock()
	for fid, p := range c.fids {
		if np, ok := under(p); ok {
			c.fids[fid] = np
		}
	}
	files := make([]*file, 0, len(c.files))
	for f := range c.files {
		files = append(files, f)
	}
	c.mu.Unlock()
	for _, f := range files {
		_, p := f.at()
		np, ok := under(p)
		if !ok {
			continue
		}
		n, err := fs.Walk(ctx, c.root, np)
		f.mu.Lock()
		if f.path == p { // not moved again meanwhile
			f.path = np
			if err == nil {
				f.node = n
			}
		}
		f.mu.Unlock()
	}
}
