package dockerapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"

	"github.com/enginefs/enginefs/ctl/verbs"
)

// routes registers every endpoint. Paths are those of API 1.50 without the
// version prefix, which Handler has stripped.
func (s *Server) routes(mux *http.ServeMux) {
	// Every endpoint's body is capped at MaxJSONBody (most take none),
	// but the create of a container's (MaxCreateBody) and the streams'.
	route := func(pattern string, body bodyCap, fn func(w http.ResponseWriter, r *http.Request) error) {
		mux.Handle(pattern, endpoint{s: s, fn: fn, body: body})
	}
	h := func(pattern string, fn func(w http.ResponseWriter, r *http.Request) error) {
		route(pattern, jsonBody, fn)
	}
	stream := func(pattern string, fn func(w http.ResponseWriter, r *http.Request) error) {
		route(pattern, streamBody, fn)
	}
	// System.
	h("GET /_ping", s.ping)
	h("HEAD /_ping", s.ping)
	h("GET /version", s.version)
	h("GET /info", s.info)
	h("GET /events", s.events)
	h("GET /system/df", s.systemDF)

	// Containers.
	h("GET /containers/json", s.listContainers)
	route("POST /containers/create", createBody, s.createContainer)
	h("POST /containers/prune", s.pruneContainers)
	h("GET /containers/{name}/json", s.inspectContainer)
	h("POST /containers/{name}/start", s.startContainer)
	h("POST /containers/{name}/stop", s.stopContainer)
	h("POST /containers/{name}/restart", s.restartContainer)
	h("POST /containers/{name}/kill", s.killContainer)
	h("POST /containers/{name}/pause", s.ctlVerb(verbs.ContainerPause{}))
	h("POST /containers/{name}/unpause", s.ctlVerb(verbs.ContainerResume{}))
	h("POST /containers/{name}/rename", s.renameContainer)
	h("POST /containers/{name}/resize", s.resizeContainer)
	h("POST /containers/{name}/wait", s.waitContainer)
	h("DELETE /containers/{name}", s.removeContainer)
	h("POST /containers/{name}/attach", s.attachContainer)
	h("GET /containers/{name}/logs", s.containerLogs)
	h("GET /containers/{name}/top", s.topContainer)
	h("GET /containers/{name}/stats", s.containerStats)
	h("POST /containers/{name}/update", s.updateContainer)
	h("HEAD /containers/{name}/archive", s.headArchive)
	h("GET /containers/{name}/archive", s.getArchive)
	stream("PUT /containers/{name}/archive", s.putArchive)
	h("GET /containers/{name}/changes", s.containerChanges)
	h("GET /containers/{name}/export", s.exportContainer)

	// Execs.
	h("POST /containers/{name}/exec", s.createExec)
	h("POST /exec/{id}/start", s.startExec)
	h("POST /exec/{id}/resize", s.resizeExec)
	h("GET /exec/{id}/json", s.inspectExec)

	// Images; names may hold slashes, so {rest...} is NAME/OPERATION.
	h("GET /images/json", s.listImages)
	stream("POST /images/create", s.createImage) // fromSrc=-: a tarball
	stream("POST /images/load", s.loadImages)
	h("POST /images/prune", s.pruneImages)
	h("GET /images/get", s.saveNamed)
	h("GET /images/{rest...}", s.imageGet)
	h("POST /images/{rest...}", s.imagePost)
	h("DELETE /images/{rest...}", s.removeImage)
	h("POST /auth", s.auth)
	stream("POST /build", s.buildImage)
	h("POST /build/prune", s.pruneBuildCache)
	h("POST /build/cancel", s.cancelBuild)
	h("POST /commit", s.commitContainer)

	// Networks.
	h("GET /networks", s.listNetworks)
	h("POST /networks/create", s.createNetwork)
	h("POST /networks/prune", s.pruneNetworks)
	h("GET /networks/{id}", s.inspectNetwork)
	h("DELETE /networks/{id}", s.removeNetwork)
	h("POST /networks/{id}/connect", s.connectNetwork)
	h("POST /networks/{id}/disconnect", s.disconnectNetwork)

	// Volumes.
	h("GET /volumes", s.listVolumes)
	h("POST /volumes/create", s.createVolume)
	h("POST /volumes/prune", s.pruneVolumes)
	h("GET /volumes/{name}", s.inspectVolume)
	h("DELETE /volumes/{name}", s.removeVolume)

	// Swarm: enginefs is a node in no swarm.
	s.swarmRoutes(h)
}

// endpoint is one route: an error its function returns before the response
// started becomes docker's error response; after, it can only be logged.
// A refusal (a body too large, malformed JSON) is logged once with the
// client; a panic is logged with its stack and answered 500 when the
// response has not started, and the daemon goes on.
type endpoint struct {
	s    *Server
	fn   func(w http.ResponseWriter, r *http.Request) error
	body bodyCap // the cap on the request body
}

func (e endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rw := &trackingWriter{ResponseWriter: w}
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler {
			panic(v)
		}
		e.s.logf("docker API %s %s from %s: panic: %v\n%s", r.Method, r.URL.Path, clientOf(r), v, debug.Stack())
		if !rw.started {
			writeError(w, fmt.Errorf("internal error serving %s %s: %v", r.Method, r.URL.Path, v))
		}
	}()
	if err := checkQuery(r); err != nil {
		e.s.logf("refused %s from %s: %v", "query", clientOf(r), err)
		writeError(w, err)
		return
	}
	err := e.body.limit(w, r)
	if err != nil {
		err = refuse("request body", err)
		// Not a byte of the body was read: say the connection ends, so
		// that net/http does not try to drain it.
		w.Header().Set("Connection", "close")
	} else {
		err = e.fn(rw, r)
	}
	if err == nil {
		return
	}
	var rf *refusal
	if errors.As(err, &rf) {
		e.s.logf("refused %s from %s: %v", rf.what, clientOf(r), rf.err)
	}
	if rw.started {
		if errors.Is(err, context.Canceled) {
			return // the client left
		}
		e.s.logf("docker API %s %s: %v", r.Method, r.URL.Path, err)
		return
	}
	writeError(w, err)
}
