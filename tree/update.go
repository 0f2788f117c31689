package tree

import (
	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/engine"
)

// updateFromVerb reads an update line (a container's ctl) into the
// engine's Update; a key not given changes nothing.
func updateFromVerb(v verbs.ContainerUpdate) (engine.Update, error) {
	var u engine.Update
	p := values{verb: v.Verb()}
	u.Memory = p.size("memory", v.Memory)
	u.MemorySwap = p.size("memory-swap", v.MemorySwap)
	u.MemoryReservation = p.size("memory-reservation", v.MemoryReservation)
	if v.CPUs != "" {
		n, err := verbs.ParseCPUs(v.CPUs)
		if err != nil {
			p.fail("cpus", v.CPUs)
		}
		u.NanoCPUs = n
	}
	u.CPUShares = p.int("cpu-shares", v.CPUShares)
	u.CPUQuota = p.int("cpu-quota", v.CPUQuota)
	u.CPUPeriod = p.int("cpu-period", v.CPUPeriod)
	u.CpusetCpus = v.CpusetCPUs
	if v.PidsLimit != "" {
		n := p.int("pids-limit", v.PidsLimit)
		u.PidsLimit = &n
	}
	if v.Restart != "" {
		name, max, err := verbs.ParseRestart(v.Restart)
		if err != nil {
			p.fail("restart", v.Restart)
		}
		u.RestartPolicy = &engine.RestartPolicy{Name: name, MaximumRetryCount: max}
	}
	return u, p.err
}
