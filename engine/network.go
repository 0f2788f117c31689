package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/netdrv"
	"github.com/enginefs/enginefs/netdrv/dns"
	"github.com/enginefs/enginefs/netdrv/ipam"
)

// The predefined networks, as docker has them.
const (
	NetworkBridge = "bridge" // the default bridge network
	NetworkHost   = "host"   // the host's namespace
	NetworkNone   = "none"   // a namespace with lo only
)

// Driver names of the predefined host and none networks (docker's).
const (
	driverHost = "host"
	driverNull = "null"
)

// NetConfig is how a daemon does networking (WithNetworking).
type NetConfig struct {
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

// WithNetworking gives containers networks. Without it every container
// is in a namespace of its own with only lo ("none"), and naming another
// network is an errdefs.ErrUnavailable error.
func WithNetworking(cfg NetConfig) Option {
	return func(e *Engine) { e.netcfg = &cfg }
}

// NetworkRecord is a network, persisted in the networks bucket of the
// engine's state. The addresses its containers hold are in their records.
type NetworkRecord struct {
	ID       string            `json:"Id"`
	Name     string            `json:"Name"`
	Driver   string            `json:"Driver"`
	Created  time.Time         `json:"Created"`
	Subnet   netip.Prefix      `json:"Subnet,omitzero"`
	Gateway  netip.Addr        `json:"Gateway,omitzero"`
	Internal bool              `json:"Internal,omitempty"`
	Options  map[string]string `json:"Options,omitempty"`
	Labels   map[string]string `json:"Labels,omitempty"`
}

// Predefined reports whether r is one of bridge, host and none, which
// cannot be removed.
func (r NetworkRecord) Predefined() bool {
	return r.Name == NetworkBridge || r.Name == NetworkHost || r.Name == NetworkNone
}

// userDefined reports whether containers on r find each other by name.
func (r NetworkRecord) userDefined() bool { return !r.Predefined() }

// spec is what a driver is told about r.
func (r NetworkRecord) spec() netdrv.Network {
	return netdrv.Network{ID: r.ID, Name: r.Name, Driver: r.Driver, Subnet: r.Subnet, Gateway: r.Gateway,
		Internal: r.Internal, Options: r.Options}
}

// netEntry is a network in memory.
type netEntry struct {
	rec  NetworkRecord
	pool *ipam.Pool // nil for host and none
}

// netState is the engine's networking.
type netState struct {
	// mu guards nets. Lock order: netState.mu, then Engine.mu, then
	// Container.mu. Attaching containers holds it for reading, so a
	// network is not removed under an attachment being made.
	mu   sync.RWMutex
	nets map[string]*netEntry // by id
	dns  *dns.Server
}

var bucketNetworks = []byte("networks")

// NetworkOptions is what network create takes (docker's names).
type NetworkOptions struct {
	Name     string
	Driver   string // default "bridge"
	Subnet   string // CIDR; default: a free /24 of the address pool
	Gateway  string // default: the subnet's first address
	Internal bool
	Options  map[string]string
	Labels   map[string]string
}

var validNetworkName = validName

// CreateNetwork makes a network and its host side (a bridge).
func (e *Engine) CreateNetwork(ctx context.Context, o NetworkOptions) (NetworkRecord, error) {
	if err := e.networking(); err != nil {
		return NetworkRecord{}, err
	}
	if !validNetworkName.MatchString(o.Name) || len(o.Name) > 128 {
		return NetworkRecord{}, errdefs.Invalid("invalid network name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", o.Name)
	}
	if o.Driver == "" {
		o.Driver = "bridge"
	}
	drv, ok := e.netcfg.Drivers[o.Driver]
	if !ok {
		return NetworkRecord{}, errdefs.Invalid("network %s: unknown driver %q (one of %s)", o.Name, o.Driver, strings.Join(e.driverNames(), ", "))
	}
	e.net.mu.Lock()
	defer e.net.mu.Unlock()
	if _, err := e.networkLocked(o.Name); err == nil {
		return NetworkRecord{}, errdefs.AlreadyExists("network with name %s already exists", o.Name)
	}
	rec := NetworkRecord{ID: newID(), Name: o.Name, Driver: o.Driver, Created: time.Now().UTC(), Internal: o.Internal,
		Options: o.Options, Labels: o.Labels}
	if err := e.addressNetwork(&rec, o.Subnet, o.Gateway); err != nil {
		return NetworkRecord{}, err
	}
	pool, err := ipam.New(rec.Subnet, rec.Gateway)
	if err != nil {
		return NetworkRecord{}, fmt.Errorf("network %s: %w", o.Name, err)
	}
	if err := drv.Setup(ctx, rec.spec()); err != nil {
		return NetworkRecord{}, err
	}
	if err := e.putNetwork(rec); err != nil {
		_ = drv.Teardown(context.WithoutCancel(ctx), rec.spec())
		return NetworkRecord{}, err
	}
	e.net.nets[rec.ID] = &netEntry{rec: rec, pool: pool}
	if err := e.syncFirewall(ctx); err != nil {
		// A network without its rules would not be isolated: it is not
		// made at all.
		delete(e.net.nets, rec.ID)
		if derr := e.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketNetworks).Delete([]byte(rec.ID)) }); derr != nil {
			e.logf("network %s: %v", rec.Name, derr)
		}
		_ = drv.Teardown(context.WithoutCancel(ctx), rec.spec())
		if rerr := e.syncFirewall(ctx); rerr != nil {
			e.logf("networks: %v", rerr)
		}
		return NetworkRecord{}, errdefs.Unavailable("network %s: its firewall rules: %w", o.Name, err)
	}
	e.emitObject("network", "create", rec.ID, "name", rec.Name, "type", rec.Driver)
	return rec, nil
}

