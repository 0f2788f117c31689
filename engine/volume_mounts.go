package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/mount"

	"github.com/enginefs/enginefs/engine/volume"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/hostconfig"
	"github.com/enginefs/enginefs/imagestore"
	"github.com/enginefs/enginefs/voldrv"
)

// MountPoint is one mount of a container (volume.MountPoint), in its
// record from create on.
type MountPoint = volume.MountPoint

// ParseBind reads docker's -v value: [SRC:]DST[:MODE]. A SRC that is an
// absolute path is a bind mount, any other a named volume; no SRC is an
// anonymous volume. MODE is a comma list of ro, rw, z, Z, nocopy and a
// propagation.
func ParseBind(s string) (MountPoint, error) {
	parts := strings.Split(s, ":")
	var mp MountPoint
	var mode string
	switch len(parts) {
	case 1:
		mp.Destination = parts[0]
	case 2:
		mp.Source, mp.Destination = parts[0], parts[1]
	case 3:
		mp.Source, mp.Destination, mode = parts[0], parts[1], parts[2]
	default:
		return MountPoint{}, errdefs.Invalid("invalid volume specification %q: want [SRC:]DST[:MODE]", s)
	}
	if err := hostconfig.CheckDestination(mp.Destination); err != nil {
		return MountPoint{}, fmt.Errorf("volume specification %q: %w", s, err)
	}
	mp.Destination = path.Clean(mp.Destination)
	mp.Type, mp.RW, mp.Mode = mount.TypeVolume, true, mode
	switch {
	case mp.Source == "":
		mp.Anonymous = true
	case path.IsAbs(mp.Source):
		mp.Type = mount.TypeBind
		mp.Source = path.Clean(mp.Source)
	default:
		if err := voldrv.CheckName(mp.Source); err != nil {
			return MountPoint{}, fmt.Errorf("volume specification %q: %w", s, err)
		}
		mp.Name, mp.Source = mp.Source, ""
	}
	rw := 0
	for _, o := range strings.Split(mode, ",") {
		switch o {
		case "":
		case "ro":
			mp.RW = false
			rw++
		case "rw":
			rw++
		case "z", "Z": // SELinux labels: nothing to do here
		case "nocopy":
			if mp.Type != mount.TypeVolume {
				return MountPoint{}, errdefs.Invalid("invalid volume specification %q: nocopy applies to volumes", s)
			}
			mp.NoCopy = true
		default:
			if hostconfig.CheckPropagation(o) != nil || mp.Type != mount.TypeBind {
				return MountPoint{}, errdefs.Invalid("invalid volume specification %q: invalid mode %q", s, o)
			}
			mp.Propagation = mount.Propagation(o)
		}
	}
	if rw > 1 {
		return MountPoint{}, errdefs.Invalid("invalid volume specification %q: more than one of ro and rw", s)
	}
	return mp, nil
}

// validate checks what can be checked without the engine.
func (s Storage) validate() error {
	for _, b := range s.Binds {
		if _, err := ParseBind(b); err != nil {
			return err
		}
	}
	for _, m := range s.Mounts {
		if err := hostconfig.CheckMount(m); err != nil {
			return err
		}
	}
	for dst := range s.Tmpfs {
		if err := hostconfig.CheckDestination(dst); err != nil {
			return err
		}
	}
	for _, v := range s.VolumesFrom {
		if c, mode, _ := strings.Cut(v, ":"); c == "" || (mode != "" && mode != "ro" && mode != "rw") {
			return errdefs.Invalid("invalid volumes-from %q: want CONTAINER[:ro|:rw]", v)
		}
	}
	return nil
}

