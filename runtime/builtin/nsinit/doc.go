// Package nsinit is the child side of the built-in runtime: the code that
// runs in the process runtime/builtin re-executes, as a container's first
// process (argv[0] "enginefs-init") or as the helper of an exec
// ("enginefs-exec"), and the wire protocol between the two sides.
//
// Entry points: [IsInit] and [Init] are what a program's main calls first
// thing to be that process ([Main] does both, for cmd/enginefs-init);
// [InitConfig] and [ExecConfig] are the flat configs the parent sends, and
// [EncodeConfig], [DecodeError], [RecvFd] and [ReadExecReport] the parent's
// half of the protocol.
//
// It imports only the standard library, golang.org/x/sys/unix and errdefs,
// and must stay that way: every container start pays for the start-up of
// the binary it is linked into, and cmd/enginefs-init, which holds little
// more than this package, starts in well under half the time of a binary
// that also links the runtime-spec, cgroup and protobuf packages the parent
// needs.
//
// As the container's init, the child builds the container's root (mounts,
// device nodes, pivot_root: rootfs.go), sets the hostname, brings up the
// loopback interface, limits its capabilities (caps.go), switches to the
// container's user, looks the program up in the container's PATH and execs
// it (container.go); the program replaces the runtime's binary as pid 1 of
// the container. With a terminal it allocates one in the container's devpts
// and sends the master back (console.go). As Exec's helper it stays a host
// process, moves one locked thread into the container's cgroup and
// namespaces and forks the program from it (exec.go).
//
// Until it execs the program the child is not dumpable, so that no process
// of the container can open the runtime's binary through /proc/<pid>/exe
// (CVE-2019-5736); the parent may also run a sealed copy of the binary (see
// runtime/builtin), so that not even a program the kernel starts through
// /proc/self/exe can reach a file of the host.
package nsinit
