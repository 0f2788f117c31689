package dockerapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"

	"github.com/enginefs/enginefs/ctl"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

// Building through the tree's /builds (docker's legacy builder protocol):
// POST /build sends the context into a job and streams its progress,
// POST /images/create?fromSrc= imports a tarball through an import job,
// POST /commit writes a container's commit verb.

// maxQueryJSON caps the JSON query values of a build (build args,
// labels, ulimits, cache-from).
const maxQueryJSON = 1 << 20

// buildImage is POST /build.
func (s *Server) buildImage(w http.ResponseWriter, r *http.Request) error {
	line, err := buildLine(r)
	if err != nil {
		return err
	}
	return s.runBuildJob(w, r, line)
}

// buildLine turns POST /build's query into the ctl line of a build job.
func buildLine(r *http.Request) (ctl.Command, error) {
	q := r.URL.Query()
	line := ctl.Command{Verb: "build"}
	add := func(k, v string) {
		if v != "" {
			line.Opts = append(line.Opts, ctl.Opt{Key: k, Value: v})
		}
	}
	switch v := q.Get("version"); v {
	case "", "1":
	case "2":
		return line, errdefs.Invalid("BuildKit (version=2) is not supported by this daemon: build with the legacy builder (DOCKER_BUILDKIT=0)")
	default:
		return line, errdefs.Invalid("invalid version %q", v)
	}
	for _, k := range []string{"remote", "session", "outputs"} {
		if q.Get(k) != "" {
			return line, fmt.Errorf("%w: %s= builds are not supported: send the context in the request body", errNotImplemented, k)
		}
	}
	if boolValue(r, "squash") {
		return line, errdefs.Invalid("squash is only supported with experimental mode")
	}
	if q.Has("rm") && !boolValue(r, "rm") && !boolValue(r, "forcerm") {
		return line, errdefs.Invalid("rm=0 is not supported: a build removes its containers")
	}
	if v := q.Get("securityopt"); v != "" {
		return line, errdefs.Invalid("security options are not supported on linux")
	}
	if q.Get("isolation") != "" && q.Get("isolation") != "default" {
		return line, errdefs.Invalid("isolation %q is not supported on linux", q.Get("isolation"))
	}
	for _, t := range q["t"] {
		add("t", t)
	}
	add("file", q.Get("dockerfile"))
	add("target", q.Get("target"))
	if n := q.Get("networkmode"); n != "" && n != "default" {
		add("network", n)
	}
	add("platform", strings.ToLower(q.Get("platform")))
	add("cpuset-cpus", q.Get("cpusetcpus"))
	for k, key := range map[string]string{"memory": "memory", "memswap": "memory-swap", "cpushares": "cpu-shares",
		"cpuperiod": "cpu-period", "cpuquota": "cpu-quota", "shmsize": "shm-size"} {
		if v := q.Get(k); v != "" && v != "0" {
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				return line, errdefs.Invalid("invalid %s: %q", k, v)
			}
			add(key, v)
		}
	}
	for k, v := range map[string]string{"nocache": "no-cache", "pull": "pull", "q": "q"} {
		if boolValue(r, k) {
			add(v, "true")
		}
	}
	var args map[string]*string
	if err := queryJSON(q.Get("buildargs"), &args); err != nil {
		return line, errdefs.Invalid("buildargs: %v", err)
	}
	for _, k := range sortedKeys(args) {
		if v := args[k]; v != nil {
			add("build-arg", k+"="+*v)
		} else {
			add("build-arg", k)
		}
	}
	var labels map[string]string
	if err := queryJSON(q.Get("labels"), &labels); err != nil {
		return line, errdefs.Invalid("labels: %v", err)
	}
	for _, k := range sortedKeys(labels) {
		add("label", k+"="+labels[k])
	}
	var cacheFrom []string
	if err := queryJSON(q.Get("cachefrom"), &cacheFrom); err != nil {
		return line, errdefs.Invalid("cachefrom: %v", err)
	}
	for _, c := range cacheFrom {
		add("cache-from", c)
	}
	var ulimits []*container.Ulimit
	if err := queryJSON(q.Get("ulimits"), &ulimits); err != nil {
		return line, errdefs.Invalid("ulimits: %v", err)
	}
	for _, u := range ulimits {
		if u != nil {
			add("ulimit", fmt.Sprintf("%s=%d:%d", u.Name, u.Soft, u.Hard))
		}
	}
	if len(q["extrahosts"]) > 0 || q.Get("cgroupparent") != "" || q.Get("cpusetmems") != "" {
		return line, errdefs.Invalid("extrahosts, cgroupparent and cpusetmems are not supported for builds")
	}
	add("auth", r.Header.Get("X-Registry-Config"))
	return line, nil
}

