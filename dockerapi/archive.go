package dockerapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
	"github.com/enginefs/enginefs/fs/fstar"
)

// The container's files: docker cp (GET, HEAD and PUT
// /containers/{name}/archive), docker diff (GET .../changes) and docker
// export (GET .../export), all through the tree's containers/<id>/root/,
// changes and export.

// pathStatHeader carries a container path's fstar.PathStat, base64 JSON.
const pathStatHeader = "X-Docker-Container-Path-Stat"

// writer is the tree as an fs.WriteClient, which archives need.
func (s *Server) writer() (fs.WriteClient, error) {
	c := s.tree
	if cf, ok := c.(confined); ok {
		c = cf.Client
	}
	wc, ok := c.(fs.WriteClient)
	if !ok {
		return nil, errdefs.Unavailable("the tree this bridge serves cannot be written by name")
	}
	return wc, nil
}

// containerRoot checks that the container ref is there and returns its
// root/ in the tree.
func (s *Server) containerRoot(ctx context.Context, ref string) (string, error) {
	if err := checkPath(ref); err != nil {
		return "", err
	}
	if _, err := s.read(ctx, "containers/"+ref+"/status"); err != nil {
		return "", noSuchContainer(err, ref)
	}
	return "containers/" + ref + "/root", nil
}

// archiveStat stats the query's path in the container, with dockerd's
// errors.
func (s *Server) archiveStat(r *http.Request) (fs.WriteClient, string, fstar.PathStat, string, error) {
	ref := r.PathValue("name")
	p := r.URL.Query().Get("path")
	if p == "" {
		return nil, "", fstar.PathStat{}, "", errdefs.Invalid("path cannot be empty")
	}
	wc, err := s.writer()
	if err != nil {
		return nil, "", fstar.PathStat{}, "", err
	}
	root, err := s.containerRoot(r.Context(), ref)
	if err != nil {
		return nil, "", fstar.PathStat{}, "", err
	}
	st, rp, err := fstar.Stat(r.Context(), wc, root, path.Join("/", p)+trailing(p))
	err = classed(err)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil, "", fstar.PathStat{}, "", errdefs.NotFound("Could not find the file %s in container %s", p, ref)
	}
	if err != nil {
		return nil, "", fstar.PathStat{}, "", err
	}
	return wc, root, st, rp, nil
}

// trailing is what path.Join drops from p that docker cp means something
// by: a final "/" or "/.".
func trailing(p string) string {
	switch {
	case len(p) > 1 && p[len(p)-2:] == "/.":
		return "/."
	case len(p) > 1 && p[len(p)-1] == '/':
		return "/"
	}
	return ""
}

// classed gives a host error (an errno from the container's files) its
// errdefs class, which decides the HTTP status.
func classed(err error) error {
	if err == nil || errdefs.Class(err) != nil {
		return err
	}
	return errdefs.New(errdefs.HostClass(err), "%v", err)
}

func setPathStat(w http.ResponseWriter, st fstar.PathStat) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	w.Header().Set(pathStatHeader, base64.StdEncoding.EncodeToString(data))
	return nil
}

