package engine

import (
	"github.com/enginefs/enginefs/imagestore"
	"github.com/enginefs/enginefs/runtime"
)

// The engine's names for what it passes on from the image store and the
// runtime, so that its clients (the tree) speak to the engine alone and
// need not know which package below it keeps what.
type (
	// Image is an image of the store (imagestore.Image).
	Image = imagestore.Image
	// LoadedImage is an image an archive loaded, with its tags.
	LoadedImage = imagestore.LoadedImage
	// DeleteResult says what a removal or prune of images did.
	DeleteResult = imagestore.DeleteResult
	// PullOptions and PushOptions tune a transfer; PullResult says what a
	// pull got.
	PullOptions  = imagestore.PullOptions
	PushOptions  = imagestore.PushOptions
	PullResult   = imagestore.PullResult
	ProgressFunc = imagestore.ProgressFunc
	// ImageSpec is what CreateImage makes an image of.
	ImageSpec = imagestore.ImageSpec
	// ExitStatus is how a process ended.
	ExitStatus = runtime.ExitStatus
	// Stats is a sample of a container's resource use; CPUStats its CPU
	// part.
	Stats    = runtime.Stats
	CPUStats = runtime.CPUStats
	// ProcessInfo is one process of a container (top).
	ProcessInfo = runtime.ProcessInfo
)

// PsTitles are the column titles of top's processes (ps -ef's).
var PsTitles = runtime.PsTitles
