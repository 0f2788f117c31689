//go:build linux

package builtin

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/cgroups/v3"
	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime"
	"github.com/enginefs/enginefs/runtime/builtin/nsinit"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// unifiedMountpoint is where a unified host mounts cgroup v2.
const unifiedMountpoint = "/sys/fs/cgroup"

// cgroupHost is the host's cgroup setup, read once by New: either the v1
// hierarchies (legacy and hybrid hosts; the hybrid's v2 tree has no
// controllers and is left alone) or the v2 mountpoint.
type cgroupHost struct {
	v2 string // cgroup v2 mountpoint, or "" for v1
	v1 []cgroup1.Subsystem
	// noSwapAccounting pretends the host does not account swap (tests).
	noSwapAccounting bool
}

// pather is what cgroup1 subsystems that live in a directory implement.
type pather interface {
	Name() cgroup1.Name
	Path(path string) string
}

func newCgroupHost() (*cgroupHost, error) {
	switch cgroups.Mode() {
	case cgroups.Unified:
		return &cgroupHost{v2: unifiedMountpoint}, nil
	case cgroups.Legacy, cgroups.Hybrid:
		subs, err := cgroup1.Default()
		if err != nil {
			return nil, errdefs.Unavailable("cgroup v1 hierarchies: %w", err)
		}
		return &cgroupHost{v1: subs}, nil
	}
	return nil, errdefs.Unavailable("no cgroup filesystem at %s", unifiedMountpoint)
}

// hierarchy hands the subsystems read by New to cgroup1, which would
// otherwise parse /proc/self/mountinfo for every container.
func (h *cgroupHost) hierarchy() ([]cgroup1.Subsystem, error) { return h.v1, nil }

// dirs returns the host directories of the cgroup at p, as the child binds
// them at /sys/fs/cgroup.
func (h *cgroupHost) dirs(p string) []nsinit.CgroupDir {
	if h.v2 != "" {
		return []nsinit.CgroupDir{{Source: filepath.Join(h.v2, p)}}
	}
	var out []nsinit.CgroupDir
	for _, s := range h.v1 {
		if ps, ok := s.(pather); ok {
			out = append(out, nsinit.CgroupDir{Name: filepath.Base(ps.Path("/")), Source: ps.Path(p)})
		}
	}
	return out
}

// cgroup is one container's cgroup.
type cgroup struct {
	path   string
	dirs   []string // its directory in each hierarchy (one on v2)
	v1     cgroup1.Cgroup
	v2     *cgroup2.Manager
	events string // memory.events (v2) or memory.oom_control (v1); "" without a memory controller
}

// cgroupPath returns the cgroup path of a container: spec.Linux.CgroupsPath
// taken from the root of the hierarchies, or CgroupParent/<id>.
func cgroupPath(id string, s *specs.Spec) (string, error) {
	p := ""
	if s.Linux != nil {
		p = s.Linux.CgroupsPath
	}
	if p == "" {
		return runtime.CgroupParent + "/" + id, nil
	}
	if strings.Contains(p, ":") {
		return "", errdefs.Invalid("cgroupsPath %q: systemd cgroup paths are not supported", p)
	}
	clean := path.Clean("/" + p)
	if clean == "/" {
		return "", errdefs.Invalid("cgroupsPath %q is the root cgroup", p)
	}
	return clean, nil
}

// create makes the cgroup at p and applies res (devices, memory, cpu,
// pids...). An existing empty cgroup (left by a crash) is reused; one with
// processes is errdefs.ErrAlreadyExists.
//
// A swap limit on a host without swap accounting (cgroup v1 without
// memory.memsw.*, v2 without memory.swap.max) is left out, the memory limit
// applied alone, and the returned warnings say so, as Docker does.
func (h *cgroupHost) create(p string, res *specs.LinuxResources) (_ *cgroup, warnings []string, _ error) {
	if res == nil {
		res = &specs.LinuxResources{}
	}
	g := &cgroup{path: p}
	for _, d := range h.dirs(p) {
		g.dirs = append(g.dirs, d.Source)
	}
	if h.v2 != "" {
		dir := filepath.Join(h.v2, p)
		if err := checkUnused(dir); err != nil {
			return nil, nil, err
		}
		r := v2Resources(res)
		// Whether the host accounts swap shows in the cgroup only: the
		// swap limit is written once the cgroup exists.
		var swap *int64
		if r.Memory != nil {
			swap, r.Memory.Swap = r.Memory.Swap, nil
		}
		m, err := cgroup2.NewManager(h.v2, p, r)
		if err != nil {
			return nil, nil, nsinit.Classify(fmt.Errorf("cgroup %s: %w", p, err))
		}
		g.v2 = m
		if swap != nil {
			if _, err := os.Stat(filepath.Join(dir, "memory.swap.max")); err != nil || h.noSwapAccounting {
				warnings = append(warnings, runtime.SwapLimitWarning)
			} else if err := m.Update(&cgroup2.Resources{Memory: &cgroup2.Memory{Swap: swap}}); err != nil {
				_ = g.delete()
				return nil, nil, nsinit.Classify(fmt.Errorf("cgroup %s: swap limit: %w", p, err))
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "memory.events")); err == nil {
			g.events = filepath.Join(dir, "memory.events")
		}
		return g, warnings, nil
	}
	for _, s := range h.v1 {
		ps, ok := s.(pather)
		if !ok {
			continue
		}
		if ps.Name() == cgroup1.Devices {
			if err := checkUnused(ps.Path(p)); err != nil {
				return nil, nil, err
			}
		}
		if ps.Name() == cgroup1.Memory {
			g.events = filepath.Join(ps.Path(p), "memory.oom_control")
			if res.Memory != nil && res.Memory.Swap != nil && !h.swapAccounting(ps) {
				mem := *res.Memory
				mem.Swap = nil
				r := *res
				r.Memory = &mem
				res = &r
				warnings = append(warnings, runtime.SwapLimitWarning)
			}
		}
	}
	cg, err := cgroup1.New(cgroup1.StaticPath(p), res, cgroup1.WithHierarchy(h.hierarchy))
	if err != nil {
		// New stops at the first subsystem that fails; remove the others.
		if old, lerr := cgroup1.Load(cgroup1.StaticPath(p), cgroup1.WithHierarchy(h.hierarchy)); lerr == nil {
			_ = old.Delete()
		}
		return nil, nil, nsinit.Classify(fmt.Errorf("cgroup %s: %w", p, err))
	}
	g.v1 = cg
	return g, warnings, nil
}

