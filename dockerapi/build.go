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

	"github.com/enginefs/enginefs/ctl/verbs"
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
	b, err := buildVerb(r)
	if err != nil {
		return err
	}
	return s.runBuildJob(w, r, b)
}

// buildVerb turns POST /build's query into the build line of a job.
func buildVerb(r *http.Request) (verbs.Build, error) {
	q := r.URL.Query()
	var b verbs.Build
	switch v := q.Get("version"); v {
	case "", "1":
	case "2":
		return b, errdefs.Invalid("BuildKit (version=2) is not supported by this daemon: build with the legacy builder (DOCKER_BUILDKIT=0)")
	default:
		return b, errdefs.Invalid("invalid version %q", v)
	}
	for _, k := range []string{"remote", "session", "outputs"} {
		if q.Get(k) != "" {
			return b, fmt.Errorf("%w: %s= builds are not supported: send the context in the request body", errNotImplemented, k)
		}
	}
	if boolValue(r, "squash") {
		return b, errdefs.Invalid("squash is only supported with experimental mode")
	}
	if q.Has("rm") && !boolValue(r, "rm") && !boolValue(r, "forcerm") {
		return b, errdefs.Invalid("rm=0 is not supported: a build removes its containers")
	}
	if v := q.Get("securityopt"); v != "" {
		return b, errdefs.Invalid("security options are not supported on linux")
	}
	if q.Get("isolation") != "" && q.Get("isolation") != "default" {
		return b, errdefs.Invalid("isolation %q is not supported on linux", q.Get("isolation"))
	}
	for _, t := range q["t"] {
		if t != "" {
			b.Tags = append(b.Tags, t)
		}
	}
	b.File, b.Target = q.Get("dockerfile"), q.Get("target")
	if n := q.Get("networkmode"); n != "default" {
		b.Network = n
	}
	b.Platform = strings.ToLower(q.Get("platform"))
	b.CpusetCPUs = q.Get("cpusetcpus")
	for _, n := range []struct {
		param string
		dst   *string
	}{{"memory", &b.Memory}, {"memswap", &b.MemorySwap}, {"cpushares", &b.CPUShares},
		{"cpuperiod", &b.CPUPeriod}, {"cpuquota", &b.CPUQuota}, {"shmsize", &b.ShmSize}} {
		if v := q.Get(n.param); v != "" && v != "0" {
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				return b, errdefs.Invalid("invalid %s: %q", n.param, v)
			}
			*n.dst = v
		}
	}
	b.NoCache, b.Pull, b.Quiet = boolValue(r, "nocache"), boolValue(r, "pull"), boolValue(r, "q")
	var args map[string]*string
	if err := queryJSON(q.Get("buildargs"), &args); err != nil {
		return b, errdefs.Invalid("buildargs: %v", err)
	}
	for _, k := range sortedKeys(args) {
		if v := args[k]; v != nil {
			b.BuildArg = append(b.BuildArg, k+"="+*v)
		} else {
			b.BuildArg = append(b.BuildArg, k)
		}
	}
	var labels map[string]string
	if err := queryJSON(q.Get("labels"), &labels); err != nil {
		return b, errdefs.Invalid("labels: %v", err)
	}
	for _, k := range sortedKeys(labels) {
		b.Label = append(b.Label, k+"="+labels[k])
	}
	var cacheFrom []string
	if err := queryJSON(q.Get("cachefrom"), &cacheFrom); err != nil {
		return b, errdefs.Invalid("cachefrom: %v", err)
	}
	for _, c := range cacheFrom {
		if c != "" {
			b.CacheFrom = append(b.CacheFrom, c)
		}
	}
	var ulimits []*container.Ulimit
	if err := queryJSON(q.Get("ulimits"), &ulimits); err != nil {
		return b, errdefs.Invalid("ulimits: %v", err)
	}
	for _, u := range ulimits {
		if u != nil {
			b.Ulimit = append(b.Ulimit, verbs.FormatUlimit(*u))
		}
	}
	if len(q["extrahosts"]) > 0 || q.Get("cgroupparent") != "" || q.Get("cpusetmems") != "" {
		return b, errdefs.Invalid("extrahosts, cgroupparent and cpusetmems are not supported for builds")
	}
	b.Auth = r.Header.Get("X-Registry-Config")
	return b, nil
}

// runBuildJob runs a job of /builds with the request body as its
// context and streams its progress. An error before the build runs (a
// bad Dockerfile, a context that is not a tar) is docker's error
// response; once it runs, the stream carries its errors. A client that
// goes away cancels the build, as dockerd does.
func (s *Server) runBuildJob(w http.ResponseWriter, r *http.Request, line verbs.Verb) error {
	ctx := r.Context()
	clone, err := s.tree.Open(ctx, "builds/clone", os.O_RDWR)
	if err != nil {
		return err
	}
	num, err := fs.ReadHandle(ctx, clone)
	if err == nil {
		_, err = fs.WriteCommand(ctx, clone, verbs.Line(line))
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
	cancel := func() { _, _ = fs.WriteCommand(context.WithoutCancel(ctx), ctlH, verbs.Line(verbs.BuildCancel{})) }
	if err := s.sendContext(ctx, dir+"context", r.Body); err != nil {
		cancel()
		return err
	}
	if _, err := fs.WriteCommand(ctx, ctlH, verbs.Line(verbs.BuildStart{})); err != nil {
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
	line := verbs.Import{Message: q.Get("message"), Platform: strings.ToLower(q.Get("platform")), Change: q["changes"]}
	if repo := q.Get("repo"); repo != "" {
		ref := repo
		if tag := q.Get("tag"); tag != "" {
			if strings.HasPrefix(tag, "sha256:") {
				return errdefs.Invalid("cannot import digest reference")
			}
			ref = withTag(repo, tag)
		}
		line.Ref = ref
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
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if b := strings.TrimSpace(string(body)); b != "" && b != "null" && b != "{}" {
		return fmt.Errorf("%w: a config in the body of POST /commit is not supported: give the changes in the changes parameter", errNotImplemented)
	}
	line := verbs.ContainerCommit{Comment: q.Get("comment"), Author: q.Get("author"), Change: q["changes"],
		NoPause: q.Has("pause") && !boolValue(r, "pause")}
	if repo := q.Get("repo"); repo != "" {
		tag := q.Get("tag")
		if strings.HasPrefix(tag, "sha256:") {
			return errdefs.Invalid("cannot commit to a digest reference")
		}
		line.Ref = withTag(repo, firstNonEmpty(tag, "latest"))
	}
	reply, err := fs.Command(ctx, s.tree, "containers/"+name+"/ctl", verbs.Line(line))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, map[string]string{"Id": strings.TrimSpace(reply)})
}

// pruneBuildCache is POST /build/prune: the builds' cache images that
// nothing else needs.
func (s *Server) pruneBuildCache(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if f := q.Get("filters"); f != "" && f != "{}" {
		return errdefs.Invalid("filters are not supported by the build cache prune")
	}
	reply, err := fs.Command(r.Context(), s.tree, "builds/ctl", verbs.Line(verbs.BuildPrune{All: boolValue(r, "all")}))
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
