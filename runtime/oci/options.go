package oci

import (
	"path/filepath"

	"github.com/enginefs/enginefs/errdefs"
)

// DefaultRootParent holds the state directories of the runtime binaries by
// default: the state of runc is in DefaultRootParent/runc. It keeps the
// engine's containers apart from the binary's own default (/run/runc), so
// that `runc list` there does not show them and a container id can be used
// by both without a clash.
const DefaultRootParent = "/run/enginefs/oci"

// Option configures a Runtime built by New.
type Option func(*options) error

type options struct {
	root    string
	tempDir string
}

// WithRoot sets the directory where the binary keeps the state of its
// containers (its --root). The default is DefaultRootParent/<base name of
// the binary>, e.g. /run/enginefs/oci/runc. The directory must be on a
// filesystem that does not outlive the machine (a tmpfs, as /run is): a
// container does not survive a reboot, and its stale state would make its
// id unusable.
func WithRoot(dir string) Option {
	return func(o *options) error {
		if dir == "" {
			return errdefs.Invalid("oci runtime: empty root directory")
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return errdefs.Invalid("oci runtime: root directory %q: %w", dir, err)
		}
		o.root = abs
		return nil
	}
}

// WithTempDir sets where Start and Exec make the short-lived directory that
// holds the pid file, the log and the console socket of one invocation; it
// is removed when the call returns. The default is os.TempDir(). The path
// must be short: a unix socket path is at most 107 bytes.
func WithTempDir(dir string) Option {
	return func(o *options) error {
		if dir == "" {
			return errdefs.Invalid("oci runtime: empty temporary directory")
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return errdefs.Invalid("oci runtime: temporary directory %q: %w", dir, err)
		}
		if len(abs) > maxTempDirLen {
			return errdefs.Invalid("oci runtime: temporary directory %s: longer than %d bytes, too long for a console socket path", abs, maxTempDirLen)
		}
		o.tempDir = abs
		return nil
	}
}

// maxTempDirLen leaves room, below the 107 bytes of a socket path, for the
// name of the per-call directory and of the socket in it.
const maxTempDirLen = 64
