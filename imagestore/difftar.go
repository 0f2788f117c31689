package imagestore

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/enginefs/enginefs/errdefs"
)

// Overlayfs attributes that mean the upper directory does not hold the
// whole of a node: a renamed directory (redirect_dir) and a file whose
// data is still below (metacopy). A tar of the upper directory would
// lose what they point at.
const (
	redirectXattr = "trusted.overlay.redirect"
	metacopyXattr = "trusted.overlay.metacopy"
)

// selinuxXattr is the host's label of a file, not part of its content:
// docker does not carry it in layers either.
const selinuxXattr = "security.selinux"

// writeDiffTar writes to w the layer tar of dir, an overlayfs upper
// directory, in docker's layer format, and returns the number of entries
// written. The root itself is not an entry (docker leaves it out too).
//
// Every node below dir becomes an entry with its mode (set-id and sticky
// bits included), owner, modification time (whole seconds, as docker
// writes it) and extended attributes (PAX SCHILY.xattr.*, but never
// trusted.overlay.* nor security.selinux); no user or group names, no
// access or change times. A node with several links in the layer is
// written once and then as hard links to that first name. Overlayfs
// whiteouts go back to their tar form: a 0/0 character device NAME is an
// empty regular file .wh.NAME, and a directory with
// trusted.overlay.opaque=y is followed by an entry DIR/.wh..wh..opq.
// Sockets are skipped, as docker does. The paths in exclude (relative to
// dir) are left out, a directory only when nothing below it is kept.
//
// Each directory's names are written in byte order, a directory's entry
// before its content, so the same tree always gives the same bytes (and
// the same diff id). Paths are resolved as Unpack resolves them (openat2,
// no symlinks, nothing outside dir). A node that changes type while it is
// read, or a regular file that shrinks, is errdefs.ErrBusy: the caller
// should not let anything write to dir meanwhile.
//
// idmap, if not nil, maps each node's owner from the host's ids to the
// layer's (a container in a user namespace wrote dir).
func writeDiffTar(ctx context.Context, dir string, exclude []string, idmap func(uid, gid int) (int, int), w io.Writer) (int, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, classify(&os.PathError{Op: "open", Path: dir, Err: err}, "layer from %s: %w", dir)
	}
	defer unix.Close(fd)
	d := &diffTar{dir: dir, tw: tar.NewWriter(w), links: map[fileID]string{}, exclude: map[string]bool{}, idmap: idmap}
	for _, p := range exclude {
		if rel := path.Clean("/" + p)[1:]; rel != "" {
			d.exclude[rel] = true
		}
	}
	if err := d.walk(ctx, fd, ""); err != nil {
		return d.n, err
	}
	if err := d.tw.Close(); err != nil {
		return d.n, classify(err, "layer from %s: %w", dir)
	}
	return d.n, nil
}

// diffTar is the state of one writeDiffTar.
type diffTar struct {
	dir   string
	tw    *tar.Writer
	n     int               // entries written
	links map[fileID]string // first name of each node with several links

	exclude map[string]bool // clean relative paths left out
	idmap   func(uid, gid int) (int, int)
}

// fileID identifies a node on the host.
type fileID struct{ dev, ino uint64 }

// walk writes the entries below the directory dfd, whose path in the
// layer is rel ("" for the root).
func (d *diffTar) walk(ctx context.Context, dfd int, rel string) error {
	names, err := readNames(dfd)
	if err != nil {
		return d.fail(rel, "read directory", err)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return classify(err, "layer from %s: %w", d.dir)
		}
		if err := d.node(ctx, dfd, path.Join(rel, name), name); err != nil {
			return err
		}
	}
	return nil
}

// readNames lists a directory through a descriptor of it, which stays
// open. It opens the directory anew, so every listing starts at its
// beginning (a dup would share the offset of the last one).
func readNames(dfd int) ([]string, error) {
	fd, err := unix.Openat2(dfd, ".", &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolveFlags})
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "dir")
	defer f.Close()
	return f.Readdirnames(-1)
}

