// Command enginefs-keeper is the keeper: the one small process that runs
// every container's processes outside the daemon, so that they outlive it
// (see package runtime/keeper). The daemon starts it when none runs.
//
//	enginefs-keeper [--run DIR] [--idle DURATION] [--detach]
//
// The same executable is the built-in runtime's container init: the keeper
// re-executes itself to start a container, which keeps starts fast: it
// links, and initialises, no image store, FUSE or 9P.
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