// resolveMounts turns a config's mounts into the container's mount points,
// making the volumes they name that do not exist yet; an anonymous volume
// of prev (the mounts a config rewrite replaces) is kept for the same
// destination. It also returns the names of the volumes it made, even with
// an error, for the caller to remove (Volumes.RemoveMade) if the create
// fails. It runs before the caller holds the volumes (Volumes.Use: a
// driver's Create may be slow), which checks that they are still there.
func (e *Engine) resolveMounts(ctx context.Context, cfg *Config, img *imagestore.Image, prev []MountPoint) ([]MountPoint, []string, error) {
	byDest := map[string]MountPoint{}
	explicit := map[string]string{} // destination → what set it
	set := func(mp MountPoint, what string) error {
		if prev, ok := explicit[mp.Destination]; ok {
			return errdefs.Invalid("duplicate mount point %s (%s and %s)", mp.Destination, prev, what)
		}
		explicit[mp.Destination] = what
		byDest[mp.Destination] = mp
		return nil
	}
	for _, v := range cfg.VolumesFrom {
		ref, mode, _ := strings.Cut(v, ":")
		c, err := e.Get(ref)
		if err != nil {
			if errors.Is(err, errdefs.ErrNotFound) {
				// dockerd's words and class: a bad parameter, so that
				// clients do not take it for a missing image.
				return nil, nil, errdefs.Invalid("No such container: %s", ref)
			}
			return nil, nil, fmt.Errorf("volumes-from %s: %w", ref, err)
		}
		for _, mp := range c.Record().Mounts {
			if mp.Type == mount.TypeTmpfs {
				continue
			}
			switch mode {
			case "ro":
				mp.RW = false
			case "rw":
				mp.RW = true
			}
			byDest[mp.Destination] = mp
		}
	}
	if img != nil {
		var dests []string
		for d := range img.Config.Config.Volumes {
			dests = append(dests, path.Clean(d))
		}
		sort.Strings(dests)
		for _, d := range dests {
			if _, ok := byDest[d]; !ok && hostconfig.CheckDestination(d) == nil {
				byDest[d] = MountPoint{Type: mount.TypeVolume, Destination: d, RW: true, Anonymous: true}
			}
		}
	}
	for _, b := range cfg.Binds {
		mp, err := ParseBind(b)
		if err != nil {
			return nil, nil, err
		}
		if err := set(mp, "-v "+b); err != nil {
			return nil, nil, err
		}
	}
	for _, m := range cfg.Mounts {
		if err := hostconfig.CheckMount(m); err != nil {
			return nil, nil, err
		}
		mp := MountPoint{Type: m.Type, Destination: path.Clean(m.Target), RW: !m.ReadOnly}
		switch m.Type {
		case mount.TypeBind:
			mp.Source = path.Clean(m.Source)
			if m.BindOptions != nil {
				mp.Propagation = m.BindOptions.Propagation
			}
			if _, err := os.Stat(mp.Source); err != nil {
				return nil, nil, errdefs.Invalid("invalid mount on %s: bind source path does not exist: %s", mp.Destination, mp.Source)
			}
		case mount.TypeVolume:
			mp.Name, mp.Anonymous = m.Source, m.Source == ""
			if vo := m.VolumeOptions; vo != nil {
				mp.NoCopy = vo.NoCopy
				if vo.DriverConfig != nil {
					mp.Driver = vo.DriverConfig.Name
				}
			}
		case mount.TypeTmpfs:
			mp.TmpfsOptions = tmpfsOptions(m.TmpfsOptions)
		}
		if err := set(mp, "--mount "+m.Target); err != nil {
			return nil, nil, err
		}
	}
	for dst, opts := range cfg.Tmpfs {
		if err := hostconfig.CheckDestination(dst); err != nil {
			return nil, nil, err
		}
		if err := set(MountPoint{Type: mount.TypeTmpfs, Destination: path.Clean(dst), RW: true, TmpfsOptions: opts}, "--tmpfs "+dst); err != nil {
			return nil, nil, err
		}
	}

	out := make([]MountPoint, 0, len(byDest))
	for _, mp := range byDest {
		out = append(out, mp)
	}
	// Parents before children, so /data is mounted before /data/logs.
	sort.Slice(out, func(i, j int) bool { return out[i].Destination < out[j].Destination })
	var made []string
	for i := range out {
		mp := &out[i]
		switch mp.Type {
		case mount.TypeVolume:
			if mp.Anonymous && mp.Name == "" {
				for _, p := range prev {
					if p.Anonymous && p.Destination == mp.Destination {
						mp.Name = p.Name
					}
				}
			}
			o := volume.Options{Name: mp.Name, Driver: cmp.Or(mp.Driver, cfg.VolumeDriver)}
			for _, m := range cfg.Mounts {
				if path.Clean(m.Target) == mp.Destination && m.VolumeOptions != nil {
					o.Labels = m.VolumeOptions.Labels
					if m.VolumeOptions.DriverConfig != nil {
						o.Options = m.VolumeOptions.DriverConfig.Options
					}
				}
			}
			rec, created, err := e.vols.Ensure(ctx, o, mp.Anonymous)
			if err != nil {
				return nil, made, err
			}
			if created {
				made = append(made, rec.Name)
			}
			mp.Name, mp.Driver = rec.Name, rec.Driver
		case mount.TypeBind:
			if _, err := os.Stat(mp.Source); errors.Is(err, os.ErrNotExist) {
				// -v makes a missing host directory, as docker does.
				if err := os.MkdirAll(mp.Source, 0o755); err != nil {
					return nil, made, fmt.Errorf("bind source %s: %w", mp.Source, err)
				}
			}
		}
	}
	if len(out) == 0 {
		out = nil
	}
	return out, made, nil
}

// tmpfsOptions writes --mount's tmpfs options as --tmpfs's.
func tmpfsOptions(o *mount.TmpfsOptions) string {
	if o == nil {
		return ""
	}
	var opts []string
	if o.SizeBytes > 0 {
		opts = append(opts, "size="+strconv.FormatInt(o.SizeBytes, 10))
	}
	if o.Mode != 0 {
		opts = append(opts, "mode="+strconv.FormatUint(uint64(o.Mode.Perm()), 8))
	}
	return strings.Join(opts, ",")
}