// node writes the entry (or entries) of one node, name in the directory
// dfd, at p in the layer.
func (d *diffTar) node(ctx context.Context, dfd int, p, name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return d.fail(p, "stat", err)
	}
	if d.exclude[p] && st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return d.directory(ctx, dfd, p, name)
	case unix.S_IFREG:
		return d.file(dfd, p, name)
	case unix.S_IFSOCK:
		return nil
	}
	// Symlinks, devices and fifos, which cannot be opened to read their
	// attributes: reached by name under the parent's descriptor.
	hdr := d.header(p, &st)
	procPath := fmt.Sprintf("/proc/self/fd/%d/%s", dfd, name)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		if st.Rdev == 0 {
			// An overlayfs whiteout (possibly one of many links to the
			// kernel's shared whiteout): never a hard link.
			dir, base := path.Split(p)
			return d.write(&tar.Header{
				Name: dir + whiteoutPrefix + base, Typeflag: tar.TypeReg, Mode: 0o600,
				Uid: hdr.Uid, Gid: hdr.Gid, ModTime: hdr.ModTime, Format: tar.FormatPAX,
			}, nil)
		}
		hdr.Typeflag = tar.TypeChar
	case unix.S_IFBLK:
		hdr.Typeflag = tar.TypeBlock
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	case unix.S_IFLNK:
		target, err := readlinkat(dfd, name)
		if err != nil {
			return d.fail(p, "readlink", err)
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = target
	default:
		return errdefs.Invalid("layer from %s: %q: unknown file type %#o", d.dir, p, st.Mode&unix.S_IFMT)
	}
	if hdr.Typeflag == tar.TypeChar || hdr.Typeflag == tar.TypeBlock {
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	}
	if d.hardlink(hdr, &st) {
		return d.write(hdr, nil)
	}
	attrs, err := xattrs(func(b []byte) (int, error) { return unix.Llistxattr(procPath, b) },
		func(k string, b []byte) (int, error) { return unix.Lgetxattr(procPath, k, b) })
	if err != nil {
		return d.fail(p, "read attributes", err)
	}
	setXattrs(hdr, attrs)
	return d.write(hdr, nil)
}

// directory writes a directory's entry, its opaque marker if it has one,
// and what it holds.
func (d *diffTar) directory(ctx context.Context, dfd int, p, name string) error {
	fd, err := unix.Openat2(dfd, name, &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC, Resolve: resolveFlags})
	if err != nil {
		return d.changed(p, "open", err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return d.fail(p, "stat", err)
	}
	attrs, err := xattrs(func(b []byte) (int, error) { return unix.Flistxattr(fd, b) },
		func(k string, b []byte) (int, error) { return unix.Fgetxattr(fd, k, b) })
	if err != nil {
		return d.fail(p, "read attributes", err)
	}
	if _, ok := attrs[redirectXattr]; ok {
		return errdefs.Invalid("layer from %s: directory %q was renamed with overlayfs redirect_dir, which a layer tar cannot express", d.dir, p)
	}
	if d.exclude[p] {
		keep, err := d.keeps(fd, p)
		if err != nil {
			return err
		}
		if !keep {
			return nil
		}
	}
	hdr := d.header(p+"/", &st)
	hdr.Typeflag = tar.TypeDir
	setXattrs(hdr, attrs)
	if err := d.write(hdr, nil); err != nil {
		return err
	}
	if attrs[opaqueXattr] == "y" {
		opq := &tar.Header{
			Name: p + "/" + whiteoutOpaque, Typeflag: tar.TypeReg, Mode: hdr.Mode & 0o777,
			Uid: hdr.Uid, Gid: hdr.Gid, ModTime: hdr.ModTime, Format: tar.FormatPAX,
		}
		if err := d.write(opq, nil); err != nil {
			return err
		}
	}
	return d.walk(ctx, fd, p)
}

// keeps reports whether anything below the directory fd, at p in the
// layer, is not excluded.
func (d *diffTar) keeps(fd int, p string) (bool, error) {
	names, err := readNames(fd)
	if err != nil {
		return false, d.fail(p, "read directory", err)
	}
	for _, name := range names {
		c := path.Join(p, name)
		if !d.exclude[c] {
			return true, nil
		}
		var st unix.Stat_t
		if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return false, d.fail(c, "stat", err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			continue // an excluded file
		}
		cfd, err := unix.Openat2(fd, name, &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC, Resolve: resolveFlags})
		if err != nil {
			return false, d.changed(c, "open", err)
		}
		keep, err := d.keeps(cfd, c)
		unix.Close(cfd)
		if err != nil || keep {
			return keep, err
		}
	}
	return false, nil
}

// file writes a regular file: its content, or a hard link to the first
// name of its node.
func (d *diffTar) file(dfd int, p, name string) error {
	fd, err := unix.Openat2(dfd, name, &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC, Resolve: resolveFlags})
	if err != nil {
		return d.changed(p, "open", err)
	}
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return d.fail(p, "stat", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return errdefs.Busy("layer from %s: %q changed while it was read", d.dir, p)
	}
	hdr := d.header(p, &st)
	hdr.Typeflag = tar.TypeReg
	if d.hardlink(hdr, &st) {
		return d.write(hdr, nil)
	}
	attrs, err := xattrs(func(b []byte) (int, error) { return unix.Flistxattr(fd, b) },
		func(k string, b []byte) (int, error) { return unix.Fgetxattr(fd, k, b) })
	if err != nil {
		return d.fail(p, "read attributes", err)
	}
	if _, ok := attrs[metacopyXattr]; ok {
		return errdefs.Invalid("layer from %s: %q holds only metadata (overlayfs metacopy), which a layer tar cannot express", d.dir, p)
	}
	setXattrs(hdr, attrs)
	hdr.Size = st.Size
	return d.write(hdr, f)
}

