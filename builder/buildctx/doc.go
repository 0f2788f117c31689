// Package buildctx holds what a Dockerfile's COPY and ADD read and write,
// with the behaviour of Docker's legacy (non-BuildKit) builder.
//
// The daemon side starts with [Extract], which unpacks the build context
// tar a client sent into a private directory and computes the per-file
// tarsums the build cache keys on; [Context.RemoveIgnored] then drops the
// Dockerfile and .dockerignore when .dockerignore says so, which is the
// only filtering the daemon does. The client side is [TarDir], which tars
// a directory honouring .dockerignore as the docker CLI does.
//
// COPY and ADD resolve their source patterns with [Context.Sources] (or
// [RootSources] for COPY --from, whose root is a mounted image), summarise
// them for the cache with [SourcesHash], and copy them into a container's
// root file system with [Copy]. [ResolveChown] and [ParseChmod] read the
// --chown and --chmod flags; [Fetch] downloads an ADD URL.
//
// Paths inside a source root and inside a container root resolve with
// chroot semantics: a symlink, absolute or not, never leads out of its
// root. Every file is opened through openat2 from a descriptor of its
// root, so a hostile context, image or archive cannot make the daemon read
// or write outside it.
package buildctx
