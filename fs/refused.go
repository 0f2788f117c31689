package fs

import (
	"context"
	"errors"
	"log"

	"github.com/enginefs/enginefs/errdefs"
)

type clientKey struct{}

// WithClient returns ctx naming the client its requests come from, for the
// log: "fuse pid 12 uid 0", "9P tcp 127.0.0.1:4000".
func WithClient(ctx context.Context, client string) context.Context {
	return context.WithValue(ctx, clientKey{}, client)
}

// ClientOf returns the client ctx names ("in-process" when none does: the
// REST bridge, the daemon itself).
func ClientOf(ctx context.Context) string {
	if c, ok := ctx.Value(clientKey{}).(string); ok {
		return c
	}
	return "in-process"
}

// RefusedLogf is where refused input is logged, once per refusal, with the
// client and the reason (the daemon's log).
var RefusedLogf = log.Printf

// logRefused logs err if it refuses the client's input (errdefs.ErrInvalid)
// and was not logged where it was made (errdefs.ErrLogged).
func logRefused(ctx context.Context, what string, err error) {
	if errors.Is(err, errdefs.ErrInvalid) && !errors.Is(err, errdefs.ErrLogged) {
		RefusedLogf("refused %s from %s: %v", what, ClientOf(ctx), err)
	}
}
