package volume

import (
	"context"
	"encoding/json"
	"log"
	"sync"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/voldrv"
	"github.com/enginefs/enginefs/voldrv/local"
)

// Record is a volume, persisted in the volumes bucket of the engine's
// state. Which containers use it is in their records.
type Record struct {
	Name    string            `json:"Name"`
	Driver  string            `json:"Driver"`
	Created time.Time         `json:"CreatedAt"`
	Labels  map[string]string `json:"Labels,omitempty"`
	Options map[string]string `json:"Options,omitempty"`
	// Anonymous volumes are made for a container (an image's VOLUME, -v
	// /path) and removed with it by run --rm and prune.
	Anonymous bool `json:"Anonymous,omitempty"`
}

// Options is what volume create takes (docker's names).
type Options struct {
	Name    string // "" for a generated one
	Driver  string // default "local"
	Options map[string]string
	Labels  map[string]string
}

// Store keeps the volume records by name: the volumes bucket of the
// engine's state, which engine.New hands to Open. A Put or Delete is on
// disk when it returns; ForEach's value is valid only during the call.
type Store interface {
	Put(key string, value []byte) error
	Delete(key string) error
	ForEach(fn func(key string, value []byte) error) error
}

// Users names the containers whose mounts use the volume name (a
// container's name, or its short id). A volume with users is not removed.
// It may take the engine's and the containers' locks: a Manager calls it
// holding its use lock only.
type Users func(name string) []string

// Emit records an event of the volume name (create, destroy, mount,
// unmount) with the pairs (key, value, ...) of its attributes.
type Emit func(action, name string, attrs ...string)

// Plugins finds the volume drivers served by Docker volume plugins, by
// name (*plugin.Registry).
type Plugins interface {
	Get(ctx context.Context, name string) (voldrv.Driver, error)
}

// Manager holds the volumes. It is safe for concurrent use once opened.
type Manager struct {
	local   voldrv.Driver // nil: no volumes
	plugins Plugins       // nil: the local driver only
	logf    func(format string, args ...any)

	// What Open is given.
	store Store
	users Users
	emit  Emit

	// use is held for reading while containers take volumes (Use) and
	// for writing while volumes are removed, so that no volume goes
	// away under a container being made.
	use sync.RWMutex

	mu   sync.Mutex // guards vols, making and filling
	vols map[string]Record
	// making are the volumes being made (Ensure), by name: a second
	// create of the same name waits for the first, and nothing else
	// waits on a driver's Create.
	making map[string]chan struct{}
	// filling are the locks of volumes' first fill from an image, by
	// name, so that containers started together fill a new volume once.
	filling map[string]*sync.Mutex
}

// Option configures New.
type Option func(*Manager)

// WithPlugins makes the Docker volume plugins p finds drivers of volumes.
// Default: the local driver only.
func WithPlugins(p Plugins) Option { return func(m *Manager) { m.plugins = p } }

// WithLogger sets where the manager reports what it cannot return to a
// caller (a failed unmount, a skipped record). Default: the standard logger.
func WithLogger(logf func(format string, args ...any)) Option {
	return func(m *Manager) { m.logf = logf }
}

// New returns a manager whose volumes that name no driver, or "local", are
// local's (voldrv/local). A nil local makes a manager without volumes, what
// the engine has when given none: containers may bind and mount tmpfs,
// and a volume is an errdefs.ErrUnavailable error.
func New(local voldrv.Driver, opts ...Option) *Manager {
	m := &Manager{
		local:   local,
		logf:    log.Printf,
		vols:    map[string]Record{},
		making:  map[string]chan struct{}{},
		filling: map[string]*sync.Mutex{},
	}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Open reads the volume records from st and keeps st, users and emit for
// what follows. The engine calls it once, at its start, before anything
// else uses the manager. A record that does not decode is reported and
// skipped rather than blocking the start.
func (m *Manager) Open(st Store, users Users, emit Emit) error {
	m.store, m.users, m.emit = st, users, emit
	return st.ForEach(func(k string, v []byte) error {
		var r Record
		if err := json.Unmarshal(v, &r); err != nil || r.Name != k {
			m.logf("skipping unreadable volume record %q: %v", k, err)
			return nil
		}
		m.vols[r.Name] = r
		return nil
	})
}

// driver returns the driver named name ("" is local).
func (m *Manager) driver(ctx context.Context, name string) (voldrv.Driver, error) {
	if name == "" || name == local.Name {
		if m.local == nil {
			return nil, errdefs.Unavailable("volumes are not configured in this daemon")
		}
		return m.local, nil
	}
	if m.plugins == nil {
		return nil, errdefs.NotFound("no volume driver %q (this daemon has no plugin directory)", name)
	}
	return m.plugins.Get(ctx, name)
}

func (m *Manager) put(rec Record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return m.store.Put(rec.Name, data)
}
