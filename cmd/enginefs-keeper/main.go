// Command enginefs-keeper is the keeper: the one small process that runs
// every container's processes outside the daemon, so that they outlive it
// (see package runtime/keeper). The daemon starts it when none runs.
//
//	enginefs-keeper [--run DIR] [--idle DURATION] [--detach]
//
// The built-in runtime's child (each container's init, each exec's helper)
// is enginefs-init when it is installed beside the keeper, else this very
// executable, re-executed: it links, and initialises, no image store, FUSE
// or 9P, but starts slower than enginefs-init (see keeper.NewRuntime).
package main

import (
	"github.com/enginefs/enginefs/runtime/builtin"
	"github.com/enginefs/enginefs/runtime/keeper"
)

func main() {
	if builtin.IsInit() {
		builtin.Init() // never returns
	}
	keeper.Main()
}
