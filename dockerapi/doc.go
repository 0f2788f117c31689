// Package dockerapi is the REST bridge: it serves the Docker Engine API
// (versions 1.41 to 1.50) so that the stock docker CLI, docker-compose and
// the SDKs drive enginefs. Each call becomes operations on the file tree,
// in process, through an fs.Client (fs.Local): files are opened, read and
// written exactly as dctl or a shell would, so the bridge has no door into
// the engine that the tree does not have.
//
// Entry points: [New] makes a [Server] over a tree; [Server.Handler] is its
// http.Handler; [Server.Serve] serves a listener until its context ends.
// [MinVersion] and [MaxVersion] bound the API versions served. The listener
// of a --docker address (a unix socket, plain TCP on loopback, or TCP with
// mutual TLS) is opened by the daemon (listenDocker in cmd/enginefs).
//
// The responses use the types of github.com/docker/docker/api/types, which
// are API 1.50. Errors keep the errdefs class of the tree's error and become
// an HTTP status in one place, [statusOf], with docker's {"message": ...}
// body. Hijacked streams (attach, exec start) answer as dockerd does: 101
// UPGRADED with Upgrade: tcp, then docker's multiplexed framing for a
// process without a terminal, raw bytes for one with a terminal. Pulls and
// pushes are jobs of the tree's images/pulls and images/pushes whose
// progress files, docker's JSON messages already, are passed on as the
// response body (transfer.go); networks and volumes are networks/ and
// volumes/ (networks.go, volumes.go); a container's create becomes the
// tree's create line (create.go).
package dockerapi
