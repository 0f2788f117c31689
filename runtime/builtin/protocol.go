//go:build linux

package builtin

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/enginefs/enginefs/errdefs"
)

// The parent and the child talk over two pipes, both inherited by the child
// at fixed descriptors:
//
//   - the init pipe (parent → child, fd 3) carries a 4-byte big-endian length
//     and the JSON initConfig, then the one-byte go-ahead, once the
//     container's cgroup exists (at once on cgroup v2, where the child is
//     cloned into it; on v1 the child then moves itself into it). The parent
//     then closes the pipe; EOF instead of the go-ahead means "give up", and
//     the child exits quietly.
//   - the error pipe (child → parent, fd 4) is close-on-exec in the child.
//     The child writes one JSON initError to it if setup or execve fails;
//     EOF with nothing read means execve succeeded.
//
// The child never waits for the go-ahead before it needs it: it builds the
// root while the parent creates the cgroup, and waits only at the cgroup
// mount (which needs the cgroup) or just before pivot_root (after which the
// host's cgroup directories are out of its sight), whichever comes first.
const (
	initArg0  = "enginefs-init" // argv[0] of the child; IsInit looks for it
	initFd    = 3
	errorFd   = 4
	consoleFd = 5 // with a terminal: the socket the child sends the master on
	goAhead   = 'g'
	maxConfig = 16 << 20 // sanity bound on the init message
)

// initConfig is everything the child needs, decided by the parent (see
// newInitConfig): the spec turned into what the system calls want, checked,
// plus what the parent knows of the host. Only plain types travel: the
// child decodes it cold, and decoding the whole specs.Spec there costs a
// millisecond of reflection where this takes a tenth of that.
type initConfig struct {
	Args  []string `json:"args"`
	Env   []string `json:"env"`
	Cwd   string   `json:"cwd"` // absolute, clean
	UID   uint32   `json:"uid"`
	GID   uint32   `json:"gid"`
	Gids  []uint32 `json:"gids,omitempty"`
	Umask int      `json:"umask"`
	// Rlimits, NoNewPrivs, OOMScoreAdj: from the spec's process.
	Rlimits     []rlimit `json:"rlimits,omitempty"`
	NoNewPrivs  bool     `json:"noNewPrivs,omitempty"`
	OOMScoreAdj *int     `json:"oomScoreAdj,omitempty"`
	Caps        capSets  `json:"caps"`

	Hostname   string `json:"hostname,omitempty"`
	Domainname string `json:"domainname,omitempty"`

	Rootfs       string `json:"rootfs"` // absolute host path
	ReadonlyRoot bool   `json:"readonlyRoot,omitempty"`
	// RootPropagation is applied to / after pivot_root (0: leave private).
	RootPropagation uintptr      `json:"rootPropagation,omitempty"`
	Mounts          []mountEntry `json:"mounts,omitempty"`
	// SetupDev: /dev is the container's own (not the host's, bound), so
	// the child makes Devices there, the usual symlinks, and /dev/ptmx
	// pointing into Devpts.
	SetupDev bool         `json:"setupDev,omitempty"`
	Devpts   bool         `json:"devpts,omitempty"`
	Devices  []deviceNode `json:"devices,omitempty"`
	// Sysctls are written once /proc is the container's; Path is below
	// /proc/sys.
	Sysctls       []sysctl `json:"sysctls,omitempty"`
	MaskedPaths   []string `json:"maskedPaths,omitempty"`
	ReadonlyPaths []string `json:"readonlyPaths,omitempty"`

	// Join lists the namespaces to enter with setns (net, uts, ipc).
	Join []nsPath `json:"join,omitempty"`
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
	Cgroups []cgroupDir `json:"cgroups,omitempty"`
	// JoinCgroup (cgroup v1): at the go-ahead the child moves its thread
	// into each of Cgroups. On v2 it was cloned into its cgroup.
	JoinCgroup bool `json:"joinCgroup,omitempty"`
	// Console: the child allocates a pseudo-terminal in the container's
	// /dev/pts, binds its slave at /dev/console, makes it its stdio and
	// controlling terminal, and sends the master to the parent over the
	// console socket (fd 5).
	Console bool `json:"console,omitempty"`
	// ConsoleSize is the terminal's initial size, rows then columns.
	ConsoleSize *[2]uint16 `json:"consoleSize,omitempty"`
}

