package dockerapi

import (
	"fmt"
	"net/http"

	"github.com/enginefs/enginefs/errdefs"
)

// errNotSwarmManager is dockerd's answer, word for word, to the swarm
// endpoints on a node that is in no swarm: 503, which clients (compose,
// the SDKs' test tear-downs) take as "no swarm here".
var errNotSwarmManager = errdefs.Unavailable("This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.")

// errNotInSwarm is dockerd's answer to a leave outside of a swarm.
var errNotInSwarm = errdefs.Unavailable("This node is not part of a swarm")

// swarmRoutes registers what a dockerd outside of any swarm answers: enginefs
// does not do swarm, so it is always that node.
func (s *Server) swarmRoutes(h func(string, func(http.ResponseWriter, *http.Request) error)) {
	notManager := func(http.ResponseWriter, *http.Request) error { return errNotSwarmManager }
	for _, p := range []string{"/swarm", "/nodes", "/services", "/tasks", "/secrets", "/configs"} {
		h(p, notManager)
		h(p+"/", notManager)
	}
	h("POST /swarm/leave", func(http.ResponseWriter, *http.Request) error { return errNotInSwarm })
	refuse := func(_ http.ResponseWriter, r *http.Request) error {
		return fmt.Errorf("%w: swarm mode is not supported by enginefs (%s)", errNotImplemented, r.URL.Path)
	}
	h("POST /swarm/init", refuse)
	h("POST /swarm/join", refuse)
}
