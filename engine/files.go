package engine

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/imagestore"
)

// FilesIdle is how long the root file system of a container that is not
// running stays mounted after RootFS mounted it for a copy (docker cp into
// or out of a stopped container, export, the tree's root/): each RootFS
// call starts the delay again.
const FilesIdle = 5 * time.Second

// filesMounts are the root file systems RootFS mounted, by path, each with
// the timer that unmounts it. Its lock is a leaf: taken under a
// container's, never the other way.
var filesMounts = struct {
	sync.Mutex
	m map[string]*time.Timer
}{m: map[string]*time.Timer{}}

// RootFS returns the host path of container ref's root file system, merged
// and writable, as the container sees it without its volumes. A running or
// paused container's is the one its run mounted; a created or exited
// container's is mounted read-write on demand, as dockerd does for docker
// cp, and unmounted FilesIdle after the last call (or when the container
// starts).
//
// Errors: errdefs.ErrNotFound for an unknown container; errdefs.ErrBusy for
// one being made, removed or restarting.
func (e *Engine) RootFS(ctx context.Context, ref string) (string, error) {
	c, err := e.Get(ref)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.gate(); err != nil {
		return "", err
	}
	root := e.rootfs(c.id)
	switch c.rec.State.Status {
	case StatusNew:
		return "", errdefs.Busy("container %s is not created yet", c.id)
	case StatusRunning, StatusPaused:
		return root, nil
	case StatusRestarting:
		return "", errdefs.Busy("container %s is restarting", c.id)
	}
	filesMounts.Lock()
	defer filesMounts.Unlock()
	if t, ok := filesMounts.m[root]; ok {
		t.Reset(FilesIdle)
		return root, nil
	}
	img, err := e.images.Get(ctx, c.rec.ImageID)
	if err != nil {
		return "", fmt.Errorf("container %s: %w", c.id, err)
	}
	if err := e.images.Mount(ctx, img, root, e.containerDir(c.id), e.mountOptions(&c.rec.Config)...); err != nil {
		return "", fmt.Errorf("container %s: mounting its root file system: %w", c.id, err)
	}
	var t *time.Timer
	t = time.AfterFunc(FilesIdle, func() {
		filesMounts.Lock()
		defer filesMounts.Unlock()
		if filesMounts.m[root] != t {
			return
		}
		if err := imagestore.Unmount(root); err != nil {
			t.Reset(FilesIdle) // still in use: try again later
			return
		}
		delete(filesMounts.m, root)
	})
	filesMounts.m[root] = t
	return root, nil
}

// releaseFiles unmounts the root file system RootFS mounted for container
// id, if any, before a start mounts it for the run. Files still open in it
// stay readable (a lazy unmount).
func (e *Engine) releaseFiles(id string) {
	root := e.rootfs(id)
	filesMounts.Lock()
	defer filesMounts.Unlock()
	t, ok := filesMounts.m[root]
	if !ok {
		return
	}
	t.Stop()
	delete(filesMounts.m, root)
	if err := unix.Unmount(root, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
		e.logf("container %s: unmounting the root file system mounted for a copy: %v", id, err)
	}
}

// releaseAllFiles unmounts every root file system RootFS mounted for this
// engine's containers, at shutdown: only running containers keep theirs.
func (e *Engine) releaseAllFiles() {
	dir := filepath.Join(e.dir, "containers") + string(filepath.Separator)
	filesMounts.Lock()
	var ids []string
	for root := range filesMounts.m {
		if strings.HasPrefix(root, dir) {
			ids = append(ids, filepath.Base(filepath.Dir(root)))
		}
	}
	filesMounts.Unlock()
	for _, id := range ids {
		e.releaseFiles(id)
	}
}

// Change kinds, as docker's API numbers them (GET /containers/{id}/changes).
const (
	ChangeModify = 0
	ChangeAdd    = 1
	ChangeDelete = 2
)

// Change is one path of a container's root file system that differs from
// its image's (docker diff).
type Change struct {
	Path string `json:"Path"`
	Kind int    `json:"Kind"`
}

// String is the change as docker diff prints it: "C /etc".
func (c Change) String() string {
	return string("CAD"[c.Kind]) + " " + c.Path
}

