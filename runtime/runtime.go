// Package runtime turns a container into an OCI runtime-spec bundle and runs it.
//
// The bundle (a directory with config.json and a rootfs) is the contract
// between the engine and a runtime: Spec builds the config the way Docker
// does by default, WriteBundle stores it, and a Runtime runs it. The built-in
// runtime lives in runtime/builtin; any OCI runtime binary (runc, crun) is
// meant to run the same bundle.
package runtime

import (
	"context"
	"os"
	"syscall"
	"time"
)

// Runtime runs containers from bundles. Implementations are safe for
// concurrent use by several goroutines.
type Runtime interface {
	// Start creates the container described by the bundle and starts its
	// process. It returns once the process runs the user's program, or with
	// an error if it could not get there (an executable that does not
	// exist is errdefs.ErrInvalid, a missing bundle errdefs.ErrNotFound),
	// in which case nothing of the container is left behind.
	Start(ctx context.Context, c Container) (Process, error)
	// Delete removes what the runtime keeps of a container whose process
	// has no Process.Wait to clean up after it (the daemon that started it
	// died): it kills whatever still runs in the container's cgroup and
	// removes the cgroup. Deleting what is not there is not an error.
	Delete(ctx context.Context, id string) error
}

// Container is what Start needs to know about one container.
type Container struct {
	ID     string // unique; names the cgroup and the runtime's state
	Bundle string // directory holding config.json and the rootfs
	Stdio  Stdio
}

// Stdio holds the files given to the container's process. A nil file is
// /dev/null. Start does not close them; the caller may close its copies once
// Start returned.
type Stdio struct {
	Stdin, Stdout, Stderr *os.File
}

// Process is a started container's init process.
type Process interface {
	// Pid is the process id in the daemon's pid namespace.
	Pid() int
	// Signal sends sig to the container's init process. Signalling a
	// process that has exited is an error wrapping os.ErrProcessDone.
	Signal(sig syscall.Signal) error
	// Wait blocks until the process has exited and the container's
	// resources (cgroup, namespaces) are released, and returns how it
	// ended. It may be called by several goroutines; all see the same result.
	Wait(ctx context.Context) (ExitStatus, error)
}

// ExitStatus is how a container's process ended, as Docker reports it: Code is
// the exit code, or 128+signal for a process killed by a signal.
type ExitStatus struct {
	Code      int
	Signal    syscall.Signal // 0 unless killed by a signal
	OOMKilled bool
	ExitedAt  time.Time
}
