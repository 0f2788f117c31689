package engine

import (
	"fmt"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/enginefs/enginefs/runtime"
)

// specOptions turns a container's record, its merged process and its mounted
// root filesystem into the options of its OCI spec: the user resolved
// against the image's passwd and group files, docker's security options,
// limits and the /etc files.
func (e *Engine) specOptions(rec Record, p process, rootfs string, en etcNet) (runtime.SpecOptions, error) {
	user, err := e.processUser(rec, rootfs, p.User)
	if err != nil {
		return runtime.SpecOptions{}, err
	}
	hostname := firstOf(rec.Config.Hostname, rec.ID[:12])
	if en.host && rec.Config.Hostname == "" {
		hostname, _ = os.Hostname() // docker's --network host
	}
	mounts, err := etcFiles(e.containerDir(rec.ID), hostname, en)
	if err != nil {
		return runtime.SpecOptions{}, err
	}
	cfg := rec.Config
	opts := runtime.SpecOptions{
		ID:              rec.ID,
		Hostname:        hostname,
		Args:            p.Args,
		Env:             p.Env,
		Cwd:             p.Cwd,
		User:            fmt.Sprintf("%d:%d", user.UID, user.GID),
		AdditionalGids:  user.AdditionalGids,
		Terminal:        cfg.Tty,
		ConsoleSize:     cfg.ConsoleSize,
		ReadonlyRootfs:  cfg.ReadonlyRootfs,
		CapAdd:          cfg.CapAdd,
		CapDrop:         cfg.CapDrop,
		Privileged:      cfg.Privileged,
		NoNewPrivileges: cfg.noNewPrivileges(),
		ShmSize:         cfg.ShmSize,
		Mounts:          mounts,
		Resources: runtime.Resources{
			Memory:            cfg.Memory,
			MemorySwap:        cfg.MemorySwap,
			MemoryReservation: cfg.MemoryReservation,
			CPUShares:         cfg.CPUShares,
			CPUPeriod:         cfg.CPUPeriod,
			CPUQuota:          cfg.CPUQuota,
			NanoCPUs:          cfg.NanoCPUs,
			CpusetCpus:        cfg.CpusetCpus,
		},
	}
	if cfg.PidsLimit != nil {
		opts.Resources.PidsLimit = *cfg.PidsLimit
	}
	for _, u := range cfg.Ulimits {
		opts.Rlimits = append(opts.Rlimits, specs.POSIXRlimit{
			Type: "RLIMIT_" + strings.ToUpper(u.Name), Soft: uint64(u.Soft), Hard: uint64(u.Hard),
		})
	}
	return opts, nil
}
