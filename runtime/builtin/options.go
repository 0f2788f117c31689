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
// process and Exec as its helper; its main must call IsInit and Init
// before anything else, or be nsinit.Main (cmd/enginefs-init, the smallest
// and fastest to start). The default is DefaultBinary, the running
// program, which needs no file on disk and survives the program's binary
// being replaced. Any other file is copied by New into a sealed memfd, and
// the copy is what runs (see binary.go): a file replaced later on disk
// changes nothing, and no container can write to the binary it runs.
func WithBinary(path string) Option {
	return func(o *options) error {
		if path == "" {
			return errdefs.Invalid("builtin runtime: empty binary path")
		}
		o.binary = path
		return nil
	}
}
