//go:build linux

package builtin

import "github.com/enginefs/enginefs/runtime/builtin/nsinit"

// IsInit reports whether this process is a container's first process,
// started by Start, or the helper of Exec; main must then call Init before
// doing anything else. See nsinit.IsInit.
func IsInit() bool { return nsinit.IsInit() }

// Init sets the container up and executes its program, or (as Exec's
// helper) starts a process in a container; it never returns. On failure it
// reports the error to Start or Exec and exits with status 1; if Start gave
// up on the container it exits with status 2. See nsinit.Init.
func Init() { nsinit.Init() }
