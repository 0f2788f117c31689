package tree

import "github.com/enginefs/enginefs/fs"

// volumes is /volumes.
func (t *tree) volumes() fs.Dir { return fs.StaticDir{} }
