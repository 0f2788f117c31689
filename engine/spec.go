package engine

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/enginefs/enginefs/engine/network"
	"github.com/enginefs/enginefs/runtime"
)

// specOptions turns a container's record, its merged process, its mounted
// root filesystem and its network (sb) into the options of its OCI spec:
// the user resolved against the image's passwd and group files, docker's
// security options, limits and the /etc files (/etc/hostname, and the
// network's /etc/hosts and /etc/resolv.conf).
func (e *Engine) specOptions(rec Record, p process, rootfs string, sb *network.Sandbox) (runtime.SpecOptions, error) {
	user, err := e.processUser(rec, rootfs, p.User)
	if err != nil {
		return runtime.SpecOptions{}, err
	}
	hostname := cmp.Or(rec.Config.Hostname, rec.ID[:12])
	if (sb.Host() || rec.Config.UTSMode == "host") && rec.Config.Hostname == "" {
		hostname, _ = os.Hostname() // docker's --network host
	}
	mounts, err := e.hostnameFile(rec.ID, hostname)
	if err == nil {
		var etc []specs.Mount
		etc, err = sb.EtcFiles(hostname)
		mounts = append(mounts, etc...)
	}
	if err != nil {
		return runtime.SpecOptions{}, err
	}
	cfg := rec.Config
	opts := runtime.SpecOptions{
		ID:             rec.ID,
		Hostname:       hostname,
		Args:           p.Args,
		Env:            sb.LinkEnv(p.Env),
		Cwd:            p.Cwd,
		User:           fmt.Sprintf("%d:%d", user.UID, user.GID),
		AdditionalGids: user.AdditionalGids,
		Terminal:       cfg.Tty,
		ConsoleSize:    cfg.ConsoleSize,
		ReadonlyRootfs: cfg.ReadonlyRootfs,
		CapAdd:         cfg.CapAdd,
		CapDrop:        cfg.CapDrop,
		Privileged:     cfg.Privileged,
		ShmSize:        cfg.ShmSize,
		Mounts:         mounts,
		Resources: runtime.Resources{
			Memory:             cfg.Memory,
			MemorySwap:         cfg.MemorySwap,
			MemoryReservation:  cfg.MemoryReservation,
			CPUShares:          cfg.CPUShares,
			CPUPeriod:          cfg.CPUPeriod,
			CPURealtimeRuntime: cfg.CPURealtimeRuntime,
			CPURealtimePeriod:  cfg.CPURealtimePeriod,
			CPUQuota:           cfg.CPUQuota,
			NanoCPUs:           cfg.NanoCPUs,
			CpusetCpus:         cfg.CpusetCpus,
		},
	}
	if err := cfg.specSecurity(&opts); err != nil {
		return runtime.SpecOptions{}, err
	}
	if err := cfg.specModes(&opts); err != nil {
		return runtime.SpecOptions{}, err
	}
	e.specUserns(&cfg, &opts)
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

// hostnameFile writes the container's /etc/hostname into its directory and
// returns the bind mount that puts it in place, as docker does.
func (e *Engine) hostnameFile(id, hostname string) ([]specs.Mount, error) {
	path := filepath.Join(e.containerDir(id), "hostname")
	if err := os.WriteFile(path, []byte(hostname+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("writing hostname: %w", err)
	}
	return []specs.Mount{{Destination: "/etc/hostname", Type: "bind", Source: path, Options: []string{"rbind", "rprivate"}}}, nil
}