// mountEntry is one of the spec's mounts, its options parsed.
type mountEntry struct {
	Dest   string `json:"dest"` // absolute, clean
	Type   string `json:"type"`
	Source string `json:"source"` // for a bind: absolute host path
	// Kind is how the child mounts it: kindMount, kindBind or kindCgroup.
	Kind        int       `json:"kind,omitempty"`
	File        bool      `json:"file,omitempty"` // a bind of a file: the target is a file
	Flags       uintptr   `json:"flags,omitempty"`
	Propagation []uintptr `json:"propagation,omitempty"`
	Data        string    `json:"data,omitempty"`
}

// The kinds of mountEntry.
const (
	kindMount  = iota // mount(2) of a filesystem
	kindBind          // bind mount, then a remount for the other flags
	kindCgroup        // the container's cgroup (see mountCgroup)
)

// deviceNode is a node to create in the container's /dev.
type deviceNode struct {
	Path string `json:"path"` // absolute, clean
	Mode uint32 `json:"mode"` // type and permission bits, as mknod wants
	Dev  uint64 `json:"dev"`
	UID  int    `json:"uid"` // -1: leave it
	GID  int    `json:"gid"`
}

// rlimit is a resource limit of the process.
type rlimit struct {
	Resource int    `json:"resource"`
	Soft     uint64 `json:"soft"`
	Hard     uint64 `json:"hard"`
}

// sysctl is one kernel parameter to set.
type sysctl struct {
	Path  string `json:"path"` // below /proc/sys
	Value string `json:"value"`
}

// nsPath is a namespace to join.
type nsPath struct {
	Flag int    `json:"flag"` // CLONE_NEWNET...
	Path string `json:"path"`
}

// cgroupDir is the container's cgroup in one hierarchy: Name is the
// directory below /sys/fs/cgroup ("memory", "cpu", "systemd"), Source the
// host path of the cgroup.
type cgroupDir struct {
	Name   string `json:"name"`
	Source string `json:"source"`
}

// initError is an error of the child as it crosses the error pipe.
type initError struct {
	Class   string `json:"class,omitempty"` // the class's text, as errdefs.ErrInvalid.Error()
	Message string `json:"message"`
}

// classes are the errdefs classes an initError may carry.
var classes = []error{
	errdefs.ErrNotFound, errdefs.ErrAlreadyExists, errdefs.ErrInvalid,
	errdefs.ErrBusy, errdefs.ErrPermission, errdefs.ErrUnavailable,
}

// encodeConfig frames cfg (an *initConfig or an *execConfig) for the
// config pipe.
func encodeConfig(cfg any) ([]byte, error) {
	data, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	msg := make([]byte, 4, 4+len(data))
	binary.BigEndian.PutUint32(msg, uint32(len(data)))
	return append(msg, data...), nil
}

// readFrame reads into cfg what encodeConfig framed.
func readFrame(r io.Reader, cfg any) error {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > maxConfig {
		return fmt.Errorf("config of %d bytes", size)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(r, data); err != nil {
		return err
	}
	return json.Unmarshal(data, cfg)
}

// readConfig reads the initConfig framed by encodeConfig.
func readConfig(r io.Reader) (*initConfig, error) {
	var cfg initConfig
	if err := readFrame(r, &cfg); err != nil {
		return nil, err
	}
	if len(cfg.Args) == 0 || cfg.Rootfs == "" {
		return nil, errors.New("init config without a program or a root")
	}
	return &cfg, nil
}

// encodeError turns an error of the child into what crosses the pipe.
func encodeError(err error) []byte {
	e := initError{Message: err.Error()}
	if c := errdefs.Class(err); c != nil {
		e.Class = c.Error()
	}
	data, _ := json.Marshal(e)
	return data
}

// decodeError turns what the child wrote into an error of its class; an
// error without a class is errdefs.ErrUnavailable (the host could not do
// what the spec asks).
func decodeError(data []byte) error {
	var e initError
	if err := json.Unmarshal(data, &e); err != nil {
		return errdefs.Unavailable("container init: unreadable error %q", data)
	}
	for _, c := range classes {
		if c.Error() == e.Class {
			return errdefs.New(c, "%s", e.Message)
		}
	}
	return errdefs.Unavailable("%s", e.Message)
}
