package imagestore

import (
	"github.com/enginefs/enginefs/errdefs"
)

// classify wraps err, which must not be nil, with format (whose last verb
// is %w for err) and its class (errdefs.HostClass).
func classify(err error, format string, a ...any) error {
	return errdefs.New(errdefs.HostClass(err), format, append(a, err)...)
}
