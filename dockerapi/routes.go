package dockerapi

import (
	"context"
	"errors"
	"net/http"
)

// routes registers every endpoint. Paths are those of API 1.50 without the
// version prefix, which Handler has stripped.
func (s *Server) routes(mux *http.ServeMux) {
	h := func(pattern string, fn func(w http.ResponseWriter, r *http.Request) error) {
		mux.Handle(pattern, endpoint{s: s, fn: fn})
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
	h("POST /containers/create", s.createContainer)
	h("GET /containers/{name}/json", s.inspectContainer)
	h("POST /containers/{name}/start", s.startContainer)
	h("POST /containers/{name}/stop", s.stopContainer)
	h("POST /containers/{name}/restart", s.restartContainer)
	h("POST /containers/{name}/kill", s.killContainer)
	h("POST /containers/{name}/pause", s.ctlVerb("pause"))
	h("POST /containers/{name}/unpause", s.ctlVerb("resume"))
	h("POST /containers/{name}/rename", s.renameContainer)
	h("POST /containers/{name}/resize", s.resizeContainer)
	h("POST /containers/{name}/wait", s.waitContainer)
	h("DELETE /containers/{name}", s.removeContainer)
	h("POST /containers/{name}/attach", s.attachContainer)
	h("GET /containers/{name}/logs", s.containerLogs)
	h("GET /containers/{name}/top", s.topContainer)
	h("GET /containers/{name}/stats", s.containerStats)

	// Execs.
	h("POST /containers/{name}/exec", s.createExec)
	h("POST /exec/{id}/start", s.startExec)
	h("POST /exec/{id}/resize", s.resizeExec)
	h("GET /exec/{id}/json", s.inspectExec)

	// Images, as far as the tree has them.
	h("GET /images/json", s.listImages)
	h("POST /images/load", s.loadImages)
	h("GET /images/{rest...}", s.imageByName)
}

// endpoint is one route: an error its function returns before the response
// started becomes docker's error response; after, it can only be logged.
type endpoint struct {
	s  *Server
	fn func(w http.ResponseWriter, r *http.Request) error
}

func (e endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rw := &trackingWriter{ResponseWriter: w}
	if err := e.fn(rw, r); err != nil {
		if rw.started {
			if errors.Is(err, context.Canceled) {
				return // the client left
			}
			e.s.logf("docker API %s %s: %v", r.Method, r.URL.Path, err)
			return
		}
		writeError(w, err)
	}
}