// runBuildJob runs a job of /builds with the request body as its
// context and streams its progress. An error before the build runs (a
// bad Dockerfile, a context that is not a tar) is docker's error
// response; once it runs, the stream carries its errors. A client that
// goes away cancels the build, as dockerd does.
func (s *Server) runBuildJob(w http.ResponseWriter, r *http.Request, line ctl.Command) error {
	ctx := r.Context()
	clone, err := s.tree.Open(ctx, "builds/clone", os.O_RDWR)
	if err != nil {
		return err
	}
	num, err := fs.ReadHandle(ctx, clone)
	if err == nil {
		_, err = fs.WriteCommand(ctx, clone, line.String())
	}
	clone.Close()
	if err != nil {
		return err
	}
	dir := "builds/" + strings.TrimSpace(string(num)) + "/"
	ctlH, err := s.tree.Open(ctx, dir+"ctl", os.O_RDWR)
	if err != nil {
		return err
	}
	defer ctlH.Close()
	cancel := func() { _, _ = fs.WriteCommand(context.WithoutCancel(ctx), ctlH, "cancel") }
	if err := s.sendContext(ctx, dir+"context", r.Body); err != nil {
		cancel()
		return err
	}
	if _, err := fs.WriteCommand(ctx, ctlH, "start"); err != nil {
		if ctx.Err() != nil {
			cancel()
		}
		return err
	}
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	prog, err := s.tree.Open(ctx, dir+"progress", os.O_RDONLY)
	if err != nil {
		return err
	}
	defer prog.Close()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flush(w)
	buf := make([]byte, 64<<10)
	var off int64
	for {
		n, rerr := prog.ReadAt(ctx, buf, off)
		if n > 0 {
			off += int64(n)
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
			flush(w)
		}
		if rerr == io.EOF || (rerr == nil && n == 0) {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// sendContext writes the request body into a job's context file; a body
// cut short is dropped.
func (s *Server) sendContext(ctx context.Context, name string, body io.Reader) error {
	h, err := s.tree.Open(ctx, name, os.O_WRONLY)
	if err != nil {
		return err
	}
	defer h.Close()
	buf := make([]byte, 1<<20)
	var off int64
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, err := h.WriteAt(ctx, buf[:n], off); err != nil {
				return err
			}
			off += int64(n)
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			_ = fs.TruncateHandle(context.WithoutCancel(ctx), h, 0)
			return errdefs.Invalid("reading the build context: %w", rerr)
		}
	}
}

// importImage is POST /images/create?fromSrc=-: the body is a root file
// system tarball, made an image by an import job.
func (s *Server) importImage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if src := q.Get("fromSrc"); src != "-" {
		return fmt.Errorf("%w: importing from a URL (fromSrc=%s) is not supported: send the tarball in the body (fromSrc=-)", errNotImplemented, src)
	}
	line := ctl.Command{Verb: "import"}
	if repo := q.Get("repo"); repo != "" {
		ref := repo
		if tag := q.Get("tag"); tag != "" {
			if strings.HasPrefix(tag, "sha256:") {
				return errdefs.Invalid("cannot import digest reference")
			}
			ref = withTag(repo, tag)
		}
		line.Args = []string{ref}
	}
	if m := q.Get("message"); m != "" {
		line.Opts = append(line.Opts, ctl.Opt{Key: "message", Value: m})
	}
	if p := q.Get("platform"); p != "" {
		line.Opts = append(line.Opts, ctl.Opt{Key: "platform", Value: strings.ToLower(p)})
	}
	for _, c := range q["changes"] {
		line.Opts = append(line.Opts, ctl.Opt{Key: "change", Value: c})
	}
	return s.runBuildJob(w, r, line)
}

