package runtime

import (
	"strconv"
	"strings"

	"github.com/enginefs/enginefs/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Resources are the cgroup limits of docker run's resource flags, with the
// names of Docker's HostConfig. The zero value limits nothing. Spec checks
// them as the Docker daemon does and turns them into linux.resources.
type Resources struct {
	// Memory is the memory limit in bytes (-m); 0 for none. At least 6 MiB.
	Memory int64
	// MemorySwap is the limit of memory plus swap in bytes
	// (--memory-swap), at least Memory; -1 lets the container use any
	// amount of swap. It needs Memory. When Memory is set and MemorySwap
	// is 0, it is twice Memory, as Docker does. A runtime on a host
	// without swap accounting applies Memory alone and says so (see
	// Warnings).
	MemorySwap int64
	// MemoryReservation is the soft limit in bytes (--memory-reservation);
	// no more than Memory when both are set.
	MemoryReservation int64
	// CPUShares is the relative CPU weight (--cpu-shares); 0 is the
	// kernel's default, 1024.
	CPUShares int64
	// CPUPeriod and CPUQuota are the CFS period and the CPU time allowed
	// per period, in microseconds (--cpu-period, --cpu-quota); 0 for the
	// defaults (100ms, no quota). The period is from 1ms to 1s, the quota
	// at least 1ms.
	CPUPeriod int64
	CPUQuota  int64
	// NanoCPUs is --cpus times 10^9. Like Docker, Spec turns it into a
	// quota over a period of 100ms (1.5 CPUs: 150000/100000). It excludes
	// CPUPeriod and CPUQuota.
	NanoCPUs int64
	// CpusetCpus and CpusetMems are the CPUs and memory nodes allowed, in
	// the kernel's list format ("0-2,4") (--cpuset-cpus, --cpuset-mems).
	CpusetCpus string
	CpusetMems string
	// PidsLimit is the most tasks the container may have (--pids-limit);
	// 0 or less for no limit.
	PidsLimit int64
	// CPURealtimeRuntime and CPURealtimePeriod are the real-time
	// scheduler's budget, in microseconds (--cpu-rt-runtime,
	// --cpu-rt-period; cgroup v1 with CONFIG_RT_GROUP_SCHED only). The
	// kernel refuses a budget its parent cgroup has not got, as dockerd's
	// containers meet it.
	CPURealtimeRuntime, CPURealtimePeriod int64
}

// The limits Docker enforces on Resources.
const (
	minMemory      = 6 << 20 // bytes
	nanoCPUPeriod  = 100000  // µs, the period --cpus uses
	minCPUPeriod   = 1000    // µs
	maxCPUPeriod   = 1000000 // µs
	minCPUQuota    = 1000    // µs
	nanosPerSecond = 1e9
)

// linuxResources checks r as the Docker daemon does (with its messages) and
// merges it into res, which holds the device rules.
func (r Resources) linuxResources(res *specs.LinuxResources) error {
	switch {
	case r.Memory < 0 || r.MemoryReservation < 0 || r.MemorySwap < -1:
		return errdefs.Invalid("memory limits cannot be negative")
	case r.Memory > 0 && r.Memory < minMemory:
		return errdefs.Invalid("Minimum memory limit allowed is 6MB")
	case r.Memory == 0 && r.MemorySwap != 0:
		return errdefs.Invalid("You should always set the Memory limit when using Memoryswap limit, see usage")
	case r.MemorySwap > 0 && r.MemorySwap < r.Memory:
		return errdefs.Invalid("Minimum memoryswap limit should be larger than memory limit, see usage")
	case r.Memory > 0 && r.MemoryReservation > r.Memory:
		return errdefs.Invalid("Minimum memory limit can not be less than memory reservation limit, see usage")
	case r.CPUShares < 0:
		return errdefs.Invalid("CPU shares cannot be negative")
	case r.NanoCPUs < 0:
		return errdefs.Invalid("Range of CPUs is from 0.01 to the number of CPUs available")
	case r.NanoCPUs > 0 && r.CPUPeriod > 0:
		return errdefs.Invalid("Conflicting options: Nano CPUs and CPU Period cannot both be set")
	case r.NanoCPUs > 0 && r.CPUQuota > 0:
		return errdefs.Invalid("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
	case r.CPUPeriod != 0 && (r.CPUPeriod < minCPUPeriod || r.CPUPeriod > maxCPUPeriod):
		return errdefs.Invalid("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
	case r.CPUQuota != 0 && r.CPUQuota < minCPUQuota:
		return errdefs.Invalid("CPU cfs quota can not be less than 1ms (i.e. 1000)")
	}
	for _, list := range []string{r.CpusetCpus, r.CpusetMems} {
		if err := checkCPUList(list); err != nil {
			return err
		}
	}

	if r.Memory > 0 || r.MemoryReservation > 0 {
		m := &specs.LinuxMemory{}
		if r.Memory > 0 {
			limit, swap := r.Memory, r.MemorySwap
			if swap == 0 {
				swap = 2 * limit
			}
			m.Limit, m.Swap = &limit, &swap
		}
		if r.MemoryReservation > 0 {
			reservation := r.MemoryReservation
			m.Reservation = &reservation
		}
		res.Memory = m
	}

	cpu := &specs.LinuxCPU{Cpus: r.CpusetCpus, Mems: r.CpusetMems}
	if r.CPUShares > 0 {
		shares := uint64(r.CPUShares)
		cpu.Shares = &shares
	}
	period, quota := uint64(r.CPUPeriod), r.CPUQuota
	if r.NanoCPUs > 0 {
		period = nanoCPUPeriod
		quota = r.NanoCPUs * nanoCPUPeriod / nanosPerSecond
		if quota < minCPUQuota {
			quota = minCPUQuota
		}
	}
	if period > 0 {
		cpu.Period = &period
	}
	if quota > 0 {
		cpu.Quota = &quota
	}
	if r.CPURealtimeRuntime != 0 {
		rt := r.CPURealtimeRuntime
		cpu.RealtimeRuntime = &rt
	}
	if r.CPURealtimePeriod > 0 {
		rt := uint64(r.CPURealtimePeriod)
		cpu.RealtimePeriod = &rt
	}
	if cpu.Shares != nil || cpu.Period != nil || cpu.Quota != nil || cpu.Cpus != "" || cpu.Mems != "" ||
		cpu.RealtimeRuntime != nil || cpu.RealtimePeriod != nil {
		res.CPU = cpu
	}

	if r.PidsLimit > 0 {
		limit := r.PidsLimit
		res.Pids = &specs.LinuxPids{Limit: &limit}
	}
	return nil
}

// checkCPUList checks the kernel's list format: "0-3,8,10-11".
func checkCPUList(list string) error {
	if list == "" {
		return nil
	}
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return errdefs.Invalid("invalid cpuset list %q", list)
		}
		if isRange {
			b, err := strconv.ParseUint(hi, 10, 16)
			if err != nil || b < a {
				return errdefs.Invalid("invalid cpuset list %q", list)
			}
		}
	}
	return nil
}
