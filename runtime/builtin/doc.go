// Package builtin is enginefs's own OCI runtime: it runs a bundle written by
// runtime.WriteBundle the way runc would, without an external binary.
//
// Entry points: [New] returns a [Runtime] whose Start runs a container, and
// [IsInit] and [Init] are the other half, run in the container's first
// process. The daemon must call them first thing in main:
//
//	func main() {
//		if builtin.IsInit() {
//			builtin.Init() // never returns
//		}
//		...
//	}
//
// Start re-executes the daemon's binary (/proc/self/exe by default) in fresh
// namespaces as that process. The parent turns the spec into a flat,
// checked config (most spec errors surface before the fork) and sends it
// down a pipe. The child builds the container's root (mounts, device nodes,
// pivot_root), sets the hostname, brings up the loopback interface, switches
// to the container's user, looks the program up in the container's PATH
// and execs it; the program is pid 1 of the container. Setup and exec errors
// come back through a close-on-exec pipe, so Start either returns a running
// program or an error of an errdefs class, leaving nothing behind.
//
// Cgroups are made with containerd/cgroups: cgroup v1 on legacy and hybrid
// hosts, cgroup v2 on unified ones. The process is in its cgroup before its
// program runs, without the global lock (and its RCU grace period, ~10ms)
// that writing a pid to cgroup.procs takes: on v2 the child is cloned into
// the cgroup (CLONE_INTO_CGROUP); on v1 the parent makes the cgroup while
// the child starts, and the child moves its own thread, the one that execs
// the program, by writing 0 to each hierarchy's tasks file. Wait reaps the
// process, reads the OOM-kill count and removes the cgroup.
//
// Not implemented yet: capabilities, seccomp, AppArmor and SELinux labels,
// hooks, user namespaces and joining an existing pid or mount namespace;
// Start refuses a spec that asks for them (errdefs.ErrUnavailable) rather
// than run a container less confined than asked.
package builtin
