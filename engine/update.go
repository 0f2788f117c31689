package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime"
)

// Update is what docker update changes: each zero field keeps the
// container's value (as in docker's UpdateConfig); PidsLimit ≤ 0 lifts the
// limit, and MemorySwap -1 allows any swap.
type Update struct {
	Resources
	// RestartPolicy replaces the container's when not nil.
	RestartPolicy *RestartPolicy
}

// Update changes a container's limits and restart policy, as docker update:
// the record at once (the next start uses it), and a running or paused
// container's cgroup too. Values that conflict with the container's own, or
// that the kernel refuses, change nothing and are errdefs.ErrInvalid, their
// message docker's ("Cannot update container ID: ..."); a container being
// removed is errdefs.ErrBusy.
func (e *Engine) Update(ctx context.Context, ref string, u Update) error {
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.gate(); err != nil {
		return err
	}
	if c.rec.State.Status == StatusNew {
		return errdefs.Busy("container %s is not created yet", c.id)
	}
	if c.starting {
		// Its spec may be written already, with the old limits.
		return errdefs.Busy("container %s is being started", c.id)
	}
	rec := c.rec
	cfg := rec.Config
	if err := u.apply(&cfg); err != nil {
		return fmt.Errorf("Cannot update container %s: %w", c.id, err)
	}
	if err := cfg.Resources.validate(); err != nil {
		return fmt.Errorf("Cannot update container %s: %w", c.id, err)
	}
	if err := cfg.RestartPolicy.validate(); err != nil {
		return fmt.Errorf("Cannot update container %s: %w", c.id, err)
	}
	if cfg.AutoRemove && cfg.RestartPolicy.Name != "" && cfg.RestartPolicy.Name != "no" {
		return errdefs.Invalid("Cannot update container %s: Restart policy cannot be updated because AutoRemove is enabled for the container", c.id)
	}
	if rec.State.Status.live() {
		// A container whose run just ended has no cgroup: its record
		// alone changes, as for a stopped one.
		if err := runtime.UpdateResources(ctx, c.id, runtimeResources(cfg)); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			// Put back what the first writes changed; the old
			// values were accepted before.
			if err2 := runtime.UpdateResources(ctx, c.id, runtimeResources(rec.Config)); err2 != nil {
				e.logf("container %s: restoring its limits: %v", c.id, err2)
			}
			return fmt.Errorf("Cannot update container %s: %w", c.id, err)
		}
	}
	rec.Config = cfg
	if err := e.put(rec); err != nil {
		return err
	}
	c.rec = rec
	e.emit(rec, "update")
	return nil
}

// apply merges u into cfg as moby's UpdateContainer does, with its checks
// of the CPU options against those already set.
func (u Update) apply(cfg *Config) error {
	r, old := u.Resources, &cfg.Resources
	switch {
	case r.NanoCPUs > 0 && old.CPUPeriod > 0:
		return errdefs.Invalid("Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set")
	case r.NanoCPUs > 0 && old.CPUQuota > 0:
		return errdefs.Invalid("Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set")
	case r.CPUPeriod > 0 && old.NanoCPUs > 0:
		return errdefs.Invalid("Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set")
	case r.CPUQuota > 0 && old.NanoCPUs > 0:
		return errdefs.Invalid("Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set")
	}
	if r.CPUShares != 0 {
		old.CPUShares = r.CPUShares
	}
	if r.NanoCPUs != 0 {
		old.NanoCPUs = r.NanoCPUs
	}
	if r.CPUPeriod != 0 {
		old.CPUPeriod = r.CPUPeriod
	}
	if r.CPUQuota != 0 {
		old.CPUQuota = r.CPUQuota
	}
	if r.CpusetCpus != "" {
		old.CpusetCpus = r.CpusetCpus
	}
	if r.Memory != 0 {
		// The record keeps 0 for docker's default swap, twice the memory.
		swap := old.MemorySwap
		if swap == 0 && old.Memory > 0 {
			swap = 2 * old.Memory
		}
		if r.Memory > swap && r.MemorySwap == 0 {
			return errdefs.Invalid("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time")
		}
		if old.MemorySwap == 0 && r.MemorySwap == 0 {
			old.MemorySwap = swap
		}
		old.Memory = r.Memory
	}
	if r.MemorySwap != 0 {
		old.MemorySwap = r.MemorySwap
	}
	if r.MemoryReservation != 0 {
		old.MemoryReservation = r.MemoryReservation
	}
	if r.PidsLimit != nil {
		n := *r.PidsLimit
		old.PidsLimit = &n
	}
	if u.RestartPolicy != nil {
		cfg.RestartPolicy = *u.RestartPolicy
	}
	return nil
}

// runtimeResources are a config's limits as the runtime takes them.
func runtimeResources(cfg Config) runtime.Resources {
	r := runtime.Resources{
		Memory: cfg.Memory, MemorySwap: cfg.MemorySwap, MemoryReservation: cfg.MemoryReservation,
		CPUShares: cfg.CPUShares, CPUPeriod: cfg.CPUPeriod, CPUQuota: cfg.CPUQuota, NanoCPUs: cfg.NanoCPUs,
		CpusetCpus: cfg.CpusetCpus,
	}
	if cfg.PidsLimit != nil {
		r.PidsLimit = *cfg.PidsLimit
	}
	return r
}
