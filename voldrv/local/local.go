// Package local is the "local" volume driver: a volume is a directory
// <root>/<name>/_data, as docker's, optionally a file system mounted there
// while containers use it (docker's options type=, device=, o=, e.g.
// type=tmpfs device=tmpfs o=size=64m).
//
// Entry point: New returns the voldrv.Driver.
package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/voldrv"
)

// Name is the driver's name.
const Name = "local"

// driver holds the volumes under root.
type driver struct {
	root string

	mu    sync.Mutex
	holds map[string]map[string]bool // volume → ids that mounted it
}

// New returns the local driver over root (created if missing).
func New(root string) (voldrv.Driver, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("local volumes: %w", err)
	}
	return &driver{root: root, holds: map[string]map[string]bool{}}, nil
}

var _ voldrv.Driver = (*driver)(nil)

// options are a volume's mount options, kept beside its data.
type options struct {
	Type   string `json:"type,omitempty"`
	Device string `json:"device,omitempty"`
	O      string `json:"o,omitempty"`
}

func (d *driver) Name() string { return Name }

func (d *driver) dir(name string) string  { return filepath.Join(d.root, name) }
func (d *driver) data(name string) string { return filepath.Join(d.root, name, "_data") }

// Create implements voldrv.Driver.
func (d *driver) Create(_ context.Context, name string, opts map[string]string) error {
	if err := voldrv.CheckName(name); err != nil {
		return err
	}
	var o options
	for k, v := range opts {
		switch k {
		case "type":
			o.Type = v
		case "device":
			o.Device = v
		case "o":
			o.O = v
		default:
			return errdefs.Invalid("volume %s: the local driver has no option %q (type, device, o)", name, k)
		}
	}
	if (o.Type == "") != (o.Device == "") {
		return errdefs.Invalid("volume %s: type= and device= go together", name)
	}
	if err := os.MkdirAll(d.dir(name), 0o700); err != nil {
		return fmt.Errorf("volume %s: %w", name, err)
	}
	// 0755 as docker's, whatever the daemon's umask; a volume that exists
	// keeps the mode it has.
	switch err := os.Mkdir(d.data(name), 0o755); {
	case err == nil:
		if err := os.Chmod(d.data(name), 0o755); err != nil {
			return fmt.Errorf("volume %s: %w", name, err)
		}
	case !errors.Is(err, os.ErrExist):
		return fmt.Errorf("volume %s: %w", name, err)
	}
	if o.Type == "" {
		return nil
	}
	b, _ := json.Marshal(o)
	if err := os.WriteFile(filepath.Join(d.dir(name), "opts.json"), b, 0o600); err != nil {
		return fmt.Errorf("volume %s: %w", name, err)
	}
	return nil
}

// readOptions returns the volume's mount options (none for a plain one).
func (d *driver) readOptions(name string) (options, error) {
	var o options
	b, err := os.ReadFile(filepath.Join(d.dir(name), "opts.json"))
	if errors.Is(err, os.ErrNotExist) {
		return o, nil
	}
	if err == nil {
		err = json.Unmarshal(b, &o)
	}
	return o, err
}

// Remove implements voldrv.Driver.
func (d *driver) Remove(_ context.Context, name string) error {
	if err := voldrv.CheckName(name); err != nil {
		return err
	}
	d.mu.Lock()
	delete(d.holds, name)
	d.mu.Unlock()
	if err := unix.Unmount(d.data(name), unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("volume %s: unmount: %w", name, err)
	}
	if err := os.RemoveAll(d.dir(name)); err != nil {
		return fmt.Errorf("volume %s: %w", name, err)
	}
	return nil
}

// Mount implements voldrv.Driver: a volume with a type is mounted by its
// first holder (or found mounted, after a daemon restart).
func (d *driver) Mount(_ context.Context, name, id string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	data, o, err := d.find(name)
	if err != nil {
		return "", err
	}
	if o.Type != "" && !mounted(data) {
		flags, rest := splitOptions(o.O)
		if err := unix.Mount(o.Device, data, o.Type, flags, rest); err != nil {
			return "", fmt.Errorf("volume %s: mount %s (%s, %q): %w", name, o.Device, o.Type, o.O, err)
		}
	}
	if d.holds[name] == nil {
		d.holds[name] = map[string]bool{}
	}
	d.holds[name][id] = true
	return data, nil
}

// Unmount implements voldrv.Driver: the last holder unmounts.
func (d *driver) Unmount(_ context.Context, name, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.holds[name], id)
	if len(d.holds[name]) > 0 {
		return nil
	}
	delete(d.holds, name)
	o, err := d.readOptions(name)
	if err != nil || o.Type == "" {
		return err
	}
	if err := unix.Unmount(d.data(name), 0); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("volume %s: unmount: %w", name, err)
	}
	return nil
}

// Path implements voldrv.Driver: the data directory; "" for a volume of a
// type (a tmpfs) that no container mounts, whose data exists only while
// mounted: the directory under the mount is not the volume's.
func (d *driver) Path(_ context.Context, name string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	data, o, err := d.find(name)
	if err != nil {
		return "", err
	}
	if o.Type != "" && !mounted(data) {
		return "", nil
	}
	return data, nil
}

// find returns the data directory and options of the volume name, which
// must exist (errdefs.ErrNotFound). d.mu is held.
func (d *driver) find(name string) (string, options, error) {
	if err := voldrv.CheckName(name); err != nil {
		return "", options{}, err
	}
	data := d.data(name)
	if _, err := os.Stat(data); err != nil {
		return "", options{}, errdefs.NotFound("volume %s: no data directory: %v", name, err)
	}
	o, err := d.readOptions(name)
	if err != nil {
		return "", options{}, fmt.Errorf("volume %s: options: %w", name, err)
	}
	return data, o, nil
}

// mounted reports whether dir is a mount point.
func mounted(dir string) bool {
	var st, parent unix.Stat_t
	if unix.Stat(dir, &st) != nil || unix.Stat(filepath.Dir(dir), &parent) != nil {
		return false
	}
	return st.Dev != parent.Dev
}

// splitOptions splits o= into mount flags and the file system's data.
func splitOptions(o string) (uintptr, string) {
	var flags uintptr
	var rest []string
	for _, opt := range strings.Split(o, ",") {
		switch opt {
		case "":
		case "ro":
			flags |= unix.MS_RDONLY
		case "nosuid":
			flags |= unix.MS_NOSUID
		case "nodev":
			flags |= unix.MS_NODEV
		case "noexec":
			flags |= unix.MS_NOEXEC
		case "bind":
			flags |= unix.MS_BIND
		case "rbind":
			flags |= unix.MS_BIND | unix.MS_REC
		default:
			rest = append(rest, opt)
		}
	}
	return flags, strings.Join(rest, ",")
}
