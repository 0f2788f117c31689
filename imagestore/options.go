package imagestore

import (
	"log"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Option configures New.
type Option func(*options)

type options struct {
	lockTimeout time.Duration
	platform    v1.Platform
	logf        func(format string, args ...any)
	registries  Registries
	maxLayer    int64 // WithMaxLayerSize
	maxArchive  int64 // WithMaxArchiveSize
}

func defaultOptions() options {
	return options{
		lockTimeout: 5 * time.Second,
		platform:    v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH},
		logf:        log.Printf,
		maxLayer:    DefaultMaxLayerSize,
		maxArchive:  DefaultMaxArchiveSize,
	}
}

// WithLogger sets where the store reports what it skips rather than fails
// on (an unreadable record at start-up). Default: the standard logger.
func WithLogger(logf func(format string, args ...any)) Option {
	return func(o *options) { o.logf = logf }
}

// WithLockTimeout sets how long New waits for another Store (in this or
// another process) that has the same root open to close it; after that New
// fails with errdefs.ErrBusy. Default 5s. Zero waits forever.
func WithLockTimeout(d time.Duration) Option {
	return func(o *options) { o.lockTimeout = d }
}

// WithPlatform sets the platform Load picks from a multi-platform OCI image
// index. Default: the host's (runtime.GOOS/runtime.GOARCH, any variant).
func WithPlatform(p v1.Platform) Option {
	return func(o *options) { o.platform = p }
}
