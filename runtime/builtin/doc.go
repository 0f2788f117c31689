// Package builtin is enginefs's own OCI runtime: it runs a bundle written by
// runtime.WriteBundle the way runc would, without an external binary.
//
// Entry points: [New] returns a [Runtime] whose Start runs a container and
// whose Exec runs another process in it, and [IsInit] and [Init] are the
// other half, run in the container's first process and in Exec's helper.
// A program that may be that binary must call them first thing in main:
//
//	func main() {
//		if builtin.IsInit() {
//			builtin.Init() // never returns
//		}
//		...
//	}
//
// The other half lives in package nsinit, which links nothing but the
// standard library and x/sys, so that cmd/enginefs-init, a binary of that
// package alone, is the cheapest child to start; [WithBinary] names it
// (the keeper does). By default the child is the running program itself
// (/proc/self/exe).
//
// Start re-executes the binary in fresh namespaces as the container's
// init. The parent turns the spec into a flat, checked nsinit.InitConfig
// (most spec errors surface before the fork: config.go) and sends it down a
// pipe. The child builds the container's root (mounts, device nodes,
// pivot_root), sets the hostname, brings up the loopback interface, limits
// its capabilities, switches to the container's user, looks the program up
// in the container's PATH and execs it; the program is pid 1 of the
// container. Setup and exec errors come back through a close-on-exec pipe,
// so Start either returns a running program or an error of an errdefs
// class, leaving nothing behind.
//
// With process.terminal, the child allocates a pseudo-terminal in the
// container's own devpts once it is mounted, binds the slave at
// /dev/console, makes it its stdio and controlling terminal, and sends the
// master to Start over a socket; Process.Console returns it.
//
// Exec re-executes the binary as a helper that stays a host process: it
// moves one locked thread into the container's cgroup and namespaces and
// forks the program from it, reports the child's pid and pidfd, and exits,
// leaving the child to Exec's caller, a child subreaper (exec.go here,
// nsinit's exec.go there).
// Pause and Resume drive the cgroup freezer (freezer.go).
//
// Cgroups are made with containerd/cgroups: cgroup v1 on legacy and hybrid
// hosts, cgroup v2 on unified ones. The process is in its cgroup before its
// program runs, without the global lock (and its RCU grace period, ~10ms)
// that writing a pid to cgroup.procs takes: on v2 the child is cloned into
// the cgroup (CLONE_INTO_CGROUP); on v1 the parent makes the cgroup while
// the child starts, and the child moves its own thread, the one that execs
// the program, by writing 0 to each hierarchy's tasks file. Exec's helper
// joins the same way. Wait reaps the process, reads the OOM-kill count and
// removes the cgroup. A swap limit the host cannot account is left out
// with a warning (runtime.Warnings), as Docker does.
//
// Not implemented yet: seccomp, AppArmor and SELinux labels, hooks, user
// namespaces and joining an existing pid or mount namespace; Start refuses
// a spec that asks for them (errdefs.ErrUnavailable) rather than run a
// container less confined than asked.
package builtin