// addressNetwork gives rec its subnet and gateway: those asked for, which
// must not overlap another network (nor, for a bridge, a route of the
// host), else a free /24 of the pool. e.net.mu is held.
func (e *Engine) addressNetwork(rec *NetworkRecord, subnet, gateway string) error {
	var taken []netip.Prefix
	for _, n := range e.net.nets {
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
		rec.Subnet, err = ipam.NextSubnet(e.netcfg.AddressPool, 24, taken)
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

// RemoveNetwork removes a network that no container is attached to.
func (e *Engine) RemoveNetwork(ctx context.Context, ref string) error {
	if err := e.networking(); err != nil {
		return err
	}
	e.net.mu.Lock()
	defer e.net.mu.Unlock()
	n, err := e.networkLocked(ref)
	if err != nil {
		return err
	}
	return e.removeNetworkLocked(ctx, n)
}

// removeNetworkLocked removes n. e.net.mu is held.
func (e *Engine) removeNetworkLocked(ctx context.Context, n *netEntry) error {
	if n.rec.Predefined() {
		return errdefs.New(errdefs.ErrPermission, "%s is a pre-defined network and cannot be removed", n.rec.Name)
	}
	if names := e.attachedNames(n.rec); len(names) > 0 {
		return errdefs.Busy("network %s has containers attached: %s (disconnect or remove them first)", n.rec.Name, strings.Join(names, ", "))
	}
	if drv := e.netcfg.Drivers[n.rec.Driver]; drv != nil {
		if err := drv.Teardown(ctx, n.rec.spec()); err != nil {
			return err
		}
	}
	if err := e.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketNetworks).Delete([]byte(n.rec.ID)) }); err != nil {
		return fmt.Errorf("network %s: %w", n.rec.Name, err)
	}
	delete(e.net.nets, n.rec.ID)
	if err := e.syncFirewall(ctx); err != nil {
		// The rules of a bridge that is gone match nothing.
		e.logf("networks: %v", err)
	}
	e.emitObject("network", "destroy", n.rec.ID, "name", n.rec.Name, "type", n.rec.Driver)
	return nil
}

// syncFirewall makes the firewall's rules those of the networks there are.
// e.net.mu is held.
func (e *Engine) syncFirewall(ctx context.Context) error {
	if e.netcfg.Firewall == nil {
		return nil
	}
	specs := make([]netdrv.Network, 0, len(e.net.nets))
	for _, n := range e.sortedNetworks() {
		specs = append(specs, n.rec.spec())
	}
	return e.netcfg.Firewall.Sync(context.WithoutCancel(ctx), specs)
}

// PruneNetworks removes every user-defined network no container is attached
// to and returns their names.
func (e *Engine) PruneNetworks(ctx context.Context) ([]string, error) {
	if err := e.networking(); err != nil {
		return nil, err
	}
	e.net.mu.Lock()
	defer e.net.mu.Unlock()
	var removed []string
	var errs []error
	for _, n := range e.sortedNetworks() {
		if n.rec.Predefined() || len(e.attachedNames(n.rec)) > 0 {
			continue
		}
		if err := e.removeNetworkLocked(ctx, n); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, n.rec.Name)
	}
	return removed, errors.Join(errs...)
}

// Networks returns every network, by name.
func (e *Engine) Networks() []NetworkRecord {
	if e.netcfg == nil {
		return nil
	}
	e.net.mu.RLock()
	defer e.net.mu.RUnlock()
	var out []NetworkRecord
	for _, n := range e.sortedNetworks() {
		out = append(out, n.rec)
	}
	return out
}

// Network finds a network by name, id or unique id prefix.
func (e *Engine) Network(ref string) (NetworkRecord, error) {
	if err := e.networking(); err != nil {
		return NetworkRecord{}, err
	}
	e.net.mu.RLock()
	defer e.net.mu.RUnlock()
	n, err := e.networkLocked(ref)
	if err != nil {
		return NetworkRecord{}, err
	}
	return n.rec, nil
}

