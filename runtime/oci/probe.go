//go:build linux

package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime"
)

// ProbeTimeout is how long Probe waits for the binary to run its container.
const ProbeTimeout = 10 * time.Second

// probeProgram is the program the probe's container runs: it does not
// exist, so a runtime that can run containers fails at the very last step,
// executing it, with the message it gives for a bad command.
const probeProgram = "/.enginefs-probe"

// Probe runs a tiny container with r's binary: an empty root filesystem,
// the namespaces and the cgroup a container gets, and a program that does
// not exist. It returns nil when the binary got as far as executing the
// program, the binary's error otherwise (e.g. crun 1.8 on a hybrid cgroup
// host: "cgroups in hybrid mode not supported"). The daemon probes the
// runtimes it finds in $PATH so that it lists only those that work.
func (r *Runtime) Probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	work, err := os.MkdirTemp(r.tempDir, "enginefs-probe-")
	if err != nil {
		return errdefs.Unavailable("probe: %w", err)
	}
	defer os.RemoveAll(work)
	if err := os.MkdirAll(filepath.Join(work, "rootfs"), 0o755); err != nil {
		return errdefs.Unavailable("probe: %w", err)
	}
	id := "enginefs-probe-" + strconv.Itoa(os.Getpid())
	s := &specs.Spec{
		Version: runtime.SpecVersion,
		Process: &specs.Process{Args: []string{probeProgram}, Cwd: "/", Env: []string{"PATH=/bin"}},
		Root:    &specs.Root{Path: "rootfs", Readonly: true},
		Mounts:  []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}},
		Linux: &specs.Linux{
			CgroupsPath: "/" + id,
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.MountNamespace},
				{Type: specs.IPCNamespace}, {Type: specs.UTSNamespace},
			},
		},
	}
	b, err := json.Marshal(s)
	if err != nil {
		return errdefs.Unavailable("probe: %w", err)
	}
	if err := os.WriteFile(filepath.Join(work, "config.json"), b, 0o644); err != nil {
		return errdefs.Unavailable("probe: %w", err)
	}
	err = r.run(ctx, work, nil, "run", "--bundle", work, id)
	// A runtime that fails after its container started leaves its state.
	_ = r.run(context.WithoutCancel(ctx), "", nil, "delete", "--force", id)
	switch {
	case err == nil, errors.Is(err, errdefs.ErrInvalid) && execError.MatchString(err.Error()):
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("%s: no container ran within %v: %w", r.binary, ProbeTimeout, err)
	}
	return fmt.Errorf("%s: %w", r.binary, err)
}
