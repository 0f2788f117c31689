package engine

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/docker/docker/api/types/mount"
	"golang.org/x/sys/unix"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/enginefs/enginefs/engine/volume"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/idmap"
	"github.com/enginefs/enginefs/imagestore"
	"github.com/enginefs/enginefs/runtime"
)

// remapping is the daemon's --userns-remap: the maps and a user namespace
// of them, open, to idmap the layers with.
type remapping struct {
	remap *idmap.Remap
	ns    *os.File
}

// WithUsernsRemap puts every container (but those created with
// UsernsMode "host") in a user namespace of r's maps, with its layers
// idmapped to it: container root is r's first subordinate id on the host.
// ns is a user namespace of those maps (r.NewUserns), kept open by the
// engine. The built-in runtime cannot run such containers yet (an exec
// would have to join the user namespace, which a Go program cannot): New
// refuses a default runtime of "builtin" with it.
func WithUsernsRemap(r *idmap.Remap, ns *os.File) Option {
	return func(e *Engine) { e.remap = &remapping{remap: r, ns: ns} }
}

// checkUserns refuses what a container cannot do in the daemon's user
// namespace, as dockerd does, and the built-in runtime for it.
func (e *Engine) checkUserns(cfg *Config) error {
	switch cfg.UsernsMode {
	case "", "host":
	default:
		return errdefs.Invalid("invalid user namespace mode %q (host, or none for the daemon's)", cfg.UsernsMode)
	}
	if e.remap == nil || cfg.UsernsMode == "host" {
		return nil
	}
	switch {
	case cfg.Privileged:
		return errdefs.Invalid("privileged mode is incompatible with user namespaces.  You must run the container in the host namespace when running privileged mode")
	case cfg.NetworkMode == "host":
		return errdefs.Invalid("cannot share the host's network namespace when user namespaces are enabled")
	case cmp.Or(cfg.Runtime, e.runtime) == "builtin":
		return errdefs.Invalid("runtime builtin cannot run a container in a user namespace yet (--userns-remap): use runtime=runc or crun, or userns=host")
	}
	return nil
}

// remapped reports whether the container runs in the daemon's user
// namespace.
func (e *Engine) remapped(cfg *Config) bool { return e.remap != nil && cfg.UsernsMode != "host" }

// mountOptions are the rootfs mount's options for cfg.
func (e *Engine) mountOptions(cfg *Config) []imagestore.MountOption {
	if !e.remapped(cfg) {
		return nil
	}
	return []imagestore.MountOption{imagestore.WithIDMap(e.remap.ns, e.remap.remap.RootUID(), e.remap.remap.RootGID())}
}

// specUserns sets the user namespace maps of a remapped container.
func (e *Engine) specUserns(cfg *Config, opts *runtime.SpecOptions) {
	if !e.remapped(cfg) {
		return
	}
	conv := func(rs []idmap.Range) []specs.LinuxIDMapping {
		out := make([]specs.LinuxIDMapping, len(rs))
		for i, r := range rs {
			out[i] = specs.LinuxIDMapping{ContainerID: r.ContainerID, HostID: r.HostID, Size: r.Size}
		}
		return out
	}
	opts.UIDMappings, opts.GIDMappings = conv(e.remap.remap.UIDs), conv(e.remap.remap.GIDs)
}

// giveVolumes hands the local volumes of a remapped container that still
// belong to the host's root over to the container's root, as dockerd's
// volumes under a remapped root are: an empty volume is then writable by
// the container. A volume another container already wrote keeps its
// owners; plugin volumes are the plugin's.
func (e *Engine) giveVolumes(ctx context.Context, cfg *Config, mounts []volume.MountPoint) {
	if !e.remapped(cfg) {
		return
	}
	uid, gid := e.remap.remap.RootUID(), e.remap.remap.RootGID()
	for _, m := range mounts {
		if m.Type != mount.TypeVolume || (m.Driver != "" && m.Driver != "local") {
			continue
		}
		p, err := e.vols.Path(ctx, m.Name)
		if err != nil {
			continue
		}
		// The volume's own directory must let the remapped root through.
		_ = os.Chmod(filepath.Dir(p), 0o711)
		var st unix.Stat_t
		if unix.Lstat(p, &st) == nil && st.Uid == 0 && st.Gid == 0 {
			if err := os.Lchown(p, uid, gid); err != nil {
				e.logf("volume %s: give to the remapped root: %v", m.Name, err)
			}
		}
	}
}

// securityOptions are docker's /info list: the default spec's, and userns
// when the daemon remaps.
func (e *Engine) securityOptions() []string {
	out := runtime.SecurityOptions()
	if e.remap != nil {
		out = append(out, "name=userns")
	}
	return out
}

// openForRemap lets a remapped root through the state directory dir to the
// containers' root filesystems, as dockerd opens its root to 0711 when it
// remaps, and refuses a dir the remapped root could not reach at all.
func (e *Engine) openForRemap(dir string) error {
	if e.remap == nil {
		return nil
	}
	for _, d := range []string{dir, filepath.Join(dir, "containers")} {
		if err := os.Chmod(d, 0o711); err != nil {
			return fmt.Errorf("--userns-remap: %w", err)
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("--userns-remap: %w", err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return errdefs.Invalid("--userns-remap: %s (mode %o) cannot be searched by others: the containers' remapped root could not reach their root filesystems in %s", d, fi.Mode().Perm(), dir)
		}
		if d == "/" {
			return nil
		}
	}
}