// networkLocked finds a network as Network does. e.net.mu is held.
func (e *Engine) networkLocked(ref string) (*netEntry, error) {
	if n, ok := e.net.nets[ref]; ok {
		return n, nil
	}
	for _, n := range e.net.nets {
		if n.rec.Name == ref {
			return n, nil
		}
	}
	var found *netEntry
	if ref != "" && strings.Trim(ref, "0123456789abcdef") == "" {
		for id, n := range e.net.nets {
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

// sortedNetworks returns the networks by name. e.net.mu is held.
func (e *Engine) sortedNetworks() []*netEntry {
	out := make([]*netEntry, 0, len(e.net.nets))
	for _, n := range e.net.nets {
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

// NetworkContainers returns the containers attached to the network ref.
func (e *Engine) NetworkContainers(ref string) ([]Attached, error) {
	rec, err := e.Network(ref)
	if err != nil {
		return nil, err
	}
	var out []Attached
	for _, c := range e.List() {
		r := c.Record()
		if ep, ok := r.Networks[rec.Name]; ok && ep.NetworkID == rec.ID {
			out = append(out, Attached{ID: r.ID, Name: r.Name, Endpoint: *ep, Running: r.State.Status.live()})
		}
	}
	return out, nil
}

// attachedNames names the containers attached to rec.
func (e *Engine) attachedNames(rec NetworkRecord) []string {
	var names []string
	for _, c := range e.List() {
		r := c.Record()
		if ep, ok := r.Networks[rec.Name]; ok && ep.NetworkID == rec.ID {
			names = append(names, firstOf(r.Name, short(r.ID)))
		}
	}
	return names
}

func (e *Engine) driverNames() []string {
	var out []string
	for n := range e.netcfg.Drivers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// networking fails when the daemon was not given networking.
func (e *Engine) networking() error {
	if e.netcfg == nil {
		return errdefs.Unavailable("networking is not configured in this daemon")
	}
	return nil
}

func (e *Engine) putNetwork(rec NetworkRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return e.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketNetworks).Put([]byte(rec.ID), data)
	})
}

// loadNetworks reads the network records, makes the predefined networks
// that are missing, and rebuilds the address pools from the containers'
// records. The default bridge follows the daemon's flags while nothing is
// attached to it.
func (e *Engine) loadNetworks(recs []Record) error {
	e.net.nets = map[string]*netEntry{}
	var stored []NetworkRecord
	err := e.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketNetworks)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var r NetworkRecord
			if err := json.Unmarshal(v, &r); err != nil || r.ID != string(k) {
				e.logf("skipping unreadable network record %q: %v", k, err)
				return nil
			}
			stored = append(stored, r)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("reading network records: %w", err)
	}
	attached := map[string]bool{}
	for _, r := range recs {
		for _, ep := range r.Networks {
			attached[ep.NetworkID] = true
		}
	}
	byName := map[string]NetworkRecord{}
	for _, r := range stored {
		byName[r.Name] = r
	}
	want := map[string]NetworkRecord{
		NetworkBridge: {Name: NetworkBridge, Driver: "bridge", Subnet: e.netcfg.BridgeSubnet.Masked(),
			Gateway: ipam.FirstHost(e.netcfg.BridgeSubnet), Options: map[string]string{netdrv.OptionBridgeName: e.netcfg.BridgeName}},
		NetworkHost: {Name: NetworkHost, Driver: driverHost},
		NetworkNone: {Name: NetworkNone, Driver: driverNull},
	}
	for name, w := range want {
		old, ok := byName[name]
		if ok && (name != NetworkBridge || old.Subnet == w.Subnet && old.Options[netdrv.OptionBridgeName] == e.netcfg.BridgeName) {
			continue
		}
		if ok && attached[old.ID] {
			e.logf("the default bridge network keeps %s on %s: containers are attached to it", old.Subnet, old.Options[netdrv.OptionBridgeName])
			continue
		}
		w.ID, w.Created = newID(), time.Now().UTC()
		if ok {
			w.ID, w.Created = old.ID, old.Created
		}
		if err := e.putNetwork(w); err != nil {
			return err
		}
		byName[name] = w
	}
	for _, r := range byName {
		n := &netEntry{rec: r}
		if r.Subnet.IsValid() {
			if n.pool, err = ipam.New(r.Subnet, r.Gateway); err != nil {
				e.logf("network %s: %v", r.Name, err)
				continue
			}
		}
		e.net.nets[r.ID] = n
	}
	for _, r := range recs {
		for name, ep := range r.Networks {
			n := e.net.nets[ep.NetworkID]
			if n == nil || n.pool == nil {
				e.logf("container %s: attached to network %s, which is gone", short(r.ID), name)
				continue
			}
			if err := n.pool.Claim(ep.addr(), r.ID); err != nil {
				e.logf("container %s: network %s: %v", short(r.ID), name, err)
			}
		}
	}
	return nil
}
