package dockerapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/enginefs/enginefs/ctl/verbs"
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

	// Execs.
	h("POST /containers/{name}/exec", s.createExec)
	h("POST /exec/{id}/start", s.startExec)
	h("POST /exec/{id}/resize", s.resizeExec)
	h("GET /exec/{id}/json", s.inspectExec)

	// Images; names may hold slashes, so {rest...} is NAME/OPERATION.
	h("GET /images/json", s.listImages)
	h("POST /images/create", s.createImage)
	h("POST /images/load", s.loadImages)
	h("POST /images/prune", s.pruneImages)
	h("GET /images/get", s.saveNamed)
	h("GET /images/{rest...}", s.imageGet)
	h("POST /images/{rest...}", s.imagePost)
	h("DELETE /images/{rest...}", s.removeImage)
	h("POST /auth", s.auth)
	h("POST /build", s.buildImage)
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
