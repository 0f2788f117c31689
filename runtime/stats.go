//go:build linux

package runtime

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/cgroups/v3"
	"github.com/containerd/cgroups/v3/cgroup1"
	v1stats "github.com/containerd/cgroups/v3/cgroup1/stats"
	"github.com/containerd/cgroups/v3/cgroup2"
	v2stats "github.com/containerd/cgroups/v3/cgroup2/stats"
	"github.com/enginefs/enginefs/errdefs"
)

// Stats is one sample of a container's resource usage, read from its cgroup
// and its network namespace. The names follow Docker's stats JSON
// (types.StatsJSON), which the tree produces from it; byte and nanosecond
// counters are cumulative since the container started.
type Stats struct {
	Read     time.Time
	CPU      CPUStats
	Memory   MemoryStats
	Pids     PidsStats
	Blkio    BlkioStats
	Networks map[string]NetworkStats // by interface name, lo included
}

// CPUStats is the container's CPU time and, to compute a percentage as
// docker stats does, the host's.
type CPUStats struct {
	TotalUsage        uint64   // ns of CPU time used by the container
	UsageInKernelmode uint64   // ns
	UsageInUsermode   uint64   // ns
	PercpuUsage       []uint64 // ns per CPU; cgroup v1 only
	// SystemUsage is the host's CPU time since boot, in ns, summed over
	// all CPUs (the first line of /proc/stat), as Docker reports it.
	SystemUsage uint64
	OnlineCPUs  uint32
	Throttling  ThrottlingData
}

// ThrottlingData is how often the CFS quota stopped the container.
type ThrottlingData struct {
	Periods          uint64 // periods with the quota in force
	ThrottledPeriods uint64 // periods in which it was throttled
	ThrottledTime    uint64 // ns throttled
}

// MemoryStats is the container's memory use. Limit is capped to the
// host's memory (a container without a limit shows the host's total, as
// in Docker). Stats holds the cgroup's memory.stat under Docker's keys:
// cache, rss, total_inactive_file... on cgroup v1, anon, file,
// inactive_file... on v2.
type MemoryStats struct {
	Usage    uint64
	MaxUsage uint64 // peak; 0 where the kernel does not keep it (v2 before 5.19)
	Failcnt  uint64 // times the limit was hit; cgroup v1 only
	Limit    uint64
	Stats    map[string]uint64
}

// PidsStats is the number of tasks in the container and their limit (0:
// none).
type PidsStats struct {
	Current uint64
	Limit   uint64
}

// BlkioStats is the container's block I/O.
type BlkioStats struct {
	// IoServiceBytesRecursive is bytes per device and operation: on
	// cgroup v1 the kernel's operations (Read, Write, Sync, Async,
	// Discard, Total), on v2 "read" and "write", as Docker reports them.
	IoServiceBytesRecursive []BlkioStatEntry
}

// BlkioStatEntry is one counter of one block device.
type BlkioStatEntry struct {
	Major, Minor uint64
	Op           string
	Value        uint64
}

// NetworkStats are the counters of one network interface.
type NetworkStats struct {
	RxBytes, RxPackets, RxErrors, RxDropped uint64
	TxBytes, TxPackets, TxErrors, TxDropped uint64
}

// ReadStats reads the usage of the container id from its cgroup at
// CgroupParent/<id> (through containerd/cgroups: v1 on legacy and hybrid
// hosts, v2 on unified ones), and its network counters from
// /proc/<pid>/net/dev, pid being a process of the container (its init), so
// that the file shows the container's network namespace. A container
// without a cgroup is errdefs.ErrNotFound; pid 0 leaves Networks empty.
func ReadStats(ctx context.Context, id string, pid int) (*Stats, error) {
	if err := validateID(id); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("container %s: stats: %w", id, err)
	}
	s := &Stats{Read: time.Now()}
	p := CgroupParent + "/" + id
	var err error
	switch cgroups.Mode() {
	case cgroups.Unified:
		err = statsV2(s, p)
	case cgroups.Legacy, cgroups.Hybrid:
		err = statsV1(s, p)
	default:
		err = errdefs.Unavailable("no cgroup filesystem")
	}
	if err != nil {
		return nil, fmt.Errorf("container %s: stats: %w", id, err)
	}
	if s.CPU.SystemUsage, err = systemCPUUsage(); err != nil {
		return nil, fmt.Errorf("container %s: stats: %w", id, err)
	}
	s.CPU.OnlineCPUs = onlineCPUs()
	if total := machineMemory(); total > 0 && s.Memory.Limit > total {
		s.Memory.Limit = total
	}
	if pid > 0 {
		if s.Networks, err = readNetDev(fmt.Sprintf("/proc/%d/net/dev", pid)); err != nil {
			return nil, fmt.Errorf("container %s: stats: %w", id, err)
		}
	}
	return s, nil
}

