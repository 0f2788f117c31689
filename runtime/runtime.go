// Package runtime turns a container into an OCI runtime-spec bundle and runs it.
//
// The bundle (a directory with config.json and a rootfs) is the contract
// between the engine and a runtime: Spec builds the config the way Docker
// does by default, WriteBundle stores it, and a Runtime runs it. The built-in
// runtime lives in runtime/builtin; runtime/oci drives any OCI runtime binary
// (runc, crun) with the same bundle, and runtime/runtimetest is the
// conformance suite both pass. ReadStats and Processes read a running
// container's cgroup, whichever runtime started it.
package runtime

import (
	"context"
	"os"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Runtime runs containers from bundles. Implementations are safe for
// concurrent use by several goroutines.
//
// The caller of Start and Exec must be able to reap the processes they
// start even when they are not its direct children (an OCI runtime binary
// exits and leaves the container to its caller): it is a child subreaper
// (prctl PR_SET_CHILD_SUBREAPER), as the keeper is.
type Runtime interface {
	// Start creates the container described by the bundle and starts its
	// process. It returns once the process runs the user's program, or with
	// an error if it could not get there (an executable that does not
	// exist is errdefs.ErrInvalid, a missing bundle errdefs.ErrNotFound),
	// in which case nothing of the container is left behind. When the
	// spec's process.terminal is set, the runtime allocates the
	// pseudo-terminal, the Stdio files are ignored, and Process.Console
	// returns the terminal's master.
	Start(ctx context.Context, c Container) (Process, error)
	// Exec starts another process in the running container id: in all its
	// namespaces and its cgroup, with the credentials, capabilities,
	// rlimits and no_new_privs the process spec gives. Terminal as Start.
	Exec(ctx context.Context, id string, e ExecProcess) (Process, error)
	// Pause freezes every process of the container (cgroup freezer);
	// Resume thaws them. Pausing a paused container is not an error.
	Pause(ctx context.Context, id string) error
	Resume(ctx context.Context, id string) error
	// Delete removes what the runtime keeps of a container once its init
	// process has exited and been waited for, or when it has no
	// Process.Wait to clean up after it (the process that started it
	// died): it kills whatever still runs in the container's cgroup and
	// removes the cgroup and any runtime state. Deleting what is not there
	// is not an error.
	Delete(ctx context.Context, id string) error
}

// Container is what Start needs to know about one container.
type Container struct {
	ID     string // unique; names the cgroup and the runtime's state
	Bundle string // directory holding config.json and the rootfs
	Stdio  Stdio
}

// ExecProcess is a process to start in a running container.
type ExecProcess struct {
	ID      string // unique within the container
	Bundle  string // the container's bundle, as given to Start
	Pid     int    // the container's init pid, in the caller's pid namespace
	Process *specs.Process
	Stdio   Stdio
}

// Stdio holds the files given to a process. A nil file is /dev/null. The
// runtime does not close them; the caller may close its copies once Start or
// Exec returned.
type Stdio struct {
	Stdin, Stdout, Stderr *os.File
}

// Process is a started container's init process, or an exec'd process.
type Process interface {
	// Pid is the process id in the caller's pid namespace.
	Pid() int
	// Signal sends sig to the process. Signalling a process that has
	// exited is an error wrapping os.ErrProcessDone.
	Signal(sig syscall.Signal) error
	// Wait blocks until the process has exited and, for an init process,
	// the container's resources (cgroup, namespaces) are released, and
	// returns how it ended. It may be called by several goroutines; all
	// see the same result.
	Wait(ctx context.Context) (ExitStatus, error)
	// Console is the master of the process's pseudo-terminal, nil when it
	// has none. The caller reads the output from it, writes the input to
	// it, and resizes it (TIOCSWINSZ); it stays open until the caller
	// closes it.
	Console() *os.File
}

// ExitStatus is how a process ended, as Docker reports it: Code is the exit
// code, or 128+signal for a process killed by a signal.
type ExitStatus struct {
	Code      int
	Signal    syscall.Signal // 0 unless killed by a signal
	OOMKilled bool
	ExitedAt  time.Time
}
