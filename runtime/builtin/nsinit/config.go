//go:build linux

package nsinit

import "encoding/json"

// InitConfig is everything a container's init needs, decided by the parent:
// the spec turned into what the system calls want, checked, plus what the
// parent knows of the host. Only plain types travel: the child decodes it
// cold, and decoding the whole runtime-spec there costs a millisecond of
// reflection where this takes a tenth of that.
type InitConfig struct {
	Args  []string `json:"args"`
	Env   []string `json:"env"`
	Cwd   string   `json:"cwd"` // absolute, clean
	UID   uint32   `json:"uid"`
	GID   uint32   `json:"gid"`
	Gids  []uint32 `json:"gids,omitempty"`
	Umask int      `json:"umask"`
	// Rlimits, NoNewPrivs, OOMScoreAdj: from the spec's process.
	Rlimits     []Rlimit `json:"rlimits,omitempty"`
	NoNewPrivs  bool     `json:"noNewPrivs,omitempty"`
	OOMScoreAdj *int     `json:"oomScoreAdj,omitempty"`
	Caps        CapSets  `json:"caps"`
	// Seccomp is the system-call filter, if any (see Seccomp).
	Seccomp *Seccomp `json:"seccomp,omitempty"`

	Hostname   string `json:"hostname,omitempty"`
	Domainname string `json:"domainname,omitempty"`

	Rootfs       string `json:"rootfs"` // absolute host path
	ReadonlyRoot bool   `json:"readonlyRoot,omitempty"`
	// RootPropagation is applied to / after pivot_root (0: leave private).
	RootPropagation uintptr `json:"rootPropagation,omitempty"`
	Mounts          []Mount `json:"mounts,omitempty"`
	// SetupDev: /dev is the container's own (not the host's, bound), so
	// the child makes Devices there, the usual symlinks, and /dev/ptmx
	// pointing into Devpts.
	SetupDev bool     `json:"setupDev,omitempty"`
	Devpts   bool     `json:"devpts,omitempty"`
	Devices  []Device `json:"devices,omitempty"`
	// Sysctls are written once /proc is the container's; Path is below
	// /proc/sys.
	Sysctls       []Sysctl `json:"sysctls,omitempty"`
	MaskedPaths   []string `json:"maskedPaths,omitempty"`
	ReadonlyPaths []string `json:"readonlyPaths,omitempty"`

	// Join lists the namespaces to enter with setns (net, uts, ipc).
	Join []Namespace `json:"join,omitempty"`
	// NewUTS and NewNet say the child is in fresh uts and net namespaces,
	// where it sets the hostname and brings up lo.
	NewUTS bool `json:"newUts,omitempty"`
	NewNet bool `json:"newNet,omitempty"`
	// CgroupNS asks for a cgroup namespace, unshared once the child is in
	// its cgroup so that the cgroup is the namespace's root.
	CgroupNS bool `json:"cgroupNs,omitempty"`
	// Cgroups are the host directories of the container's cgroup, for the
	// "cgroup" mount: one per v1 hierarchy, or a single one with an empty
	// Name on cgroup v2.
	Cgroups []CgroupDir `json:"cgroups,omitempty"`
	// JoinCgroup (cgroup v1): at the go-ahead the child moves its thread
	// into each of Cgroups. On v2 it was cloned into its cgroup.
	JoinCgroup bool `json:"joinCgroup,omitempty"`
	// Console: the child allocates a pseudo-terminal in the container's
	// /dev/pts, binds its slave at /dev/console, makes it its stdio and
	// controlling terminal, and sends the master to the parent over the
	// console socket (ConsoleFd).
	Console bool `json:"console,omitempty"`
	// ConsoleSize is the terminal's initial size, rows then columns.
	ConsoleSize *[2]uint16 `json:"consoleSize,omitempty"`
}

// Mount is one of the spec's mounts, its options parsed.
type Mount struct {
	Dest   string `json:"dest"` // absolute, clean
	Type   string `json:"type"`
	Source string `json:"source"` // for a bind: absolute host path
	// Kind is how the child mounts it: KindMount, KindBind or KindCgroup.
	Kind        int       `json:"kind,omitempty"`
	File        bool      `json:"file,omitempty"` // a bind of a file: the target is a file
	Flags       uintptr   `json:"flags,omitempty"`
	Propagation []uintptr `json:"propagation,omitempty"`
	Data        string    `json:"data,omitempty"`
}

// The kinds of Mount.
const (
	KindMount  = iota // mount(2) of a filesystem
	KindBind          // bind mount, then a remount for the other flags
	KindCgroup        // the container's cgroup (see mountCgroup)
)

// Device is a node to create in the container's /dev.
type Device struct {
	Path string `json:"path"` // absolute, clean
	Mode uint32 `json:"mode"` // type and permission bits, as mknod wants
	Dev  uint64 `json:"dev"`
	UID  int    `json:"uid"` // -1: leave it
	GID  int    `json:"gid"`
}

// Rlimit is a resource limit of the process.
type Rlimit struct {
	Resource int    `json:"resource"`
	Soft     uint64 `json:"soft"`
	Hard     uint64 `json:"hard"`
}

// Sysctl is one kernel parameter to set.
type Sysctl struct {
	Path  string `json:"path"` // below /proc/sys
	Value string `json:"value"`
}

// Namespace is a namespace to join.
type Namespace struct {
	Flag int    `json:"flag"` // CLONE_NEWNET...
	Path string `json:"path"`
}

// CgroupDir is the container's cgroup in one hierarchy: Name is the
// directory below /sys/fs/cgroup ("memory", "cpu", "systemd"), Source the
// host path of the cgroup.
type CgroupDir struct {
	Name   string `json:"name"`
	Source string `json:"source"`
}

// ExecConfig is what the exec helper needs, checked by the parent.
type ExecConfig struct {
	Args  []string `json:"args"`
	Env   []string `json:"env"`
	Cwd   string   `json:"cwd"` // absolute, clean
	UID   uint32   `json:"uid"`
	GID   uint32   `json:"gid"`
	Gids  []uint32 `json:"gids,omitempty"`
	Umask int      `json:"umask"`

	Rlimits    []Rlimit `json:"rlimits,omitempty"`
	NoNewPrivs bool     `json:"noNewPrivs,omitempty"`
	Caps       CapSets  `json:"caps"`
	Seccomp    *Seccomp `json:"seccomp,omitempty"`

	// Pid is the host pid behind ExecPidFd, for kernels that cannot
	// setns through a pidfd (before 5.8): they go through /proc/<pid>/ns.
	Pid int `json:"pid"`
	// Tasks (cgroup v1) are the tasks files the helper's thread is moved
	// into before it forks.
	Tasks []string `json:"tasks,omitempty"`
	// CgroupFD (cgroup v2): the child is cloned into ExecCgroupFd.
	CgroupFD bool `json:"cgroupFd,omitempty"`
	// Terminal: stdin is the pty, to be the child's controlling terminal.
	Terminal bool `json:"terminal,omitempty"`
}

// ExecReport is what the exec helper answers: the child's pid (its pidfd
// rides along as SCM_RIGHTS), or why it failed.
type ExecReport struct {
	Pid   int             `json:"pid,omitempty"`
	Error json.RawMessage `json:"error,omitempty"` // an initError
}

// Seccomp is a compiled system-call filter: struct sock_filter entries in
// the machine's layout (8 bytes each; bytes decode faster than a list of
// structs) and the flags of seccomp(2). The parent compiles it
// (runtime/seccomp); the child only installs it.
type Seccomp struct {
	Filter []byte `json:"filter"`
	Flags  uint   `json:"flags,omitempty"`
}
