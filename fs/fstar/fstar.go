// Package fstar copies files of a tree in and out as tar streams, over an
// fs.WriteClient: what docker cp, GET and PUT /containers/{id}/archive and
// dctl cp do with a container's root/ directory.
//
// Entry points: Resolve (a container path, its symbolic links followed as
// the container would, confined to the root), Stat (docker's
// X-Docker-Container-Path-Stat), Write (a path as a tar stream) and Extract
// (a tar stream into a directory, with the image store's refusals of
// hostile archives).
package fstar

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

// MaxLinkHops is how many symbolic links Resolve follows in one path
// before it gives up, as Linux's ELOOP (40).
const MaxLinkHops = 40

// MaxNameLen caps the length of an entry's name in an archive Extract
// reads (Linux's PATH_MAX).
const MaxNameLen = 4096

// chunk is the size of the reads and writes of file contents.
const chunk = 1 << 20

// PathStat describes a path of a container, as dockerd's
// X-Docker-Container-Path-Stat header does (base64 of its JSON).
type PathStat struct {
	Name       string      `json:"name"`
	Size       int64       `json:"size"`
	Mode       os.FileMode `json:"mode"`
	Mtime      time.Time   `json:"mtime"`
	LinkTarget string      `json:"linkTarget"`
}

func split(p string) []string {
	var out []string
	for _, e := range strings.Split(p, "/") {
		if e != "" && e != "." {
			out = append(out, e)
		}
	}
	return out
}

// Resolve returns the absolute, clean path that p (a path in the
// container whose root directory is root, a path of c's tree) names, with
// every symbolic link on the way followed as the container would follow
// it, but never above its root ("/.." is "/"). The last element is
// followed too when followLast is set (docker follows it when p ends in
// "/" or "/."). An element that does not exist ends the walk: the rest is
// joined as it is, and the caller's Stat says it is not there.
func Resolve(ctx context.Context, c fs.WriteClient, root, p string, followLast bool) (string, error) {
	resolved := "/"
	rest := split(p)
	hops := 0
	for len(rest) > 0 {
		name := rest[0]
		rest = rest[1:]
		if name == ".." {
			resolved = path.Dir(resolved)
			continue
		}
		next := path.Join(resolved, name)
		if len(rest) == 0 && !followLast {
			return next, nil
		}
		a, err := c.Stat(ctx, path.Join(root, next))
		if err != nil || a.Mode&os.ModeSymlink == 0 {
			resolved = next
			if err != nil {
				return path.Join(append([]string{resolved}, rest...)...), nil
			}
			continue
		}
		if hops++; hops > MaxLinkHops {
			return "", errdefs.Invalid("%s: more than %d symbolic links (cap fstar.MaxLinkHops)", p, MaxLinkHops)
		}
		target, err := c.Readlink(ctx, path.Join(root, next))
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(target, "/") {
			resolved = "/"
		}
		// A relative target is relative to the link's directory, which
		// resolved still is.
		rest = append(split(target), rest...)
	}
	return resolved, nil
}

// FollowsLast reports whether a path given to docker cp asks for its
// last element's link to be followed: it ends in "/" or "/.".
func FollowsLast(p string) bool {
	return strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.") || p == "."
}

// Stat describes the container path p as dockerd's archive endpoints do:
// the name is p's last element ("." for "/dir/."), the mode Go's, and a
// symbolic link's LinkTarget the absolute path it resolves to. It returns
// the resolved path too. A path that does not exist is an
// errdefs.ErrNotFound error.
func Stat(ctx context.Context, c fs.WriteClient, root, p string) (PathStat, string, error) {
	rp, err := Resolve(ctx, c, root, p, FollowsLast(p))
	if err != nil {
		return PathStat{}, "", err
	}
	a, err := c.Stat(ctx, path.Join(root, rp))
	if err != nil {
		return PathStat{}, "", err
	}
	st := PathStat{Name: baseName(p), Size: a.Size, Mode: a.Mode, Mtime: a.Mtime}
	if a.Mode&os.ModeSymlink != 0 {
		if st.LinkTarget, err = Resolve(ctx, c, root, rp, true); err != nil {
			return PathStat{}, "", err
		}
	}
	return st, rp, nil
}

// baseName is the name the copy of p takes: its last element, "." when p
// ends in "/." (the directory's content), "/" for the root.
func baseName(p string) string {
	if strings.HasSuffix(p, "/.") || p == "." {
		return "."
	}
	b := path.Base(path.Clean("/" + p))
	return b
}