// swapAccounting reports whether the v1 memory hierarchy accounts swap
// (memory.memsw.* exist: CONFIG_MEMCG_SWAP and swapaccount=1). Tests may
// set noSwapAccounting to run the other path.
func (h *cgroupHost) swapAccounting(memory pather) bool {
	if h.noSwapAccounting {
		return false
	}
	_, err := os.Stat(filepath.Join(memory.Path("/"), "memory.memsw.limit_in_bytes"))
	return err == nil
}

// v2Resources converts the spec's resources for cgroup v2 like
// cgroup2.ToResources, fixing what it gets wrong for Docker's values: a
// swap of -1 (unlimited) and a memory limit of -1 stay "max" rather than
// become negative numbers the kernel refuses, and the devices rules are
// spelled out for the eBPF filter.
func v2Resources(res *specs.LinuxResources) *cgroup2.Resources {
	r := cgroup2.ToResources(res)
	r.Devices = bpfDeviceRules(res.Devices)
	if m := res.Memory; m != nil && r.Memory != nil {
		if m.Swap != nil && *m.Swap < 0 {
			r.Memory.Swap = nil
		}
		if m.Limit != nil && *m.Limit < 0 {
			r.Memory.Max = nil
			r.Memory.Swap = nil
		}
	}
	return r
}

// bpfDeviceRules spells out what the spec leaves implicit in device rules
// (no type is "a", no major or minor is -1), as the cgroup v2 device filter
// expects.
func bpfDeviceRules(rules []specs.LinuxDeviceCgroup) []specs.LinuxDeviceCgroup {
	out := make([]specs.LinuxDeviceCgroup, len(rules))
	for i, r := range rules {
		wildcard := int64(-1)
		if r.Type == "" {
			r.Type = "a"
		}
		if r.Major == nil {
			r.Major = &wildcard
		}
		if r.Minor == nil {
			r.Minor = &wildcard
		}
		out[i] = r
	}
	return out
}

// checkUnused fails if the cgroup directory dir exists and holds processes.
func checkUnused(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	return errdefs.AlreadyExists("cgroup %s is in use", dir)
}

// oomKilled reports whether the kernel killed a process of the cgroup for
// want of memory; best effort (false when the count cannot be read).
func (g *cgroup) oomKilled() bool {
	if g.events == "" {
		return false
	}
	f, err := os.Open(g.events)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		if k == "oom_kill" {
			n, _ := strconv.ParseUint(v, 10, 64)
			return n > 0
		}
	}
	return false
}

// delete removes the cgroup, which must hold no process any more. It
// removes the directories itself (the library reads every cgroup.procs
// first, which costs more than the rmdirs), and asks the library only when
// that fails, to learn why.
func (g *cgroup) delete() error {
	if g.rmdir() == nil {
		return nil
	}
	var err error
	if g.v2 != nil {
		err = g.v2.Delete()
	} else {
		err = g.v1.Delete()
		if errors.Is(err, cgroup1.ErrCgroupDeleted) {
			err = nil
		}
	}
	if err == nil {
		err = g.rmdir()
	}
	if err != nil {
		return errdefs.Busy("cgroup %s: %w", g.path, err)
	}
	return nil
}

// pids lists the processes in the cgroup, in any of its hierarchies.
func (g *cgroup) pids() []int {
	seen := map[int]bool{}
	var out []int
	for _, d := range g.dirs {
		data, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil && !seen[pid] {
				seen[pid] = true
				out = append(out, pid)
			}
		}
	}
	return out
}

// rmdir removes the cgroup's directories, waiting a little for the kernel
// to release the tasks of a process that has just been reaped.
func (g *cgroup) rmdir() error {
	var failed error
	for _, d := range g.dirs {
		for i := 0; ; i++ {
			err := unix.Rmdir(d)
			if err == nil || errors.Is(err, unix.ENOENT) {
				break
			}
			if errors.Is(err, unix.EBUSY) && i < 4 {
				time.Sleep(time.Millisecond << i)
				continue
			}
			failed = fmt.Errorf("remove %s: %w", d, err)
			break
		}
	}
	return failed
}
