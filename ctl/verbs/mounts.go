package verbs

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/go-units"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/hostconfig"
	"github.com/enginefs/enginefs/voldrv"
)

// ParseMount reads docker's --mount value, Create.Mount:
// type=volume|bind|tmpfs,src=,dst=,readonly,volume-opt=K=V,volume-driver=,
// volume-nocopy,volume-label=K=V,bind-propagation=,tmpfs-size=,tmpfs-mode=.
// The fields are one CSV line, as the docker CLI reads them. The target
// and a bind's source come back clean (path.Clean), an option with
// nothing set (bind-propagation=, volume-nocopy=false) as none.
func ParseMount(s string) (mount.Mount, error) {
	r := csv.NewReader(strings.NewReader(s))
	fields, err := r.Read()
	if err != nil {
		return mount.Mount{}, errdefs.Invalid("invalid mount %q: %v", s, err)
	}
	// A second line would be dropped without a word.
	if _, err := r.Read(); err != io.EOF {
		return mount.Mount{}, errdefs.Invalid("invalid mount %q: more than one line", s)
	}
	m := mount.Mount{Type: mount.TypeVolume}
	bad := func(format string, a ...any) (mount.Mount, error) {
		return mount.Mount{}, errdefs.Invalid("invalid mount %q: "+format, append([]any{s}, a...)...)
	}
	vol := func() *mount.VolumeOptions {
		if m.VolumeOptions == nil {
			m.VolumeOptions = &mount.VolumeOptions{}
		}
		return m.VolumeOptions
	}
	driver := func() *mount.Driver {
		if vol().DriverConfig == nil {
			vol().DriverConfig = &mount.Driver{}
		}
		return vol().DriverConfig
	}
	tmpfs := func() *mount.TmpfsOptions {
		if m.TmpfsOptions == nil {
			m.TmpfsOptions = &mount.TmpfsOptions{}
		}
		return m.TmpfsOptions
	}
	boolOf := func(k, v string, set bool) (bool, error) {
		if !set {
			return true, nil
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, errdefs.Invalid("invalid mount %q: %s=%q is not a boolean", s, k, v)
		}
		return b, nil
	}
	for _, f := range fields {
		k, v, set := strings.Cut(strings.TrimSpace(f), "=")
		switch strings.ToLower(k) {
		case "type":
			m.Type = mount.Type(strings.ToLower(v))
		case "source", "src":
			m.Source = v
		case "target", "destination", "dst":
			m.Target = v
		case "readonly", "ro":
			if m.ReadOnly, err = boolOf(k, v, set); err != nil {
				return mount.Mount{}, err
			}
		case "bind-propagation":
			m.BindOptions = &mount.BindOptions{Propagation: mount.Propagation(v)}
		case "volume-driver":
			driver().Name = v
		case "volume-opt":
			ok, ov, _ := strings.Cut(v, "=")
			if driver().Options == nil {
				driver().Options = map[string]string{}
			}
			driver().Options[ok] = ov
		case "volume-label":
			lk, lv, _ := strings.Cut(v, "=")
			if vol().Labels == nil {
				vol().Labels = map[string]string{}
			}
			vol().Labels[lk] = lv
		case "volume-nocopy":
			if vol().NoCopy, err = boolOf(k, v, set); err != nil {
				return mount.Mount{}, err
			}
		case "tmpfs-size":
			n, err := units.RAMInBytes(v)
			if err != nil || n <= 0 {
				return bad("tmpfs-size=%q", v)
			}
			tmpfs().SizeBytes = n
		case "tmpfs-mode":
			n, err := strconv.ParseUint(v, 8, 32)
			if err != nil || n > maxTmpfsMode {
				return bad("tmpfs-mode=%q is not an octal mode of at most %o", v, maxTmpfsMode)
			}
			tmpfs().Mode = os.FileMode(n)
		default:
			return bad("unknown field %q", k)
		}
	}
	if err := hostconfig.CheckMount(m); err != nil {
		return mount.Mount{}, err
	}
	m.Target = path.Clean(m.Target)
	if m.Type == mount.TypeBind {
		m.Source = path.Clean(m.Source)
	}
	// The fields are trimmed, so "dst=/a /" (/a once clean) could not
	// be written back.
	if err := edgeSpace(m); err != nil {
		return mount.Mount{}, errdefs.Invalid("invalid mount %q: %w", s, err)
	}
	dropEmpty(&m)
	return m, nil
}

// edgeSpace refuses a target or source that begins or ends with white
// space: ParseMount trims its fields, so --mount cannot say one.
func edgeSpace(m mount.Mount) error {
	for _, p := range []string{m.Target, m.Source} {
		if strings.TrimSpace(p) != p {
			return fmt.Errorf("path %q begins or ends with white space, which --mount cannot say", p)
		}
	}
	return nil
}

// maxTmpfsMode is the largest tmpfs-mode: the permission bits with
// set-user-id, set-group-id and sticky (1777 for a /tmp).
const maxTmpfsMode = 0o7777

// dropEmpty makes the options of m that set nothing nil, as FormatMount
// writes them (not at all) and as a mount without them is.
func dropEmpty(m *mount.Mount) {
	if b := m.BindOptions; b != nil && *b == (mount.BindOptions{}) {
		m.BindOptions = nil
	}
	if v := m.VolumeOptions; v != nil {
		if d := v.DriverConfig; d != nil && d.Name == "" && len(d.Options) == 0 {
			v.DriverConfig = nil
		}
		if !v.NoCopy && len(v.Labels) == 0 && v.DriverConfig == nil && v.Subpath == "" {
			m.VolumeOptions = nil
		}
	}
	if t := m.TmpfsOptions; t != nil && t.SizeBytes == 0 && t.Mode == 0 && len(t.Options) == 0 {
		m.TmpfsOptions = nil
	}
}