// Write writes the resolved container path rp (see Stat), a file, a
// symbolic link or a directory and all below it, as a tar stream to w,
// its entries named from name (Stat's name). Owners, modes and times are
// kept; a directory's entries come in ReadDir's order.
func Write(ctx context.Context, c fs.WriteClient, root, rp, name string, w io.Writer) error {
	tw := tar.NewWriter(w)
	buf := make([]byte, chunk)
	// walk writes p; kind is its type from its directory's listing, or
	// ^0 when unknown (the top).
	var walk func(p, name string, kind os.FileMode) error
	walk = func(p, name string, kind os.FileMode) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		full := path.Join(root, p)
		var h fs.Handle
		var a fs.Attr
		var err error
		if kind == 0 { // a regular file: open it first and stat the open file
			if h, err = c.Open(ctx, full, os.O_RDONLY); err != nil {
				return err
			}
			defer h.Close()
			if st, ok := h.(interface {
				Stat(context.Context) (fs.Attr, error)
			}); ok {
				a, err = st.Stat(ctx)
			} else {
				a, err = c.Stat(ctx, full)
			}
		} else {
			a, err = c.Stat(ctx, full)
		}
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: name, Mode: int64(a.Mode.Perm()), Uid: int(a.UID), Gid: int(a.GID), ModTime: a.Mtime, Format: tar.FormatPAX}
		if a.Mode&os.ModeSetuid != 0 {
			hdr.Mode |= 0o4000
		}
		if a.Mode&os.ModeSetgid != 0 {
			hdr.Mode |= 0o2000
		}
		if a.Mode&os.ModeSticky != 0 {
			hdr.Mode |= 0o1000
		}
		switch {
		case a.Mode.IsDir():
			hdr.Typeflag = tar.TypeDir
			if !strings.HasSuffix(hdr.Name, "/") {
				hdr.Name += "/"
			}
		case a.Mode&os.ModeSymlink != 0:
			hdr.Typeflag = tar.TypeSymlink
			if hdr.Linkname, err = c.Readlink(ctx, full); err != nil {
				return err
			}
		case a.Mode.IsRegular():
			hdr.Typeflag, hdr.Size = tar.TypeReg, a.Size
		default:
			return nil // devices, fifos and sockets are not served by the tree
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
			if h == nil {
				if h, err = c.Open(ctx, full, os.O_RDONLY); err != nil {
					return err
				}
				defer h.Close()
			}
			return copyOut(ctx, h, hdr.Size, tw, buf)
		case tar.TypeDir:
			ents, err := c.ReadDir(ctx, full)
			if err != nil {
				return err
			}
			for _, e := range ents {
				if err := walk(path.Join(p, e.Name), hdr.Name+e.Name, e.Mode.Type()); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(rp, strings.TrimSuffix(name, "/"), ^os.FileMode(0)); err != nil {
		return err
	}
	return tw.Close()
}

// copyOut copies size bytes of the open file h to w: a file that shrank
// is padded with zeros, one that grew cut, as tar needs the size it said.
func copyOut(ctx context.Context, h fs.Handle, size int64, w io.Writer, buf []byte) error {
	var off int64
	for off < size {
		n := int64(len(buf))
		if size-off < n {
			n = size - off
		}
		m, err := h.ReadAt(ctx, buf[:n], off)
		if m > 0 {
			if _, werr := w.Write(buf[:m]); werr != nil {
				return werr
			}
			off += int64(m)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	for ; off < size; off++ {
		if _, err := w.Write([]byte{0}); err != nil {
			return err
		}
	}
	return nil
}

// Options change what Extract does.
type Options struct {
	// NoOverwriteDirNonDir refuses to replace a directory with anything
	// else or anything else with a directory (docker's
	// noOverwriteDirNonDir, which docker cp sets).
	NoOverwriteDirNonDir bool
	// Chown, when set, owns every entry by these ids instead of the
	// archive's (copyUIDGID with a container user).
	Chown *[2]uint32
	// NoChown leaves the owners to whoever extracts (docker cp out of a
	// container: the files are the user's).
	NoChown bool
}

// Extract writes the tar stream r into dir, a directory of c's tree,
// keeping the owners, modes and times of its entries. It never writes
// outside dir: a leading "/" is stripped from names, a name or hard link
// that leaves dir through "..", an entry whose path goes through a
// symbolic link, a hard link to a directory and a name longer than
// MaxNameLen are refused with an errdefs.ErrInvalid error naming the
// entry, as the image store refuses a hostile layer (symbolic links are
// written as they are: they mean something only in the container).
// Devices, fifos and sockets are refused too: the tree cannot make them.
// A hard link is written as a copy of its target. On error what was
// extracted before the bad entry stays.
func Extract(ctx context.Context, c fs.WriteClient, dir string, r io.Reader, o Options) error {
	tr := tar.NewReader(r)
	buf := make([]byte, chunk)
	type dirTimes struct {
		name  string
		mtime time.Time
	}
	var dirs []dirTimes
	// checked are the directories known to be real directories below dir
	// (no link on the way); fresh the ones this extraction made, in which
	// a name not written yet does not exist: both spare the round trips
	// of a Stat for most entries.
	checked := map[string]bool{"": true}
	fresh := map[string]bool{}
	written := map[string]bool{}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return errdefs.Invalid("reading the archive: %v", err)
		}
		bad := func(format string, a ...any) error {
			return errdefs.Invalid("archive entry %q: %s", hdr.Name, fmt.Sprintf(format, a...))
		}
		if len(hdr.Name) > MaxNameLen {
			return bad("a name of %d bytes, more than %d (cap fstar.MaxNameLen)", len(hdr.Name), MaxNameLen)
		}
		if hdr.Typeflag == tar.TypeGNUSparse || hasSparse(hdr) {
			// Expanded as read, a small sparse entry writes gigabytes.
			return bad("sparse files are not supported")
		}
		rel, ok := clean(hdr.Name)
		if !ok {
			return bad("leaves the directory")
		}
		if rel == "" {
			if hdr.Typeflag == tar.TypeDir {
				continue // "./": the directory itself
			}
			return bad("not a directory")
		}
		full := path.Join(dir, rel)
		parent := path.Dir(rel)
		if parent == "." {
			parent = ""
		}
		if !checked[parent] {
			if err := checkParents(ctx, c, dir, rel); err != nil {
				return bad("%v", err)
			}
			checked[parent] = true
		}
		var old fs.Attr
		exists := false
		if !fresh[parent] || written[rel] {
			var statErr error
			old, statErr = c.Stat(ctx, full)
			exists = statErr == nil
		}
		written[rel] = true
		if o.NoOverwriteDirNonDir && exists {
			isDir := hdr.Typeflag == tar.TypeDir
			switch {
			case old.Mode.IsDir() && !isDir:
				return errdefs.Invalid("cannot overwrite directory %q with non-directory %q", "/"+rel, hdr.Name)
			case !old.Mode.IsDir() && isDir:
				return errdefs.Invalid("cannot overwrite non-directory %q with directory %q", "/"+rel, hdr.Name)
			}
		}
		if exists && (hdr.Typeflag != tar.TypeDir || !old.Mode.IsDir()) {
			if old.Mode.IsDir() {
				forget(checked, fresh, rel)
				if err := removeAll(ctx, c, full); err != nil {
					return err
				}
			} else if err := c.Remove(ctx, full); err != nil {
				return err
			}
			exists = false
		}
		mode := os.FileMode(hdr.Mode).Perm()
		switch hdr.Typeflag {
		case tar.TypeDir:
			if !exists {
				if err := c.Mkdir(ctx, full, mode); err != nil {
					return err
				}
				fresh[rel] = true
			}
			checked[rel] = true
			dirs = append(dirs, dirTimes{full, hdr.ModTime})
		case tar.TypeReg, tar.TypeRegA:
			if err := copyIn(ctx, c, full, mode, tr, buf); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := c.Symlink(ctx, hdr.Linkname, full); err != nil {
				return err
			}
		case tar.TypeLink:
			target, ok := clean(hdr.Linkname)
			if !ok || target == "" {
				return bad("a hard link to %q, outside the directory", hdr.Linkname)
			}
			a, err := c.Stat(ctx, path.Join(dir, target))
			if err != nil || !a.Mode.IsRegular() {
				return bad("a hard link to %q, not a file of the archive", hdr.Linkname)
			}
			h, err := c.Open(ctx, path.Join(dir, target), os.O_RDONLY)
			if err != nil {
				return err
			}
			err = copyIn(ctx, c, full, a.Mode.Perm(), io.NewSectionReader(handleAt{ctx, h}, 0, a.Size), buf)
			h.Close()
			if err != nil {
				return err
			}
		default:
			return bad("a %s, which cannot be made here", kindName(hdr.Typeflag))
		}
		if err := setAttrs(ctx, c, full, hdr, o); err != nil {
			return err
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- { // children first changed their parents' times
		mt := dirs[i].mtime
		if err := c.SetAttr(ctx, dirs[i].name, fs.SetAttr{Atime: &mt, Mtime: &mt}); err != nil {
			return err
		}
	}
	return nil
}

func hasSparse(hdr *tar.Header) bool {
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// forget drops rel and what is below it from the directories Extract
// knows, when an entry replaces it.
func forget(checked, fresh map[string]bool, rel string) {
	for _, m := range []map[string]bool{checked, fresh} {
		for k := range m {
			if k == rel || strings.HasPrefix(k, rel+"/") {
				delete(m, k)
			}
		}
	}
}

// clean makes an entry's name relative to the directory it is extracted
// in, or says it leaves it.
func clean(name string) (string, bool) {
	p := path.Clean("/" + name)
	if strings.Contains(name, "..") {
		for _, e := range strings.Split(strings.TrimPrefix(name, "/"), "/") {
			if e == ".." {
				return "", false // docker refuses them too, even when they stay inside
			}
		}
	}
	return strings.TrimPrefix(p, "/"), true
}

// checkParents refuses an entry whose parent path goes through a symbolic
// link (of this archive or of the directory).
func checkParents(ctx context.Context, c fs.WriteClient, dir, rel string) error {
	parts := split(rel)
	p := dir
	for _, e := range parts[:len(parts)-1] {
		p = path.Join(p, e)
		a, err := c.Stat(ctx, p)
		if err != nil {
			return fmt.Errorf("its directory %s: %w", strings.TrimPrefix(p, dir), err)
		}
		if a.Mode&os.ModeSymlink != 0 {
			return fmt.Errorf("goes through the symbolic link %s", strings.TrimPrefix(p, dir))
		}
		if !a.Mode.IsDir() {
			return fmt.Errorf("%s is not a directory", strings.TrimPrefix(p, dir))
		}
	}
	return nil
}

func kindName(t byte) string {
	switch t {
	case tar.TypeChar:
		return "character device"
	case tar.TypeBlock:
		return "block device"
	case tar.TypeFifo:
		return "fifo"
	}
	return fmt.Sprintf("tar entry of type %q", t)
}

// setAttrs gives an extracted entry its owner, mode and times (a symbolic
// link its owner only: the tree changes what a link names otherwise).
func setAttrs(ctx context.Context, c fs.WriteClient, full string, hdr *tar.Header, o Options) error {
	uid, gid := uint32(hdr.Uid), uint32(hdr.Gid)
	if o.Chown != nil {
		uid, gid = o.Chown[0], o.Chown[1]
	}
	if hdr.Typeflag == tar.TypeSymlink {
		return nil
	}
	mode := os.FileMode(hdr.Mode).Perm()
	if hdr.Mode&0o4000 != 0 {
		mode |= os.ModeSetuid
	}
	if hdr.Mode&0o2000 != 0 {
		mode |= os.ModeSetgid
	}
	if hdr.Mode&0o1000 != 0 {
		mode |= os.ModeSticky
	}
	a := fs.SetAttr{Mode: &mode}
	if !o.NoChown {
		a.UID, a.GID = &uid, &gid
	}
	if hdr.Typeflag != tar.TypeDir {
		mt := hdr.ModTime
		a.Atime, a.Mtime = &mt, &mt
	}
	return c.SetAttr(ctx, full, a)
}

// copyIn creates (or truncates) full and fills it from r.
func copyIn(ctx context.Context, c fs.WriteClient, full string, mode os.FileMode, r io.Reader, buf []byte) error {
	h, err := c.Create(ctx, full, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	var off int64
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if _, err := h.WriteAt(ctx, buf[:n], off); err != nil {
				h.Close()
				return err
			}
			off += int64(n)
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			h.Close()
			return errdefs.Invalid("reading the archive: %v", rerr)
		}
	}
	return h.Close()
}

// removeAll removes full and everything below it.
func removeAll(ctx context.Context, c fs.WriteClient, full string) error {
	a, err := c.Stat(ctx, full)
	if err != nil {
		return err
	}
	if a.Mode.IsDir() {
		ents, err := c.ReadDir(ctx, full)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if err := removeAll(ctx, c, path.Join(full, e.Name)); err != nil {
				return err
			}
		}
	}
	return c.Remove(ctx, full)
}

// handleAt is an io.ReaderAt over a handle, for the length of one copy.
type handleAt struct {
	ctx context.Context
	h   fs.Handle
}

func (r handleAt) ReadAt(p []byte, off int64) (int, error) { return r.h.ReadAt(r.ctx, p, off) }
