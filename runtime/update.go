//go:build linux

package runtime

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/containerd/cgroups/v3"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/enginefs/enginefs/errdefs"
)

// cgroupRoot is where the cgroup hierarchies are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// UpdateResources changes the limits of the running container id to r, its
// whole new set (a zero field lifts that limit), by writing its cgroup
// (CgroupParent/id), which both the built-in runtime and the OCI runtimes
// make: docker update on a live container. r is checked first, as Spec
// checks it, and a bad r changes nothing (errdefs.ErrInvalid). A container
// with no cgroup is errdefs.ErrNotFound.
func UpdateResources(ctx context.Context, id string, r Resources) error {
	if err := validateID(id); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := r.linuxResources(&specs.LinuxResources{}); err != nil {
		return err
	}
	writes := cgroupWrites(r)
	var err error
	switch cgroups.Mode() {
	case cgroups.Unified:
		err = writeV2(filepath.Join(cgroupRoot, CgroupParent, id), writes.v2)
	case cgroups.Legacy, cgroups.Hybrid:
		err = writeV1(filepath.Join(cgroupRoot), CgroupParent+"/"+id, writes.v1)
	default:
		err = errdefs.Unavailable("no cgroup filesystem")
	}
	if err != nil {
		return fmt.Errorf("container %s: update: %w", id, err)
	}
	return nil
}

// cgroupWrite is one value written to one file of a cgroup; optional files
// (memory.memsw.* without swap accounting) may be missing.
type cgroupWrite struct {
	controller, file, value string
	optional                bool
}

type writeSet struct{ v1, v2 []cgroupWrite }

// cgroupWrites are the files r sets, in an order the kernel accepts
// whatever the old values (see writeV1 for the memory limits).
func cgroupWrites(r Resources) writeSet {
	var w writeSet
	limit, swap := int64(-1), int64(-1)
	if r.Memory > 0 {
		limit, swap = r.Memory, r.MemorySwap
		if swap == 0 {
			swap = 2 * limit
		}
	}
	reservation := r.MemoryReservation
	if reservation <= 0 {
		reservation = -1
	}
	period, quota := r.CPUPeriod, r.CPUQuota
	if r.NanoCPUs > 0 {
		period = nanoCPUPeriod
		quota = max(r.NanoCPUs*nanoCPUPeriod/nanosPerSecond, minCPUQuota)
	}
	if period == 0 {
		period = nanoCPUPeriod
	}
	if quota <= 0 {
		quota = -1
	}
	shares := r.CPUShares
	if shares == 0 {
		shares = 1024
	}
	pids := "max"
	if r.PidsLimit > 0 {
		pids = strconv.FormatInt(r.PidsLimit, 10)
	}
	w.v1 = []cgroupWrite{
		{"memory", "memory.limit_in_bytes", strconv.FormatInt(limit, 10), false},
		{"memory", "memory.memsw.limit_in_bytes", strconv.FormatInt(swap, 10), true},
		{"memory", "memory.soft_limit_in_bytes", strconv.FormatInt(reservation, 10), false},
		{"cpu", "cpu.shares", strconv.FormatInt(shares, 10), false},
		{"cpu", "cpu.cfs_period_us", strconv.FormatInt(period, 10), false},
		{"cpu", "cpu.cfs_quota_us", strconv.FormatInt(quota, 10), false},
		{"pids", "pids.max", pids, false},
	}
	v2max := func(n int64) string {
		if n < 0 {
			return "max"
		}
		return strconv.FormatInt(n, 10)
	}
	swapOnly := int64(-1)
	if limit > 0 && swap > 0 {
		swapOnly = swap - limit
	}
	low := reservation
	if low < 0 {
		low = 0
	}
	w.v2 = []cgroupWrite{
		{"", "memory.max", v2max(limit), false},
		{"", "memory.swap.max", v2max(swapOnly), true},
		{"", "memory.low", strconv.FormatInt(low, 10), false},
		// cpu.weight from shares, as runc converts them.
		{"", "cpu.weight", strconv.FormatInt(1+((shares-2)*9999)/262142, 10), false},
		{"", "cpu.max", v2max(quota) + " " + strconv.FormatInt(period, 10), false},
		{"", "pids.max", pids, false},
	}
	if r.CpusetCpus != "" {
		w.v1 = append(w.v1, cgroupWrite{"cpuset", "cpuset.cpus", r.CpusetCpus, false})
		w.v2 = append(w.v2, cgroupWrite{"", "cpuset.cpus", r.CpusetCpus, false})
	}
	return w
}

// writeV1 writes each value into its controller's hierarchy. The memory
// limit and the memory+swap limit must stay ordered (limit ≤ memsw) at
// every step: when the first order fails, the other is tried.
func writeV1(root, p string, writes []cgroupWrite) error {
	dir := func(c string) string { return filepath.Join(root, c, p) }
	if _, err := os.Stat(dir("memory")); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return errdefs.NotFound("no cgroup %s", p)
		}
		return err
	}
	mem, memsw := writes[0], writes[1]
	if err := writeFiles(dir, mem, memsw); err != nil {
		if err2 := writeFiles(dir, memsw, mem); err2 != nil {
			return err
		}
	}
	return writeFiles(dir, writes[2:]...)
}

// writeV2 writes each value into the container's unified cgroup.
func writeV2(dir string, writes []cgroupWrite) error {
	if _, err := os.Stat(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return errdefs.NotFound("no cgroup %s", dir)
		}
		return err
	}
	return writeFiles(func(string) string { return dir }, writes...)
}

func writeFiles(dir func(controller string) string, writes ...cgroupWrite) error {
	for _, w := range writes {
		f := filepath.Join(dir(w.controller), w.file)
		err := os.WriteFile(f, []byte(w.value), 0)
		if err != nil && !(w.optional && errors.Is(err, fs.ErrNotExist)) {
			return errdefs.Invalid("writing %s to %s: %w", w.value, f, err)
		}
	}
	return nil
}
