package builder

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/enginefs/enginefs/engine"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/imagestore"
)

// Options are a build's options, docker build's (POST /build's query).
type Options struct {
	// Tags name the result ("x" is "x:latest"); none leaves it untagged.
	Tags []string
	// Dockerfile is its path in the context ("" is Dockerfile, or
	// dockerfile when that is absent).
	Dockerfile string
	// BuildArgs are --build-arg values; a nil value names an argument
	// without one (docker's `--build-arg NAME` with NAME unset).
	BuildArgs map[string]*string
	// Target is the stage to build up to (all of them when "").
	Target string
	// Labels are added to the result, as LABEL steps at the end of the
	// last stage.
	Labels map[string]string
	// NoCache builds every step; Pull pulls FROM images even when present.
	NoCache, Pull bool
	// CacheFrom are images whose history may serve as cache.
	CacheFrom []string
	// Quiet shows only the image id on success.
	Quiet bool
	// NetworkMode is the network of RUN containers: "" or "default" is
	// the daemon's default network; "host", "none" or a network.
	NetworkMode string
	// Resources, Ulimits and ShmSize limit RUN containers.
	Resources engine.Resources
	Ulimits   []engine.Ulimit
	ShmSize   int64
	// Platform is the platform of FROM images (nil: the host's).
	Platform *v1.Platform
	// Auth are credentials for pulls, by registry host (docker's
	// X-Registry-Config); used for this build only.
	Auth map[string]authn.AuthConfig
}

// validate checks the options that need no context.
func (o *Options) validate() error {
	for _, t := range o.Tags {
		r, err := imagestore.ParseReference(t)
		if err != nil {
			return errdefs.Invalid("invalid reference format: %q: %v", t, err)
		}
		if strings.Contains(r.Name(), "@") {
			return errdefs.Invalid("build tag cannot contain a digest: %q", t)
		}
	}
	if strings.Contains(o.Dockerfile, "\x00") {
		return errdefs.Invalid("dockerfile %q: bad path", o.Dockerfile)
	}
	for k := range o.BuildArgs {
		if k == "" || strings.ContainsAny(k, "= \t\n") {
			return errdefs.Invalid("invalid build-arg name %q", k)
		}
	}
	if o.ShmSize < 0 {
		return errdefs.Invalid("shm size %d is negative", o.ShmSize)
	}
	return nil
}

// proxyArgs are the build args docker knows without an ARG: passed to RUN,
// not shown in history unless declared.
var proxyArgs = map[string]bool{
	"HTTP_PROXY": true, "http_proxy": true, "HTTPS_PROXY": true, "https_proxy": true,
	"FTP_PROXY": true, "ftp_proxy": true, "NO_PROXY": true, "no_proxy": true,
	"ALL_PROXY": true, "all_proxy": true,
}

// authFor returns the credentials of ref's registry among o.Auth, if any.
func (o *Options) authFor(ref string) *authn.AuthConfig {
	if len(o.Auth) == 0 {
		return nil
	}
	r, err := imagestore.ParseReference(ref)
	if err != nil {
		return nil
	}
	host := r.Context().RegistryStr()
	for _, k := range []string{host, "https://" + host, "http://" + host} {
		if a, ok := o.Auth[k]; ok {
			return &a
		}
	}
	if host == "index.docker.io" {
		if a, ok := o.Auth["https://index.docker.io/v1/"]; ok {
			return &a
		}
	}
	return nil
}

// platformString is o.Platform as os/arch[/variant].
func (o *Options) platformString() string {
	if o.Platform == nil {
		return ""
	}
	return fmt.Sprint(o.Platform)
}
