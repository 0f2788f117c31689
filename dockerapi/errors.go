package dockerapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/docker/docker/api/types"

	"github.com/enginefs/enginefs/errdefs"
)

// errNotModified is docker's answer to a start of a running container or a
// stop of a stopped one: 304 and no body.
var errNotModified = errors.New("not modified")

// errNotImplemented marks what the bridge does not do (docker import):
// 501, as dockerd answers for what its backend lacks.
var errNotImplemented = errors.New("not implemented")

// errUnauthorized marks credentials a registry refused at POST /auth: 401,
// as dockerd answers a failed login.
var errUnauthorized = errors.New("unauthorized")

// statusOf is the one place where an error becomes an HTTP status: the
// errdefs class the tree gave it decides, as errdefs.Class does for errnos.
func statusOf(err error) int {
	switch {
	case errors.Is(err, errNotModified):
		return http.StatusNotModified
	case errors.Is(err, errTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, errNotImplemented):
		return http.StatusNotImplemented
	case errors.Is(err, errUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, errdefs.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, errdefs.ErrAlreadyExists), errors.Is(err, errdefs.ErrBusy):
		return http.StatusConflict
	case errors.Is(err, errdefs.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, errdefs.ErrPermission):
		return http.StatusForbidden
	case errors.Is(err, errdefs.ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusRequestTimeout
	}
	return http.StatusInternalServerError
}

// writeError answers with err's status and, except for 304, docker's JSON
// body holding its message.
func writeError(w http.ResponseWriter, err error) {
	status := statusOf(err)
	if status == http.StatusNotModified {
		w.WriteHeader(status)
		return
	}
	data, _ := json.Marshal(types.ErrorResponse{Message: err.Error()})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

// noSuchContainer turns the not-found error of a container's path into
// docker's wording (clients and people look for "No such container").
func noSuchContainer(err error, ref string) error {
	if errors.Is(err, errdefs.ErrNotFound) {
		return errdefs.NotFound("No such container: %s", ref)
	}
	return err
}