// header is the part of an entry's header every type shares.
func (d *diffTar) header(name string, st *unix.Stat_t) *tar.Header {
	h := &tar.Header{
		Name:    name,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: time.Unix(st.Mtim.Sec, 0).UTC(),
		Format:  tar.FormatPAX, // only when needed: USTAR is a subset
	}
	if d.idmap != nil {
		h.Uid, h.Gid = d.idmap(h.Uid, h.Gid)
	}
	return h
}

// hardlink turns hdr into a hard link to the first name of its node, if
// the node has several links and one was written already; otherwise it
// remembers this name as the first.
func (d *diffTar) hardlink(hdr *tar.Header, st *unix.Stat_t) bool {
	if st.Nlink < 2 {
		return false
	}
	id := fileID{dev: st.Dev, ino: st.Ino}
	if first, ok := d.links[id]; ok {
		hdr.Typeflag = tar.TypeLink
		hdr.Linkname = first
		hdr.Size = 0
		return true
	}
	d.links[id] = hdr.Name
	return false
}

// setXattrs records attributes as PAX SCHILY.xattr.* records, leaving
// out overlayfs' own and the host's SELinux label.
func setXattrs(hdr *tar.Header, attrs map[string]string) {
	for k, v := range attrs {
		if strings.HasPrefix(k, overlayXattrNS) || k == selinuxXattr {
			continue
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+k] = v
	}
}

// write writes one entry and, for a regular file, hdr.Size bytes of r.
func (d *diffTar) write(hdr *tar.Header, r io.Reader) error {
	if err := d.tw.WriteHeader(hdr); err != nil {
		return d.writeError(hdr.Name, err)
	}
	d.n++
	if r == nil || hdr.Size == 0 {
		return nil
	}
	n, err := io.CopyN(d.tw, r, hdr.Size)
	if err == io.EOF {
		return errdefs.Busy("layer from %s: %q shrank from %d to %d bytes while it was read", d.dir, hdr.Name, hdr.Size, n)
	}
	if err != nil {
		return d.writeError(hdr.Name, err)
	}
	return nil
}

// writeError classes a failure to write an entry: a header the tar
// format cannot hold is the tree's fault; the rest (the reader of w went
// away, a read error) keep their class.
func (d *diffTar) writeError(name string, err error) error {
	var pe *os.PathError
	if errors.Is(err, tar.ErrFieldTooLong) || errors.Is(err, tar.ErrHeader) {
		return errdefs.Invalid("layer from %s: %q: %w", d.dir, name, err)
	}
	if errors.As(err, &pe) || errdefs.Class(err) != nil {
		return classify(err, "layer from %s: %q: %w", d.dir, name)
	}
	return errdefs.Unavailable("layer from %s: %q: %w", d.dir, name, err)
}

// changed explains a failure to open a node just listed: one that went
// away or became a symlink changed under the walk.
func (d *diffTar) changed(p, op string, err error) error {
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
		return errdefs.Busy("layer from %s: %q changed while it was read: %s: %w", d.dir, p, op, err)
	}
	return d.fail(p, op, err)
}

// fail wraps a host error about the node at p.
func (d *diffTar) fail(p, op string, err error) error {
	return classify(err, "layer from %s: %q: %s: %w", d.dir, p, op)
}

// readlinkat reads the target of the symlink name in dfd.
func readlinkat(dfd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dfd, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// xattrs reads every extended attribute of a node through list and get
// (llistxattr/lgetxattr or their f- forms). A file system without them
// gives none.
func xattrs(list func([]byte) (int, error), get func(string, []byte) (int, error)) (map[string]string, error) {
	var names []byte
	for {
		n, err := list(nil)
		if errors.Is(err, unix.ENOTSUP) || n == 0 && err == nil {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		names = make([]byte, n)
		n, err = list(names)
		if errors.Is(err, unix.ERANGE) {
			continue // the list grew meanwhile
		}
		if err != nil {
			return nil, err
		}
		names = names[:n]
		break
	}
	out := map[string]string{}
	for _, k := range bytes.Split(names, []byte{0}) {
		if len(k) == 0 {
			continue
		}
		for {
			n, err := get(string(k), nil)
			if errors.Is(err, unix.ENODATA) {
				break // removed meanwhile
			}
			if err != nil {
				return nil, err
			}
			v := make([]byte, n)
			n, err = get(string(k), v)
			if errors.Is(err, unix.ERANGE) {
				continue
			}
			if errors.Is(err, unix.ENODATA) {
				break
			}
			if err != nil {
				return nil, err
			}
			out[string(k)] = string(v[:n])
			break
		}
	}
	return out, nil
}
