// Package imagestore keeps images: content-addressed blobs (sha256), each
// layer unpacked once into its own directory, and references (name:tag) that
// point at images. Containers get their root filesystem as an overlayfs whose
// lower directories are the image's unpacked layers.
//
// Entry points: New opens a store; Store.Load imports a docker-save or OCI
// archive; Store.Get resolves a reference or id; Store.Mount and Unmount build
// and tear down a container's rootfs.
//
// Registries: Store.Pull and Store.Push (go-containerregistry's remote,
// with docker's progress messages), Store.Login and Store.Logout (a
// docker-compatible config.json), configured by WithRegistries.
// Store.Save writes docker-save and OCI archives; Store.Delete and
// Store.Prune remove images and collect unreferenced blobs and layers;
// Repositories, Tags, Manifest and OpenBlob feed imagestore/registry,
// which serves the store as a registry.
//
// Building: Store.Create writes a new image from a directory of changes
// (an overlayfs upper directory) or a layer tar on top of a parent image,
// for docker build, commit and import; Store.Cached finds an image by its
// parent and build-cache key, Store.Children the images built on one.
//
// Caps: what a client sends (a registry's layers, an archive, an imported
// tar) is counted as it streams and refused over WithMaxLayerSize or
// WithMaxArchiveSize (DefaultMaxLayerSize, DefaultMaxArchiveSize), leaving
// nothing behind; the refusal is logged once.
//
// Also: Store.List and Store.Tag; ParseReference and Familiar, docker's
// reference normalisation and short form; Unpack, which writes one layer
// tar into a directory (overlayfs whiteouts, never outside it). The on-disk
// layout is described at Store. The package is Linux-only and expects root
// (owners, device nodes, trusted.* attributes, mounts).
package imagestore

import (
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Image is an image known to the store.
type Image struct {
	ID       string    // "sha256:<hex>", the digest of the config blob (docker's image id)
	RepoTags []string  // familiar references, sorted: "busybox:latest", "127.0.0.1:5000/x/y:v1"
	Created  time.Time // from the config
	Size     int64     // unpacked size of all layers, bytes
	Config   v1.ConfigFile
	Manifest []byte   // the manifest as stored
	Layers   []string // diff ids ("sha256:<hex>"), base first

	// ManifestDigest is the digest of Manifest ("sha256:<hex>"), what a
	// digest reference (busybox@sha256:<hex>) names. For a docker-save
	// archive, which carries no manifest, the store writes an OCI manifest
	// of the blobs as loaded.
	ManifestDigest string

	// RepoDigests are the references by digest the image was pulled or
	// pushed as, familiar ("127.0.0.1:5000/x/y@sha256:<hex>").
	RepoDigests []string
	// Blobs are the digests of the layer blobs, base first, as Manifest
	// lists them.
	Blobs []string
	// LayerSizes are the unpacked sizes of Layers, bytes.
	LayerSizes []int64

	// Parent is the id of the image Create built this one on ("" for
	// pulled and loaded images, and for images made from nothing), as
	// docker's legacy image store records it. An image that is some
	// image's parent is not removed while that child is there.
	Parent string
	// CacheKey is the build-cache key Create recorded with the image
	// ("" for none); see Store.Cached.
	CacheKey string
}
