// Command enginefs-init is the built-in runtime's child: a container's
// first process until it executes the container's program, and the helper
// that starts a process in a running container (see package
// runtime/builtin/nsinit). The keeper runs it when it finds it beside its
// own executable; nobody else should:
//
//	enginefs-init    (refuses to run unless the runtime started it)
//
// It links nothing but the child's code, so that it starts in a fraction
// of the time the keeper's binary takes, which every container start and
// every exec pays.
package main

import "github.com/enginefs/enginefs/runtime/builtin/nsinit"

func main() {
	nsinit.Main()
}