// headArchive answers HEAD /containers/{name}/archive: the stat header.
func (s *Server) headArchive(w http.ResponseWriter, r *http.Request) error {
	_, _, st, _, err := s.archiveStat(r)
	if err != nil {
		return err
	}
	if err := setPathStat(w, st); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// getArchive answers GET /containers/{name}/archive: the stat header and
// the path as a tar stream.
func (s *Server) getArchive(w http.ResponseWriter, r *http.Request) error {
	wc, root, st, rp, err := s.archiveStat(r)
	if err != nil {
		return err
	}
	if err := setPathStat(w, st); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	return fstar.Write(r.Context(), wc, root, rp, st.Name, w)
}

// putArchive answers PUT /containers/{name}/archive: the tar stream of the
// body extracted into the directory path.
func (s *Server) putArchive(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var o fstar.Options
	var copyUIDGID bool
	for _, k := range []string{"noOverwriteDirNonDir", "copyUIDGID"} {
		if v := q.Get(k); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return errdefs.Invalid("invalid value for %s: %q", k, v)
			}
			switch k {
			case "noOverwriteDirNonDir":
				o.NoOverwriteDirNonDir = b
			case "copyUIDGID":
				copyUIDGID = b
			}
		}
	}
	wc, root, st, rp, err := s.archiveStat(r)
	if err != nil {
		return err
	}
	if !st.Mode.IsDir() {
		return errdefs.Invalid("extraction point is not a directory")
	}
	if err := s.checkWritable(r.Context(), r.PathValue("name"), rp); err != nil {
		return err
	}
	if copyUIDGID {
		if o.Chown, err = s.containerUser(r.Context(), r.PathValue("name"), root); err != nil {
			return err
		}
	}
	if err := fstar.Extract(r.Context(), wc, path.Join(root, rp), r.Body, o); err != nil {
		err = classed(err)
		if errors.Is(err, errdefs.ErrInvalid) {
			s.logf("refused %s from %s: %v", "archive", clientOf(r), err)
		}
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// errRootFSReadOnly is dockerd's answer (a 500, as its) to a copy into
// the root file system of a container run with --read-only.
var errRootFSReadOnly = errors.New("container rootfs is marked read-only")

// checkWritable refuses a copy to rp in a read-only container's root
// file system, but not into one of its mounts, as dockerd does.
func (s *Server) checkWritable(ctx context.Context, ref, rp string) error {
	var insp struct {
		HostConfig struct{ ReadonlyRootfs bool }
		Mounts     []struct{ Destination string }
	}
	if err := s.readJSON(ctx, "containers/"+ref+"/inspect", &insp); err != nil {
		return noSuchContainer(err, ref)
	}
	if !insp.HostConfig.ReadonlyRootfs {
		return nil
	}
	for _, m := range insp.Mounts {
		d := path.Clean("/" + m.Destination)
		if rp == d || strings.HasPrefix(rp, d+"/") {
			return nil
		}
	}
	return errRootFSReadOnly
}

// containerUser is the owner copyUIDGID gives what a copy writes, as
// dockerd does: the container's user (Config.User, a name or id looked up
// in its /etc/passwd and /etc/group), or nil (the archive's owners) when
// it has none. USER:GROUP, which dockerd 20.10 fails to look up, is
// looked up here.
func (s *Server) containerUser(ctx context.Context, ref, root string) (*[2]uint32, error) {
	var insp struct{ Config struct{ User string } }
	if err := s.readJSON(ctx, "containers/"+ref+"/inspect", &insp); err != nil {
		return nil, noSuchContainer(err, ref)
	}
	if insp.Config.User == "" {
		return nil, nil
	}
	user, group, _ := strings.Cut(insp.Config.User, ":")
	ids := [2]uint32{}
	lookup := func(file, name string, uidField, gidField int) (uint32, uint32, error) {
		if n, err := strconv.ParseUint(name, 10, 32); err == nil {
			// dockerd 20.10 gives a bare uid the group of the same number
			return uint32(n), uint32(n), nil
		}
		data, _ := s.read(ctx, root+file)
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Split(line, ":")
			if len(f) > gidField && f[0] == name {
				u, err1 := strconv.ParseUint(f[uidField], 10, 32)
				g, err2 := strconv.ParseUint(f[gidField], 10, 32)
				if err1 == nil && err2 == nil {
					return uint32(u), uint32(g), nil
				}
			}
		}
		return 0, 0, errdefs.NotFound("unable to find user %s: no matching entries in %s", name, file)
	}
	uid, gid, err := lookup("/etc/passwd", user, 2, 3)
	if err != nil {
		return nil, err
	}
	ids[0], ids[1] = uid, gid
	if group != "" {
		_, g, err := lookup("/etc/group", group, 2, 2)
		if err != nil {
			return nil, err
		}
		ids[1] = g
	}
	return &ids, nil
}

// change is one line of GET /containers/{name}/changes.
type change struct {
	Path string `json:"Path"`
	Kind int    `json:"Kind"`
}

// containerChanges answers GET /containers/{name}/changes from the
// tree's changes file ("C /etc" lines).
func (s *Server) containerChanges(w http.ResponseWriter, r *http.Request) error {
	ref := r.PathValue("name")
	if err := checkPath(ref); err != nil {
		return err
	}
	data, err := s.read(r.Context(), "containers/"+ref+"/changes")
	if err != nil {
		return noSuchContainer(err, ref)
	}
	out := []change{}
	for _, line := range splitLines(string(data)) {
		if len(line) < 3 {
			continue
		}
		kind := map[byte]int{'C': 0, 'A': 1, 'D': 2}[line[0]]
		out = append(out, change{Path: line[2:], Kind: kind})
	}
	return writeJSON(w, http.StatusOK, out)
}

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		out = append(out, s[:i])
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}

// exportContainer answers GET /containers/{name}/export with the tree's
// export stream.
func (s *Server) exportContainer(w http.ResponseWriter, r *http.Request) error {
	ref := r.PathValue("name")
	if err := checkPath(ref); err != nil {
		return err
	}
	h, err := s.tree.Open(r.Context(), "containers/"+ref+"/export", os.O_RDONLY)
	if err != nil {
		return noSuchContainer(err, ref)
	}
	defer h.Close()
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	buf := make([]byte, 1<<20)
	var off int64
	for {
		n, err := h.ReadAt(r.Context(), buf, off)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			off += int64(n)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
