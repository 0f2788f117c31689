package network

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/internal/ids"
	"github.com/enginefs/enginefs/netdrv"
	"github.com/enginefs/enginefs/netdrv/dns"
	"github.com/enginefs/enginefs/netdrv/ipam"
)

// The predefined networks, as docker has them.
const (
	Bridge = "bridge" // the default bridge network
	Host   = "host"   // the host's namespace
	None   = "none"   // a namespace with lo only
)

// Driver names of the predefined host and none networks (docker's).
const (
	driverHost = "host"
	driverNull = "null"
)

// Config is how a daemon does networking.
type Config struct {
	// Drivers by name ("bridge", "macvlan").
	Drivers map[string]netdrv.Driver
	// NamespaceDir holds the containers' namespace files (a run dir:
	// namespaces do not survive a reboot).
	NamespaceDir string
	// BridgeName and BridgeSubnet make the default network "bridge".
	BridgeName   string
	BridgeSubnet netip.Prefix
	// AddressPool is where networks created without a subnet get a /24.
	AddressPool netip.Prefix
	// DefaultNetwork is the network of a container that names none
	// ("bridge", as docker; "none" to give containers no network).
	DefaultNetwork string
	// PublishIP is the host address of a published port that names none.
	PublishIP netip.Addr
	// DNSForwarders receive the questions the embedded DNS cannot answer.
	DNSForwarders []string
	// Firewall isolates the networks and masquerades what leaves the
	// host (nil: no rules, as on a host without nf_tables).
	Firewall netdrv.Firewall
}

// Record is a network, persisted in the networks bucket of the engine's
// state. The addresses its containers hold are in their records.
type Record struct {
	ID       string            `json:"Id"`
	Name     string            `json:"Name"`
	Driver   string            `json:"Driver"`
	Created  time.Time         `json:"Created"`
	Subnet   netip.Prefix      `json:"Subnet,omitzero"`
	Gateway  netip.Addr        `json:"Gateway,omitzero"`
	Internal bool              `json:"Internal,omitempty"`
	Options  map[string]string `json:"Options,omitempty"`
	Labels   map[string]string `json:"Labels,omitempty"`
	// IPRange is where containers get their addresses (docker's
	// --ip-range); zero: the whole subnet.
	IPRange netip.Prefix `json:"IPRange,omitzero"`
	// AuxAddresses are reserved and never given (docker's --aux-address),
	// by name.
	AuxAddresses map[string]netip.Addr `json:"AuxAddresses,omitempty"`
}

// Predefined reports whether r is one of bridge, host and none, which
// cannot be removed.
func (r Record) Predefined() bool {
	return r.Name == Bridge || r.Name == Host || r.Name == None
}

// userDefined reports whether containers on r find each other by name.
func (r Record) userDefined() bool { return !r.Predefined() }

// spec is what a driver is told about r.
func (r Record) spec() netdrv.Network {
	return netdrv.Network{ID: r.ID, Name: r.Name, Driver: r.Driver, Subnet: r.Subnet, Gateway: r.Gateway,
		Internal: r.Internal, Options: r.Options}
}

// Options is what network create takes (docker's names).
type Options struct {
	Name     string
	Driver   string // default "bridge"
	Subnet   string // CIDR; default: a free /24 of the address pool
	Gateway  string // default: the subnet's first address
	Internal bool
	Options  map[string]string
	Labels   map[string]string
	IPRange  string            // CIDR inside the subnet; default: the whole subnet
	Aux      map[string]string // auxiliary addresses: name → IP in the subnet
}

// Store keeps the network records by id: the networks bucket of the
// engine's state, which engine.New hands to Open. A Put or Delete is on
// disk when it returns; ForEach's value is valid only during the call.
type Store interface {
	Put(key string, value []byte) error
	Delete(key string) error
	ForEach(fn func(key string, value []byte) error) error
}

// Emit records an event of the network id (create, destroy, connect,
// disconnect) with the pairs (key, value, ...) of its attributes.
type Emit func(action, id string, attrs ...string)

// entry is a network in memory.
type entry struct {
	rec  Record
	pool *ipam.Pool // nil for host and none
}

// Manager holds the networks. It is safe for concurrent use once opened.
type Manager struct {
	cfg  *Config // nil: no networking (Disabled)
	logf func(format string, args ...any)
	dns  *dns.Server

	// What Open is given.
	store Store
	ctrs  Containers
	emit  Emit

	// mu guards nets. It is held for reading while an attachment is
	// made and saved (Attach to Commit or Abort), across a connect or a
	// disconnect and while a starting container joins its networks, so
	// that no network goes away meanwhile; for writing while networks
	// are made and removed.
	mu   sync.RWMutex
	nets map[string]*entry // by id

	sbs sandboxes
}