// FormatMount writes a mount as docker's --mount value, which ParseMount
// reads back. A mount the value cannot say (a type other than bind,
// volume and tmpfs, a volume subpath) is an errdefs.ErrInvalid error.
func FormatMount(m mount.Mount) (string, error) {
	switch m.Type {
	case mount.TypeBind, mount.TypeVolume, mount.TypeTmpfs:
	default:
		return "", errdefs.Invalid("mount type %q is not supported (bind, volume or tmpfs)", m.Type)
	}
	if err := edgeSpace(m); err != nil {
		return "", errdefs.Invalid("mount %q: %w", m.Target, err)
	}
	f := []string{"type=" + string(m.Type), "dst=" + m.Target}
	if m.Source != "" {
		f = append(f, "src="+m.Source)
	}
	if m.ReadOnly {
		f = append(f, "readonly")
	}
	if b := m.BindOptions; b != nil && b.Propagation != "" {
		f = append(f, "bind-propagation="+string(b.Propagation))
	}
	if v := m.VolumeOptions; v != nil {
		if v.NoCopy {
			f = append(f, "volume-nocopy")
		}
		for _, k := range sortedKeys(v.Labels) {
			f = append(f, "volume-label="+k+"="+v.Labels[k])
		}
		if d := v.DriverConfig; d != nil {
			if d.Name != "" {
				f = append(f, "volume-driver="+d.Name)
			}
			for _, k := range sortedKeys(d.Options) {
				f = append(f, "volume-opt="+k+"="+d.Options[k])
			}
		}
		if v.Subpath != "" {
			return "", errdefs.Invalid("mount %s: volume subpaths are not supported", m.Target)
		}
	}
	if t := m.TmpfsOptions; t != nil {
		if t.SizeBytes > 0 {
			f = append(f, "tmpfs-size="+strconv.FormatInt(t.SizeBytes, 10))
		}
		// The bits ParseMount takes: os.FileMode(01777) is docker's
		// 1777, whose 01000 is not os.ModeSticky.
		if t.Mode&maxTmpfsMode != 0 {
			f = append(f, "tmpfs-mode="+strconv.FormatUint(uint64(t.Mode&maxTmpfsMode), 8))
		}
	}
	var b strings.Builder
	w := csv.NewWriter(&b)
	if err := w.Write(f); err != nil {
		return "", errdefs.Invalid("mount %s: %v", m.Target, err)
	}
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// Bind is a -v value read by ParseBind.
type Bind struct {
	Type        mount.Type // bind or volume
	Name        string     // a named volume's
	Source      string     // a bind's host path
	Destination string
	Mode        string // the options as given (ro, z, nocopy...)
	RW          bool
	Propagation mount.Propagation
	NoCopy      bool // a new volume stays empty
	Anonymous   bool // a volume without a name
}

// ParseBind reads docker's -v value, Create.Volume: [SRC:]DST[:MODE]. A
// SRC that is an absolute path is a bind mount, any other a named volume;
// no SRC is an anonymous volume. MODE is a comma list of ro, rw, z, Z,
// nocopy and a propagation.
func ParseBind(s string) (Bind, error) {
	parts := strings.Split(s, ":")
	var b Bind
	switch len(parts) {
	case 1:
		b.Destination = parts[0]
	case 2:
		b.Source, b.Destination = parts[0], parts[1]
	case 3:
		b.Source, b.Destination, b.Mode = parts[0], parts[1], parts[2]
	default:
		return Bind{}, errdefs.Invalid("invalid volume specification %q: want [SRC:]DST[:MODE]", s)
	}
	if err := hostconfig.CheckDestination(b.Destination); err != nil {
		return Bind{}, fmt.Errorf("volume specification %q: %w", s, err)
	}
	b.Destination = path.Clean(b.Destination)
	b.Type, b.RW = mount.TypeVolume, true
	switch {
	case b.Source == "":
		b.Anonymous = true
	case path.IsAbs(b.Source):
		b.Type = mount.TypeBind
		b.Source = path.Clean(b.Source)
	default:
		if err := voldrv.CheckName(b.Source); err != nil {
			return Bind{}, fmt.Errorf("volume specification %q: %w", s, err)
		}
		b.Name, b.Source = b.Source, ""
	}
	rw := 0
	for _, o := range strings.Split(b.Mode, ",") {
		switch o {
		case "":
		case "ro":
			b.RW = false
			rw++
		case "rw":
			rw++
		case "z", "Z": // SELinux labels: nothing to do here
		case "nocopy":
			if b.Type != mount.TypeVolume {
				return Bind{}, errdefs.Invalid("invalid volume specification %q: nocopy applies to volumes", s)
			}
			b.NoCopy = true
		default:
			if hostconfig.CheckPropagation(o) != nil || b.Type != mount.TypeBind {
				return Bind{}, errdefs.Invalid("invalid volume specification %q: invalid mode %q", s, o)
			}
			b.Propagation = mount.Propagation(o)
		}
	}
	if rw > 1 {
		return Bind{}, errdefs.Invalid("invalid volume specification %q: more than one of ro and rw", s)
	}
	return b, nil
}
