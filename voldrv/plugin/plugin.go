// Package plugin serves volumes through Docker volume plugins: processes
// that answer Docker's volume plugin protocol (POST /Plugin.Activate, then
// /VolumeDriver.Create, .Remove, .Mount, .Unmount, .Path, .Get, .List,
// .Capabilities, JSON bodies) over a unix socket in the plugin directory,
// /run/docker/plugins/NAME.sock by default, so an existing plugin serves
// enginefs volumes unchanged. A NAME.spec file holding unix:///path names a
// socket elsewhere.
//
// Entry points: NewRegistry, Registry.Get.
package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/voldrv"
)

// MediaType is what the plugin protocol's requests and replies are.
const MediaType = "application/vnd.docker.plugins.v1.2+json"

// Registry finds plugins by name in a directory. It is safe for concurrent
// use.
type Registry struct {
	dir     string
	timeout time.Duration

	mu      sync.Mutex
	plugins map[string]*client
}

// NewRegistry returns the plugins of dir. Each request to a plugin is
// bounded by timeout (0: 30 s).
func NewRegistry(dir string, timeout time.Duration) *Registry {
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	return &Registry{dir: dir, timeout: timeout, plugins: map[string]*client{}}
}

// Get returns the volume driver served by the plugin name, activating it on
// first use. A plugin with no socket is an errdefs.ErrNotFound error; one
// that does not implement VolumeDriver errdefs.ErrInvalid.
func (r *Registry) Get(ctx context.Context, name string) (voldrv.Driver, error) {
	if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return nil, errdefs.Invalid("invalid volume driver name %q", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.plugins[name]; ok {
		return c, nil
	}
	sock, err := r.socket(name)
	if err != nil {
		return nil, err
	}
	c := newClient(name, sock, r.timeout)
	var resp struct{ Implements []string }
	if err := c.call(ctx, "/Plugin.Activate", struct{}{}, &resp); err != nil {
		return nil, fmt.Errorf("volume plugin %s: activating: %w", name, err)
	}
	if !slices.Contains(resp.Implements, "VolumeDriver") {
		return nil, errdefs.Invalid("plugin %s does not implement VolumeDriver (it implements %v)", name, resp.Implements)
	}
	r.plugins[name] = c
	return c, nil
}

// socket finds the plugin's socket: NAME.sock, or the address of NAME.spec.
func (r *Registry) socket(name string) (string, error) {
	sock := filepath.Join(r.dir, name+".sock")
	if st, err := os.Stat(sock); err == nil && st.Mode()&os.ModeSocket != 0 {
		return sock, nil
	}
	if b, err := os.ReadFile(filepath.Join(r.dir, name+".spec")); err == nil {
		addr := strings.TrimSpace(string(b))
		if p, ok := strings.CutPrefix(addr, "unix://"); ok {
			return p, nil
		}
		return "", errdefs.Invalid("volume plugin %s: %s.spec names %q: only unix:// addresses are supported", name, name, addr)
	}
	return "", errdefs.NotFound("no volume driver %q: no plugin socket %s", name, sock)
}

// client speaks the protocol to one plugin.
type client struct {
	name    string
	http    *http.Client
	timeout time.Duration
}

var _ voldrv.Driver = (*client)(nil)

func newClient(name, sock string, timeout time.Duration) *client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		DisableCompression: true,
	}
	return &client{name: name, http: &http.Client{Transport: tr}, timeout: timeout}
}

// call posts req to method and decodes the reply into resp; a reply with
// an Err is that error.
func (c *client) call(ctx context.Context, method string, req, resp any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://plugin"+method, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hr.Header.Set("Accept", MediaType)
	hr.Header.Set("Content-Type", MediaType)
	r, err := c.http.Do(hr)
	if err != nil {
		return errdefs.Unavailable("volume plugin %s: %s: %w", c.name, method, err)
	}
	defer r.Body.Close()
	var raw json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
		return fmt.Errorf("volume plugin %s: %s: status %d, bad reply: %w", c.name, method, r.StatusCode, err)
	}
	var e struct{ Err string }
	_ = json.Unmarshal(raw, &e)
	if e.Err != "" {
		return fmt.Errorf("volume plugin %s: %s: %w", c.name, method, pluginError(e.Err))
	}
	if r.StatusCode != http.StatusOK {
		return fmt.Errorf("volume plugin %s: %s: status %d", c.name, method, r.StatusCode)
	}
	if resp != nil {
		return json.Unmarshal(raw, resp)
	}
	return nil
}

// pluginError classes a plugin's error text: the protocol's replies carry
// only a message ("Err"), so the class is read from the words plugins use
// for it (docker's own volume errors and the errno texts of Go and libc).
// A message that says none of them stays unclassed (EIO over the tree,
// 500 over the REST bridge); the caller wraps it with the plugin's name.
func pluginError(msg string) error {
	switch l := strings.ToLower(msg); {
	case strings.Contains(l, "not found"), strings.Contains(l, "no such"), strings.Contains(l, "does not exist"):
		return errdefs.NotFound("%s", msg)
	case strings.Contains(l, "already exists"), strings.Contains(l, "file exists"):
		return errdefs.AlreadyExists("%s", msg)
	case strings.Contains(l, "in use"), strings.Contains(l, "busy"):
		return errdefs.Busy("%s", msg)
	case strings.Contains(l, "invalid"), strings.Contains(l, "unknown option"), strings.Contains(l, "bad option"):
		return errdefs.Invalid("%s", msg)
	}
	return errors.New(msg)
}

// Name implements voldrv.Driver.
func (c *client) Name() string { return c.name }

// Create implements voldrv.Driver.
func (c *client) Create(ctx context.Context, name string, opts map[string]string) error {
	if err := voldrv.CheckName(name); err != nil {
		return err
	}
	return c.call(ctx, "/VolumeDriver.Create", struct {
		Name string
		Opts map[string]string
	}{name, opts}, nil)
}

// Remove implements voldrv.Driver.
func (c *client) Remove(ctx context.Context, name string) error {
	return c.call(ctx, "/VolumeDriver.Remove", struct{ Name string }{name}, nil)
}

// Mount implements voldrv.Driver.
func (c *client) Mount(ctx context.Context, name, id string) (string, error) {
	var resp struct{ Mountpoint string }
	if err := c.call(ctx, "/VolumeDriver.Mount", struct{ Name, ID string }{name, id}, &resp); err != nil {
		return "", err
	}
	if !filepath.IsAbs(resp.Mountpoint) {
		return "", fmt.Errorf("volume plugin %s: mount of %s returned %q, not an absolute path", c.name, name, resp.Mountpoint)
	}
	return resp.Mountpoint, nil
}

// Unmount implements voldrv.Driver.
func (c *client) Unmount(ctx context.Context, name, id string) error {
	return c.call(ctx, "/VolumeDriver.Unmount", struct{ Name, ID string }{name, id}, nil)
}

// Path implements voldrv.Driver.
func (c *client) Path(ctx context.Context, name string) (string, error) {
	var resp struct{ Mountpoint string }
	if err := c.call(ctx, "/VolumeDriver.Path", struct{ Name string }{name}, &resp); err != nil {
		return "", err
	}
	return resp.Mountpoint, nil
}