// Changes lists what container ref changed in its root file system, from
// the upper directory of its overlay, in its directories' order (parents
// first) as dockerd lists them: a
// path also in the image is modified (C), one only in the upper directory
// added (A), a whiteout deleted (D). What the runtime made for the
// container's mounts (the stubs of /etc/hosts and its kin) is left out, as
// docker keeps them in its init layer.
//
// Errors: errdefs.ErrNotFound for an unknown container; errdefs.ErrBusy for
// one not created yet.
func (e *Engine) Changes(ctx context.Context, ref string) ([]Change, error) {
	c, err := e.Get(ref)
	if err != nil {
		return nil, err
	}
	rec := c.Record()
	if rec.State.Status == StatusNew {
		return nil, errdefs.Busy("container %s is not created yet", c.id)
	}
	dir := e.containerDir(c.id)
	upper := filepath.Join(dir, "upper")
	if _, err := os.Stat(upper); errors.Is(err, fs.ErrNotExist) {
		return []Change{}, nil // never started nor mounted: nothing changed
	}
	stubs := map[string]bool{}
	for _, s := range readStubs(dir) {
		stubs[path.Clean("/"+s)] = true
	}
	m, err := e.MountImage(ctx, rec.ImageID)
	if err != nil {
		return nil, fmt.Errorf("container %s: changes: %w", c.id, err)
	}
	defer m.Release()
	inImage := func(p string) bool {
		_, err := os.Lstat(filepath.Join(m.Root, p))
		return err == nil
	}
	out := []Change{}
	var walk func(dir, name string) error
	walk = func(dir, name string) error {
		f, err := os.Open(dir)
		if err != nil {
			return err
		}
		names, err := f.Readdirnames(-1) // directory order, as dockerd's
		f.Close()
		if err != nil {
			return err
		}
		for _, n := range names {
			if err := ctx.Err(); err != nil {
				return err
			}
			p, rel := filepath.Join(dir, n), path.Join(name, n)
			fi, err := os.Lstat(p)
			if err != nil {
				return err
			}
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode()&fs.ModeCharDevice != 0 && st.Rdev == 0 {
				out = append(out, Change{Path: rel, Kind: ChangeDelete})
				continue
			}
			if !(stubs[rel] && (!fi.IsDir() || emptyDir(p))) {
				kind := ChangeAdd
				if inImage(rel) {
					kind = ChangeModify
				}
				out = append(out, Change{Path: rel, Kind: kind})
			}
			if fi.IsDir() {
				if err := walk(p, rel); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(upper, "/"); err != nil {
		return nil, fmt.Errorf("container %s: changes: %w", c.id, err)
	}
	return out, nil
}

func emptyDir(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	return errors.Is(err, io.EOF)
}

// Export writes container ref's root file system, merged, as a tar stream
// to w (docker export): every file, directory, link and device with its
// owner, mode and times, volumes left out.
func (e *Engine) Export(ctx context.Context, ref string, w io.Writer) error {
	root, err := e.RootFS(ctx, ref)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	if err := writeInitEntries(tw, root, "."); err != nil {
		return fmt.Errorf("export %s: %w", ref, err)
	}
	links := map[uint64]string{}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		var target string
		if fi.Mode()&fs.ModeSymlink != 0 {
			if target, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, target)
		if err != nil {
			return nil // a socket: tar has no kind for it, docker skips it too
		}
		hdr.Name = filepath.ToSlash(rel)
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode().IsRegular() && st.Nlink > 1 {
			key := st.Ino
			if first, ok := links[key]; ok {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				links[key] = hdr.Name
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if fi.IsDir() {
			if err := writeInitEntries(tw, p, rel); err != nil {
				return err
			}
		}
		if hdr.Typeflag == tar.TypeReg {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			return err
		}
		return nil
	})
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		return fmt.Errorf("export %s: %w", ref, err)
	}
	return nil
}

// initLayer is what dockerd's init layer gives every container below its
// changes, which docker export shows: "" a directory, "file" an empty
// file, anything else a symbolic link's target.
var initLayer = map[string]map[string]string{
	".":   {".dockerenv": "file", "proc": "", "sys": "", "dev": ""},
	"dev": {"console": "file", "pts": "", "shm": ""},
	"etc": {"hosts": "file", "hostname": "file", "resolv.conf": "file", "mtab": "/proc/mounts"},
}

// writeInitEntries writes the entries of initLayer below rel (the
// directory dir) that the root file system lacks.
func writeInitEntries(tw *tar.Writer, dir, rel string) error {
	for name, kind := range initLayer[filepath.ToSlash(rel)] {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			continue
		}
		hdr := &tar.Header{Name: path.Join(filepath.ToSlash(rel), name), Mode: 0o755, ModTime: time.Now().Truncate(time.Second)}
		switch kind {
		case "":
			hdr.Typeflag, hdr.Name = tar.TypeDir, hdr.Name+"/"
		case "file":
			hdr.Typeflag = tar.TypeReg
		default:
			hdr.Typeflag, hdr.Linkname, hdr.Mode = tar.TypeSymlink, kind, 0o777
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
	}
	return nil
}
