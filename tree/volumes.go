package tree

import (
	"github.com/docker/docker/api/types/container"

	"github.com/enginefs/enginefs/engine"
	"github.com/enginefs/enginefs/fs"
)

// volumes is /volumes.
func (t *tree) volumes() fs.Dir { return fs.StaticDir{} }

// mountPoints is docker's Mounts of a container.
func mountPoints(r engine.Record) []container.MountPoint { return []container.MountPoint{} }
