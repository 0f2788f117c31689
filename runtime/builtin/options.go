package builtin

import "github.com/enginefs/enginefs/errdefs"

// DefaultBinary is the executable Start runs as the container's first
// process unless WithBinary says otherwise: the running program itself.
const DefaultBinary = "/proc/self/exe"

// Option configures a Runtime built by New.
type Option func(*options) error

type options struct {
	binary string
}

// WithBinary sets the executable Start runs as each container's first
// process; its main must call IsInit and Init before anything else. The
// default is DefaultBinary, the running daemon, which needs no file on disk
// and survives the daemon's binary being replaced.
func WithBinary(path string) Option {
	return func(o *options) error {
		if path == "" {
			return errdefs.Invalid("builtin runtime: empty binary path")
		}
		o.binary = path
		return nil
	}
}