// commitContainer is POST /commit: the container's commit verb; answers
// 201 {"Id": ...}.
func (s *Server) commitContainer(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	name := q.Get("container")
	if name == "" {
		return errdefs.Invalid("container is required")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxQueryJSON+1))
	if err != nil {
		return errdefs.Invalid("reading the body: %v", err)
	}
	if b := strings.TrimSpace(string(body)); b != "" && b != "null" && b != "{}" {
		return fmt.Errorf("%w: a config in the body of POST /commit is not supported: give the changes in the changes parameter", errNotImplemented)
	}
	line := ctl.Command{Verb: "commit"}
	if repo := q.Get("repo"); repo != "" {
		tag := q.Get("tag")
		if strings.HasPrefix(tag, "sha256:") {
			return errdefs.Invalid("cannot commit to a digest reference")
		}
		line.Args = []string{withTag(repo, firstNonEmpty(tag, "latest"))}
	}
	for k, key := range map[string]string{"comment": "comment", "author": "author"} {
		if v := q.Get(k); v != "" {
			line.Opts = append(line.Opts, ctl.Opt{Key: key, Value: v})
		}
	}
	for _, c := range q["changes"] {
		line.Opts = append(line.Opts, ctl.Opt{Key: "change", Value: c})
	}
	if q.Has("pause") && !boolValue(r, "pause") {
		line.Opts = append(line.Opts, ctl.Opt{Key: "pause", Value: "false"})
	}
	reply, err := fs.Command(ctx, s.tree, "containers/"+name+"/ctl", line.String())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, map[string]string{"Id": strings.TrimSpace(reply)})
}

// pruneBuildCache is POST /build/prune: the builds' cache images that
// nothing else needs.
func (s *Server) pruneBuildCache(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	line := ctl.Command{Verb: "prune"}
	if boolValue(r, "all") {
		line.Opts = append(line.Opts, ctl.Opt{Key: "all", Value: "true"})
	}
	if f := q.Get("filters"); f != "" && f != "{}" {
		return errdefs.Invalid("filters are not supported by the build cache prune")
	}
	reply, err := fs.Command(r.Context(), s.tree, "builds/ctl", line.String())
	if err != nil {
		return err
	}
	rep := build.CachePruneReport{CachesDeleted: []string{}}
	for _, l := range strings.Split(reply, "\n") {
		if id, ok := strings.CutPrefix(l, "Deleted: "); ok {
			rep.CachesDeleted = append(rep.CachesDeleted, id)
		}
		if n, ok := strings.CutPrefix(l, "Total reclaimed space: "); ok {
			rep.SpaceReclaimed, _ = strconv.ParseUint(strings.TrimSpace(n), 10, 64)
		}
	}
	return writeJSON(w, http.StatusOK, rep)
}

// cancelBuild is POST /build/cancel: a legacy build is cancelled by
// closing its connection; as dockerd, this answers 200 for an id.
func (s *Server) cancelBuild(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Query().Get("id") == "" {
		return errdefs.Invalid("build ID not provided")
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// queryJSON decodes a JSON query value ("" is none), capped.
func queryJSON(v string, into any) error {
	if v == "" {
		return nil
	}
	if len(v) > maxQueryJSON {
		return fmt.Errorf("%d bytes, at most %d", len(v), maxQueryJSON)
	}
	return json.Unmarshal([]byte(v), into)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
