//go:build linux

package builtin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime"
	"github.com/enginefs/enginefs/runtime/builtin/nsinit"
)

// The freezer is driven through the files containerd/cgroups/v3 writes
// (freezer.state on v1, cgroup.freeze on v2), with the library's loop:
// write the state, read it back, again every millisecond until it is
// reached. The runtime runs the loop itself because the library's Freeze
// and Thaw have no context and would loop forever on a cgroup that cannot
// freeze (a task stuck in the kernel); here ctx bounds the wait.

// Pause freezes every process of the container id (cgroup
// runtime.CgroupParent/<id>) and returns once they all are frozen. A
// container without a cgroup is errdefs.ErrNotFound, a host without a
// freezer errdefs.ErrUnavailable. If ctx ends first, the container is
// thawed again and Pause returns ctx's error.
func (r *Runtime) Pause(ctx context.Context, id string) error {
	err := r.freeze(ctx, id, true)
	if err != nil && ctx.Err() != nil {
		_ = r.freeze(context.Background(), id, false)
	}
	return err
}

// Resume thaws the processes of the container id; see Pause.
func (r *Runtime) Resume(ctx context.Context, id string) error {
	return r.freeze(ctx, id, false)
}

// freezerFile returns the file that holds the freezer state of the cgroup
// at p, and the values meaning frozen and thawed.
func (r *Runtime) freezerFile(p string) (file, state string, frozen, thawed []byte, err error) {
	if r.cg.v2 != "" {
		dir := filepath.Join(r.cg.v2, p)
		return filepath.Join(dir, "cgroup.freeze"), filepath.Join(dir, "cgroup.events"), []byte("frozen 1"), []byte("frozen 0"), nil
	}
	for _, d := range r.cg.dirs(p) {
		if d.Name == "freezer" {
			f := filepath.Join(d.Source, "freezer.state")
			return f, f, []byte("FROZEN"), []byte("THAWED"), nil
		}
	}
	return "", "", nil, nil, errdefs.Unavailable("the host has no cgroup freezer")
}

// freeze sets the freezer of container id and waits until the kernel has
// done it.
func (r *Runtime) freeze(ctx context.Context, id string, frozen bool) error {
	verb := "resume"
	if frozen {
		verb = "pause"
	}
	if err := validateID(id); err != nil {
		return err
	}
	file, stateFile, frozenState, thawedState, err := r.freezerFile(runtime.CgroupParent + "/" + id)
	if err != nil {
		return fmt.Errorf("container %s: %s: %w", id, verb, err)
	}
	value, want := []byte("THAWED"), thawedState
	if frozen {
		value, want = []byte("FROZEN"), frozenState
	}
	if r.cg.v2 != "" {
		value = []byte("0")
		if frozen {
			value = []byte("1")
		}
	}
	for {
		if err := os.WriteFile(file, value, 0); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return errdefs.NotFound("container %s: %s: no cgroup: %w", id, verb, err)
			}
			return nsinit.Classify(fmt.Errorf("container %s: %s: %w", id, verb, err))
		}
		data, err := os.ReadFile(stateFile)
		if err != nil {
			return nsinit.Classify(fmt.Errorf("container %s: %s: %w", id, verb, err))
		}
		if hasLine(data, want) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("container %s: %s: %w", id, verb, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// frozen reports whether the cgroup at p is frozen, or freezing.
func (r *Runtime) frozen(p string) (bool, error) {
	_, stateFile, frozenState, thawedState, err := r.freezerFile(p)
	if err != nil {
		return false, err
	}
	data, err := os.ReadFile(stateFile)
	if err != nil {
		return false, err
	}
	if r.cg.v2 != "" {
		// cgroup.events says "frozen 1" only once it is done; the
		// request is in cgroup.freeze.
		req, err := os.ReadFile(filepath.Join(r.cg.v2, p, "cgroup.freeze"))
		return hasLine(data, frozenState) || (err == nil && bytes.Equal(bytes.TrimSpace(req), []byte("1"))), nil
	}
	return !hasLine(data, thawedState), nil
}

// validateID checks that id can name a cgroup.
func validateID(id string) error {
	if id == "" || id == "." || id == ".." || filepath.Base(id) != id {
		return errdefs.Invalid("container id %q is not a plain name", id)
	}
	return nil
}

// hasLine reports whether data holds the line want.
func hasLine(data, want []byte) bool {
	for _, l := range bytes.Split(data, []byte("\n")) {
		if bytes.Equal(bytes.TrimSpace(l), want) {
			return true
		}
	}
	return false
}