func statsV1(s *Stats, p string) error {
	cg, err := cgroup1.Load(cgroup1.StaticPath(p))
	if err != nil {
		if errors.Is(err, cgroup1.ErrCgroupDeleted) || errors.Is(err, fs.ErrNotExist) {
			return errdefs.NotFound("no cgroup %s", p)
		}
		return errdefs.Unavailable("cgroup %s: %w", p, err)
	}
	m, err := cg.Stat(cgroup1.IgnoreNotExist)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return errdefs.NotFound("no cgroup %s", p)
		}
		return errdefs.Unavailable("cgroup %s: %w", p, err)
	}
	if c := m.CPU; c != nil {
		if u := c.Usage; u != nil {
			s.CPU.TotalUsage, s.CPU.UsageInKernelmode, s.CPU.UsageInUsermode = u.Total, u.Kernel, u.User
			s.CPU.PercpuUsage = u.PerCPU
		}
		if t := c.Throttling; t != nil {
			s.CPU.Throttling = ThrottlingData{t.Periods, t.ThrottledPeriods, t.ThrottledTime}
		}
	}
	if mem := m.Memory; mem != nil {
		if u := mem.Usage; u != nil {
			s.Memory.Usage, s.Memory.MaxUsage, s.Memory.Failcnt, s.Memory.Limit = u.Usage, u.Max, u.Failcnt, u.Limit
		}
		s.Memory.Stats = memoryStatsV1(mem)
	}
	if pids := m.Pids; pids != nil {
		s.Pids = PidsStats{Current: pids.Current, Limit: pids.Limit}
	}
	if b := m.Blkio; b != nil {
		for _, e := range b.IoServiceBytesRecursive {
			s.Blkio.IoServiceBytesRecursive = append(s.Blkio.IoServiceBytesRecursive,
				BlkioStatEntry{Major: e.Major, Minor: e.Minor, Op: e.Op, Value: e.Value})
		}
	}
	return nil
}

// memoryStatsV1 is memory.stat under Docker's keys for cgroup v1.
func memoryStatsV1(m *v1stats.MemoryStat) map[string]uint64 {
	return map[string]uint64{
		"active_anon": m.ActiveAnon, "active_file": m.ActiveFile, "cache": m.Cache,
		"hierarchical_memory_limit": m.HierarchicalMemoryLimit, "inactive_anon": m.InactiveAnon,
		"inactive_file": m.InactiveFile, "mapped_file": m.MappedFile, "pgfault": m.PgFault,
		"pgmajfault": m.PgMajFault, "pgpgin": m.PgPgIn, "pgpgout": m.PgPgOut, "rss": m.RSS,
		"rss_huge": m.RSSHuge, "total_active_anon": m.TotalActiveAnon, "total_active_file": m.TotalActiveFile,
		"total_cache": m.TotalCache, "total_inactive_anon": m.TotalInactiveAnon,
		"total_inactive_file": m.TotalInactiveFile, "total_mapped_file": m.TotalMappedFile,
		"total_pgfault": m.TotalPgFault, "total_pgmajfault": m.TotalPgMajFault, "total_pgpgin": m.TotalPgPgIn,
		"total_pgpgout": m.TotalPgPgOut, "total_rss": m.TotalRSS, "total_rss_huge": m.TotalRSSHuge,
		"total_unevictable": m.TotalUnevictable, "total_writeback": m.TotalWriteback,
		"unevictable": m.Unevictable, "writeback": m.Writeback,
	}
}

func statsV2(s *Stats, p string) error {
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", p)); err != nil {
		return errdefs.NotFound("no cgroup %s", p)
	}
	mgr, err := cgroup2.Load(p)
	if err != nil {
		return errdefs.Unavailable("cgroup %s: %w", p, err)
	}
	m, err := mgr.Stat()
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return errdefs.NotFound("no cgroup %s", p)
		}
		return errdefs.Unavailable("cgroup %s: %w", p, err)
	}
	if c := m.CPU; c != nil {
		s.CPU.TotalUsage, s.CPU.UsageInKernelmode, s.CPU.UsageInUsermode = c.UsageUsec*1000, c.SystemUsec*1000, c.UserUsec*1000
		s.CPU.Throttling = ThrottlingData{c.NrPeriods, c.NrThrottled, c.ThrottledUsec * 1000}
	}
	if mem := m.Memory; mem != nil {
		s.Memory.Usage, s.Memory.MaxUsage, s.Memory.Limit = mem.Usage, mem.MaxUsage, mem.UsageLimit
		s.Memory.Stats = memoryStatsV2(mem)
	}
	if pids := m.Pids; pids != nil {
		s.Pids = PidsStats{Current: pids.Current, Limit: pids.Limit}
		if pids.Limit == ^uint64(0) { // "max"
			s.Pids.Limit = 0
		}
	}
	if io := m.Io; io != nil {
		for _, e := range io.Usage {
			s.Blkio.IoServiceBytesRecursive = append(s.Blkio.IoServiceBytesRecursive,
				BlkioStatEntry{Major: e.Major, Minor: e.Minor, Op: "read", Value: e.Rbytes},
				BlkioStatEntry{Major: e.Major, Minor: e.Minor, Op: "write", Value: e.Wbytes})
		}
	}
	return nil
}