// Option configures New and Disabled.
type Option func(*Manager)

// WithLogger sets where the manager (and its DNS) reports what it cannot
// return to a caller. Default: the standard logger.
func WithLogger(logf func(format string, args ...any)) Option {
	return func(m *Manager) { m.logf = logf }
}

// New returns a manager of networks as cfg says, with its embedded DNS,
// which answers from the containers Open gives it.
func New(cfg Config, opts ...Option) *Manager {
	m := Disabled(opts...)
	m.cfg = &cfg
	m.dns = dns.New(resolver{m}, dns.WithForwarders(cfg.DNSForwarders...), dns.WithLogger(m.logf))
	return m
}

// Disabled returns the manager of a daemon without networking, what the
// engine has when given none: every container is in a namespace of its
// own with only lo ("none") or in the host's ("host"), there are no
// networks, and naming one is an errdefs.ErrUnavailable error.
func Disabled(opts ...Option) *Manager {
	m := &Manager{logf: log.Printf, nets: map[string]*entry{}, sbs: sandboxes{m: map[string]*Sandbox{}}}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Open reads the network records from st, makes the predefined networks
// that are missing and rebuilds the address pools from the endpoints of
// the containers cs has; it keeps st, cs and emit for what follows. The
// default bridge follows the daemon's flags while nothing is attached to
// it. The engine calls it once, at its start, before anything else uses
// the manager; a record that does not decode is reported and skipped.
func (m *Manager) Open(ctx context.Context, st Store, cs Containers, emit Emit) error {
	m.store, m.ctrs, m.emit = st, cs, emit
	if m.cfg == nil {
		return nil
	}
	var stored []Record
	err := st.ForEach(func(k string, v []byte) error {
		var r Record
		if err := json.Unmarshal(v, &r); err != nil || r.ID != k {
			m.logf("skipping unreadable network record %q: %v", k, err)
			return nil
		}
		stored = append(stored, r)
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading network records: %w", err)
	}
	containers := cs.List()
	attached := map[string]bool{}
	for _, c := range containers {
		for _, ep := range c.Endpoints {
			attached[ep.NetworkID] = true
		}
	}
	byName := map[string]Record{}
	for _, r := range stored {
		byName[r.Name] = r
	}
	want := map[string]Record{
		Bridge: {Name: Bridge, Driver: "bridge", Subnet: m.cfg.BridgeSubnet.Masked(),
			Gateway: ipam.FirstHost(m.cfg.BridgeSubnet), Options: map[string]string{netdrv.OptionBridgeName: m.cfg.BridgeName}},
		Host: {Name: Host, Driver: driverHost},
		None: {Name: None, Driver: driverNull},
	}
	for name, w := range want {
		old, ok := byName[name]
		if ok && (name != Bridge || old.Subnet == w.Subnet && old.Options[netdrv.OptionBridgeName] == m.cfg.BridgeName) {
			continue
		}
		if ok && attached[old.ID] {
			m.logf("the default bridge network keeps %s on %s: containers are attached to it", old.Subnet, old.Options[netdrv.OptionBridgeName])
			continue
		}
		w.ID, w.Created = ids.New(), time.Now().UTC()
		if ok {
			w.ID, w.Created = old.ID, old.Created
		}
		if err := m.put(w); err != nil {
			return err
		}
		byName[name] = w
	}
	for _, r := range byName {
		n := &entry{rec: r}
		if r.Subnet.IsValid() {
			if n.pool, err = r.newPool(); err != nil {
				m.logf("network %s: %v", r.Name, err)
				continue
			}
		}
		m.nets[r.ID] = n
	}
	for _, c := range containers {
		for name, ep := range c.Endpoints {
			n := m.nets[ep.NetworkID]
			if n == nil || n.pool == nil {
				m.logf("container %s: attached to network %s, which is gone", ids.Short(c.ID), name)
				continue
			}
			if err := n.pool.Claim(ep.addr(), c.ID); err != nil {
				m.logf("container %s: network %s: %v", ids.Short(c.ID), name, err)
			}
		}
	}
	return nil
}

// Create makes a network and its host side (a bridge).
func (m *Manager) Create(ctx context.Context, o Options) (Record, error) {
	if err := m.networking(); err != nil {
		return Record{}, err
	}
	if err := checkName(o.Name); err != nil {
		return Record{}, err
	}
	if o.Driver == "" {
		o.Driver = "bridge"
	}
	drv, ok := m.cfg.Drivers[o.Driver]
	if !ok {
		return Record{}, errdefs.Invalid("network %s: unknown driver %q (one of %s)", o.Name, o.Driver, strings.Join(m.driverNames(), ", "))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.lookup(o.Name); err == nil {
		return Record{}, errdefs.AlreadyExists("network with name %s already exists", o.Name)
	}
	rec := Record{ID: ids.New(), Name: o.Name, Driver: o.Driver, Created: time.Now().UTC(), Internal: o.Internal,
		Options: o.Options, Labels: o.Labels}
	if err := m.address(&rec, o.Subnet, o.Gateway); err != nil {
		return Record{}, err
	}
	if err := rec.ipam(o); err != nil {
		return Record{}, err
	}
	pool, err := rec.newPool()
	if err != nil {
		return Record{}, fmt.Errorf("network %s: %w", o.Name, err)
	}
	if err := drv.Setup(ctx, rec.spec()); err != nil {
		return Record{}, err
	}
	if err := m.put(rec); err != nil {
		_ = drv.Teardown(context.WithoutCancel(ctx), rec.spec())
		return Record{}, err
	}
	m.nets[rec.ID] = &entry{rec: rec, pool: pool}
	if err := m.syncFirewall(ctx); err != nil {
		// A network without its rules would not be isolated: it is not
		// made at all.
		delete(m.nets, rec.ID)
		if derr := m.store.Delete(rec.ID); derr != nil {
			m.logf("network %s: %v", rec.Name, derr)
		}
		_ = drv.Teardown(context.WithoutCancel(ctx), rec.spec())
		if rerr := m.syncFirewall(ctx); rerr != nil {
			m.logf("networks: %v", rerr)
		}
		return Record{}, errdefs.Unavailable("network %s: its firewall rules: %w", o.Name, err)
	}
	m.emit("create", rec.ID, "name", rec.Name, "type", rec.Driver)
	return rec, nil
}

// address gives rec its subnet and gateway: those asked for, which must not
// overlap another network (nor, for a bridge, a route of the host), else a
// free /24 of the pool. m.mu is held.
func (m *Manager) address(rec *Record, subnet, gateway string) error {
	var taken []netip.Prefix
	for _, n := range m.nets {
		if n.rec.Subnet.IsValid() {
			taken = append(taken, n.rec.Subnet)
		}
	}
	if rec.Driver == "bridge" {
		routes, err := netdrv.HostRoutes()
		if err != nil {
			return err
		}
		taken = append(taken, routes...)
	}
	var err error
	if subnet == "" {
		if gateway != "" {
			return errdefs.Invalid("network %s: a gateway needs a subnet", rec.Name)
		}
		rec.Subnet, err = ipam.NextSubnet(m.cfg.AddressPool, 24, taken)
		if err != nil {
			return fmt.Errorf("network %s: %w", rec.Name, err)
		}
	} else {
		if rec.Subnet, err = ipam.ParseSubnet(subnet); err != nil {
			return fmt.Errorf("network %s: %w", rec.Name, err)
		}
		for _, t := range taken {
			if t.Overlaps(rec.Subnet) {
				return errdefs.AlreadyExists("network %s: subnet %s overlaps %s, in use on this host", rec.Name, rec.Subnet, t)
			}
		}
	}
	rec.Gateway = ipam.FirstHost(rec.Subnet)
	if gateway != "" {
		if rec.Gateway, err = netip.ParseAddr(gateway); err != nil {
			return errdefs.Invalid("network %s: invalid gateway %q", rec.Name, gateway)
		}
	}
	if !rec.Subnet.Contains(rec.Gateway) {
		return errdefs.Invalid("network %s: gateway %s is not in subnet %s", rec.Name, rec.Gateway, rec.Subnet)
	}
	return nil
}

// Remove removes a network that no container is attached to.
func (m *Manager) Remove(ctx context.Context, ref string) error {
	if err := m.networking(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup(ref)
	if err != nil {
		return err
	}
	return m.removeLocked(ctx, n)
}

// removeLocked removes n. m.mu is held.
func (m *Manager) removeLocked(ctx context.Context, n *entry) error {
	if n.rec.Predefined() {
		return errdefs.New(errdefs.ErrPermission, "%s is a pre-defined network and cannot be removed", n.rec.Name)
	}
	if names := m.attachedNames(n.rec); len(names) > 0 {
		return errdefs.Busy("network %s has containers attached: %s (disconnect or remove them first)", n.rec.Name, strings.Join(names, ", "))
	}
	if drv := m.cfg.Drivers[n.rec.Driver]; drv != nil {
		if err := drv.Teardown(ctx, n.rec.spec()); err != nil {
			return err
		}
	}
	if err := m.store.Delete(n.rec.ID); err != nil {
		return fmt.Errorf("network %s: %w", n.rec.Name, err)
	}
	delete(m.nets, n.rec.ID)
	if err := m.syncFirewall(ctx); err != nil {
		// The rules of a bridge that is gone match nothing.
		m.logf("networks: %v", err)
	}
	m.emit("destroy", n.rec.ID, "name", n.rec.Name, "type", n.rec.Driver)
	return nil
}

// syncFirewall makes the firewall's rules those of the networks there are.
// m.mu is held.
func (m *Manager) syncFirewall(ctx context.Context) error {
	if m.cfg.Firewall == nil {
		return nil
	}
	specs := make([]netdrv.Network, 0, len(m.nets))
	for _, n := range m.sorted() {
		specs = append(specs, n.rec.spec())
	}
	return m.cfg.Firewall.Sync(context.WithoutCancel(ctx), specs)
}

// Prune removes every user-defined network no container is attached to and
// returns their names.
func (m *Manager) Prune(ctx context.Context) ([]string, error) {
	if err := m.networking(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var removed []string
	var errs []error
	for _, n := range m.sorted() {
		if n.rec.Predefined() || len(m.attachedNames(n.rec)) > 0 {
			continue
		}
		if err := m.removeLocked(ctx, n); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, n.rec.Name)
	}
	return removed, errors.Join(errs...)
}

// List returns every network, by name.
func (m *Manager) List() []Record {
	if m.cfg == nil {
		return nil
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []Record
	for _, n := range m.sorted() {
		out = append(out, n.rec)
	}
	return out
}

// Get finds a network by name, id or unique id prefix.
func (m *Manager) Get(ref string) (Record, error) {
	if err := m.networking(); err != nil {
		return Record{}, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	n, err := m.lookup(ref)
	if err != nil {
		return Record{}, err
	}
	return n.rec, nil
}

// lookup finds a network as Get does. m.mu is held.
func (m *Manager) lookup(ref string) (*entry, error) {
	if n, ok := m.nets[ref]; ok {
		return n, nil
	}
	for _, n := range m.nets {
		if n.rec.Name == ref {
			return n, nil
		}
	}
	var found *entry
	if ref != "" && strings.Trim(ref, "0123456789abcdef") == "" {
		for id, n := range m.nets {
			if strings.HasPrefix(id, ref) {
				if found != nil {
					return nil, errdefs.Invalid("network id prefix %q is ambiguous", ref)
				}
				found = n
			}
		}
	}
	if found == nil {
		return nil, errdefs.NotFound("network %s not found", ref)
	}
	return found, nil
}

// sorted returns the networks by name. m.mu is held.
func (m *Manager) sorted() []*entry {
	out := make([]*entry, 0, len(m.nets))
	for _, n := range m.nets {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rec.Name < out[j].rec.Name })
	return out
}

// Attached is a container attached to a network, for network inspect.
type Attached struct {
	ID, Name string
	Endpoint Endpoint
	Running  bool
}

// Attached returns the containers attached to the network ref.
func (m *Manager) Attached(ref string) ([]Attached, error) {
	rec, err := m.Get(ref)
	if err != nil {
		return nil, err
	}
	var out []Attached
	for _, c := range m.ctrs.List() {
		if ep, ok := c.Endpoints[rec.Name]; ok && ep.NetworkID == rec.ID {
			out = append(out, Attached{ID: c.ID, Name: c.Name, Endpoint: *ep, Running: c.Live})
		}
	}
	return out, nil
}

// attachedNames names the containers attached to rec.
func (m *Manager) attachedNames(rec Record) []string {
	var names []string
	for _, c := range m.ctrs.List() {
		if ep, ok := c.Endpoints[rec.Name]; ok && ep.NetworkID == rec.ID {
			names = append(names, cmp.Or(c.Name, ids.Short(c.ID)))
		}
	}
	return names
}

func (m *Manager) driverNames() []string {
	var out []string
	for n := range m.cfg.Drivers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// networking fails when the daemon was not given networking.
func (m *Manager) networking() error {
	if m.cfg == nil {
		return errdefs.Unavailable("networking is not configured in this daemon")
	}
	return nil
}

func (m *Manager) put(rec Record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return m.store.Put(rec.ID, data)
}
