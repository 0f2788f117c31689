//go:build linux

package oci

import (
	"bufio"
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/internal/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// cgroupMounts are the host's cgroup hierarchies, where the binary makes a
// container's cgroup: for an absolute cgroupsPath, runc and crun use
// <mount point><cgroupsPath> in every hierarchy.
type cgroupMounts struct {
	memory  string   // mount point of the v1 memory hierarchy, or ""
	unified string   // mount point of the cgroup2 hierarchy, or ""
	all     []string // every mount point, v1 and v2
}

// readCgroupMounts reads the cgroup mounts from /proc/self/mountinfo; a
// host without cgroups has none, and then nothing to read or clean up.
func readCgroupMounts() cgroupMounts {
	var m cgroupMounts
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return m
	}
	defer f.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, sf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(sf) < 3 {
			continue
		}
		mnt := mountinfo.Unescape(pf[4])
		switch sf[0] {
		case "cgroup":
			for _, opt := range strings.Split(sf[2], ",") {
				if opt == "memory" && m.memory == "" {
					m.memory = mnt
				}
			}
		case "cgroup2":
			if m.unified == "" {
				m.unified = mnt
			}
		default:
			continue
		}
		if !seen[mnt] {
			seen[mnt] = true
			m.all = append(m.all, mnt)
		}
	}
	return m
}

// oomCounter returns what tells whether the kernel OOM-killed a process of
// the container's memory cgroup: the oom_kill count of memory.oom_control
// (cgroup v1, kernel 4.13 and later) or of memory.events (cgroup v2) is
// not zero, which is what Docker reports as OOMKilled. It is nil when the
// cgroup cannot be found: no memory controller, or a cgroupsPath that is
// not absolute (relative to the binary's own cgroup, or systemd's
// slice:prefix:name), which the engine does not write.
func (m cgroupMounts) oomCounter(l *specs.Linux) func() bool {
	if l == nil || !path.IsAbs(l.CgroupsPath) {
		return nil
	}
	var file string
	switch {
	case m.memory != "":
		file = filepath.Join(m.memory, l.CgroupsPath, "memory.oom_control")
	case m.unified != "":
		file = filepath.Join(m.unified, l.CgroupsPath, "memory.events")
	default:
		return nil
	}
	return func() bool { return readCount(file, "oom_kill") > 0 }
}

// readCount returns the value of key in a flat-keyed cgroup file, 0 when it
// cannot be read.
func readCount(file, key string) uint64 {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, _ := strings.Cut(line, " ")
		if k == key {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// removeOrphan empties and removes the cgroup at p (a path below the
// hierarchies' roots) in every hierarchy where it still exists; a no-op
// after a successful `delete`.
func (m cgroupMounts) removeOrphan(ctx context.Context, p string) error {
	var dirs []string
	for _, mnt := range m.all {
		d := filepath.Join(mnt, p)
		if _, err := os.Stat(d); err == nil {
			dirs = append(dirs, d)
		}
	}
	if len(dirs) == 0 {
		return nil
	}
	for i := 0; ; i++ {
		var pids []int
		for _, d := range dirs {
			pids = append(pids, cgroupPids(d)...)
		}
		if len(pids) == 0 {
			break
		}
		if i == 400 || ctx.Err() != nil {
			return errdefs.Busy("cgroup %s: processes %v do not die", p, pids)
		}
		for _, pid := range pids {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, d := range dirs {
		var err error
		for i := 0; i < 100; i++ {
			// Dying processes may hold the cgroup a little longer.
			if err = unix.Rmdir(d); err == nil || errors.Is(err, fs.ErrNotExist) || !errors.Is(err, unix.EBUSY) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return errdefs.Busy("cgroup %s: %w", d, err)
		}
	}
	return nil
}

// cgroupPids lists the processes of the cgroup directory d.
func cgroupPids(d string) []int {
	data, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}