// memoryStatsV2 is memory.stat under Docker's keys for cgroup v2.
func memoryStatsV2(m *v2stats.MemoryStat) map[string]uint64 {
	return map[string]uint64{
		"anon": m.Anon, "file": m.File, "kernel_stack": m.KernelStack, "slab": m.Slab, "sock": m.Sock,
		"shmem": m.Shmem, "file_mapped": m.FileMapped, "file_dirty": m.FileDirty,
		"file_writeback": m.FileWriteback, "anon_thp": m.AnonThp, "inactive_anon": m.InactiveAnon,
		"active_anon": m.ActiveAnon, "inactive_file": m.InactiveFile, "active_file": m.ActiveFile,
		"unevictable": m.Unevictable, "slab_reclaimable": m.SlabReclaimable,
		"slab_unreclaimable": m.SlabUnreclaimable, "pgfault": m.Pgfault, "pgmajfault": m.Pgmajfault,
		"workingset_refault": m.WorkingsetRefault, "workingset_activate": m.WorkingsetActivate,
		"workingset_nodereclaim": m.WorkingsetNodereclaim, "pgrefill": m.Pgrefill, "pgscan": m.Pgscan,
		"pgsteal": m.Pgsteal, "pgactivate": m.Pgactivate, "pgdeactivate": m.Pgdeactivate,
		"pglazyfree": m.Pglazyfree, "pglazyfreed": m.Pglazyfreed, "thp_fault_alloc": m.ThpFaultAlloc,
		"thp_collapse_alloc": m.ThpCollapseAlloc,
	}
}

// userHZ is the unit of the times in /proc/stat and /proc/<pid>/stat
// (USER_HZ, 100 on every architecture Linux runs containers on).
const userHZ = 100

// systemCPUUsage is the host's CPU time in ns: the first seven fields of
// the "cpu" line of /proc/stat (user to softirq), as Docker computes it.
func systemCPUUsage() (uint64, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, errdefs.Unavailable("%w", err)
	}
	return parseSystemCPU(data)
}

func parseSystemCPU(data []byte) (uint64, error) {
	for _, line := range bytes.Split(data, []byte("\n")) {
		f := strings.Fields(string(line))
		if len(f) < 8 || f[0] != "cpu" {
			continue
		}
		var ticks uint64
		for _, v := range f[1:8] {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return 0, errdefs.Unavailable("/proc/stat: bad cpu line %q", line)
			}
			ticks += n
		}
		return ticks * (1e9 / userHZ), nil
	}
	return 0, errdefs.Unavailable("/proc/stat has no cpu line")
}

// onlineCPUs counts the CPUs in /sys/devices/system/cpu/online ("0-1,4").
func onlineCPUs() uint32 {
	data, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return 0
	}
	var n uint32
	for _, part := range strings.Split(strings.TrimSpace(string(data)), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		n += uint32(b - a + 1)
	}
	return n
}

// machineMemory is MemTotal of /proc/meminfo in bytes, 0 if unknown.
func machineMemory() uint64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// readNetDev reads the interface counters of a /proc/<pid>/net/dev file.
// A process that has gone is errdefs.ErrNotFound.
func readNetDev(file string) (map[string]NetworkStats, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errdefs.NotFound("%w", err)
		}
		return nil, errdefs.Unavailable("%w", err)
	}
	return parseNetDev(data)
}

// parseNetDev parses /proc/net/dev: two header lines, then per interface
// "name: rx bytes packets errs drop fifo frame compressed multicast
// tx bytes packets errs drop fifo colls carrier compressed".
func parseNetDev(data []byte) (map[string]NetworkStats, error) {
	out := map[string]NetworkStats{}
	for _, line := range strings.Split(string(data), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || strings.Contains(name, "|") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 16 {
			return nil, errdefs.Unavailable("net/dev: short line %q", line)
		}
		var v [16]uint64
		for i := range v {
			n, err := strconv.ParseUint(f[i], 10, 64)
			if err != nil {
				return nil, errdefs.Unavailable("net/dev: bad line %q", line)
			}
			v[i] = n
		}
		out[strings.TrimSpace(name)] = NetworkStats{
			RxBytes: v[0], RxPackets: v[1], RxErrors: v[2], RxDropped: v[3],
			TxBytes: v[8], TxPackets: v[9], TxErrors: v[10], TxDropped: v[11],
		}
	}
	return out, nil
}
