// Package oci runs containers with an OCI runtime binary (runc, crun) given
// the bundle runtime.WriteBundle wrote: the same bundle the built-in runtime
// runs, so either can run any container.
//
// Entry point: [New] returns a [Runtime] (a runtime.Runtime) for one binary.
// Each method is one or two invocations of the binary's command line, the
// one containerd's go-runc and Docker use:
//
//	Start   <binary> --root R create --bundle B --pid-file F [--console-socket S] ID
//	        <binary> --root R start ID
//	Exec    <binary> --root R exec --detach --pid-file F --process P.json [--console-socket S] ID
//	Pause   <binary> --root R pause ID      (Resume: resume)
//	Delete  <binary> --root R delete --force ID
//
// Every invocation also gets --log FILE --log-format json; the last error
// the binary logs there becomes the message of the returned error, whose
// errdefs class is read from it (see the Runtime methods).
//
// # Reaping
//
// The binary exits once the container runs, so the container's processes are
// not the caller's children: the kernel hands them, when the binary exits,
// to the nearest child subreaper among their ancestors. The caller must be
// one (prctl PR_SET_CHILD_SUBREAPER, see runtime.Runtime); Start and Exec
// check it and refuse otherwise (errdefs.ErrUnavailable). Reparenting
// happens in the kernel while the binary exits, before its exit can be
// waited for; so once `create` (or `exec --detach`) has been waited for, the
// pid in its pid file is a child of the caller, alive or a zombie that
// nobody else may reap. Its pid cannot be reused until the caller reaps it,
// which makes the pidfd opened on it then (pidfd_open) refer to that process
// for good. Start checks that the process's parent is indeed the caller
// before trusting the pid. Wait then waits on the pidfd (waitid P_PIDFD,
// WNOWAIT), reads the container's OOM-kill count while the cgroup is still
// there, reaps the zombie with wait4 and, for a container's init, runs
// `delete --force` so the binary's state and the cgroup go. Signal sends
// signals through the pidfd (pidfd_send_signal, kill(2) without the risk of
// a recycled pid) instead of running `<binary> kill`. Nothing else in the
// caller may wait for any child (wait4(-1), waitid(P_ALL)): it would take
// the statuses that Wait reports.
//
// A binary killed half way through `create` or `exec` would leave its own
// children (its init stages, the container's first process) to the caller
// without their pids. So create and exec are not killed when the caller's
// context ends, only after a grace of 10s; when one is, its leftovers are
// found among the caller's children by the session the binary ran in, and
// by the container's cgroup for create, and are killed and reaped.
package oci
