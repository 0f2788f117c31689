package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/network"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/netdrv"
)

// Endpoint is a container's attachment to a network, kept in its record
// from create (or connect) to removal (or disconnect): its address is the
// container's for as long. Field names are docker's EndpointSettings.
type Endpoint struct {
	NetworkID   string     `json:"NetworkID"`
	EndpointID  string     `json:"EndpointID"`
	IPAddress   netip.Addr `json:"IPAddress"`
	IPPrefixLen int        `json:"IPPrefixLen"`
	Gateway     netip.Addr `json:"Gateway,omitzero"`
	MacAddress  string     `json:"MacAddress"`
	Aliases     []string   `json:"Aliases,omitempty"`
	// StaticIP says the address was asked for (--ip), not handed out.
	StaticIP bool `json:"StaticIP,omitempty"`
}

func (ep *Endpoint) addr() netip.Addr { return ep.IPAddress }

// DNSNames are the names the embedded DNS answers with ep's address: the
// container's name, its aliases and its short id (docker's DNSNames).
func (ep *Endpoint) DNSNames(name, id string) []string {
	out := []string{}
	if name != "" {
		out = append(out, name)
	}
	out = append(out, ep.Aliases...)
	return append(out, short(id))
}

// networkMode returns the container's first network: its NetworkMode, else
// the daemon's default.
func (e *Engine) networkMode(cfg *Config) string {
	if cfg.NetworkMode != "" && cfg.NetworkMode != "default" {
		return cfg.NetworkMode
	}
	if e.netcfg == nil {
		return NetworkNone
	}
	return firstOf(e.netcfg.DefaultNetwork, NetworkBridge)
}

// lockNetworks holds the networks for reading while an attachment is made
// and persisted, so no network goes away meanwhile.
func (e *Engine) lockNetworks() func() {
	if e.netcfg == nil {
		return func() {}
	}
	e.net.mu.RLock()
	return e.net.mu.RUnlock
}

// attach resolves the networks of cfg for the container id and gives it an
// address on each; prev are the endpoints the container has (a config
// rewrite), whose addresses it keeps where cfg asks for no other. It
// returns the endpoints to persist with the record and a function that
// gives back the addresses it took, and only those, if that write fails.
// The caller holds lockNetworks.
func (e *Engine) attach(id string, cfg *Config, prev map[string]*Endpoint) (map[string]*Endpoint, func(), error) {
	mode := e.networkMode(cfg)
	release := func() {}
	switch {
	case mode == NetworkNone || mode == NetworkHost:
		if len(cfg.EndpointsConfig) > 0 {
			for name := range cfg.EndpointsConfig {
				if name != mode {
					return nil, release, errdefs.Invalid("container cannot join network %s: its network mode is %s", name, mode)
				}
			}
		}
		// Ports published on the host network are discarded (the
		// container's ports are the host's), as dockerd does; see bindings.
		if mode == NetworkNone && (len(cfg.PortBindings) > 0 || cfg.PublishAllPorts) {
			return nil, release, errdefs.Invalid("conflicting options: port publishing and the none network mode")
		}
		return nil, release, nil
	case strings.HasPrefix(mode, "container:"):
		return nil, release, errdefs.Invalid("network mode %q: sharing another container's network is not supported", mode)
	}
	if err := e.networking(); err != nil {
		return nil, release, err
	}
	refs := []string{mode}
	for ref := range cfg.EndpointsConfig {
		if ref != mode {
			refs = append(refs, ref)
		}
	}
	sort.Strings(refs[1:])
	eps := map[string]*Endpoint{}
	var held []func()
	release = func() {
		for _, r := range held {
			r()
		}
	}
	for _, ref := range refs {
		n, err := e.networkLocked(ref)
		if err != nil {
			release()
			return nil, func() {}, err
		}
		if _, dup := eps[n.rec.Name]; dup {
			continue // named by name and by id
		}
		es := cfg.EndpointsConfig[ref]
		if es == nil {
			es = cfg.EndpointsConfig[n.rec.Name]
		}
		var old *Endpoint
		if p := prev[n.rec.Name]; p != nil && p.NetworkID == n.rec.ID {
			old = p
		}
		ep, rel, err := e.newEndpoint(n, id, es, old)
		if err != nil {
			release()
			return nil, func() {}, fmt.Errorf("network %s: %w", n.rec.Name, err)
		}
		held = append(held, rel)
		eps[n.rec.Name] = ep
	}
	return eps, release, nil
}

// newEndpoint gives the container id an address on n: the one es asks for,
// else the one of prev (its endpoint on n so far, or nil), else the next
// free one. The function it returns gives the address back unless the
// container held it already.
func (e *Engine) newEndpoint(n *netEntry, id string, es *network.EndpointSettings, prev *Endpoint) (*Endpoint, func(), error) {
	if n.pool == nil {
		return nil, nil, errdefs.Invalid("containers cannot be connected to the %s network", n.rec.Name)
	}
	ep := &Endpoint{NetworkID: n.rec.ID, IPPrefixLen: n.rec.Subnet.Bits(), EndpointID: endpointID(id, n.rec.ID)}
	if !n.rec.Internal {
		ep.Gateway = n.rec.Gateway
	}
	var want string
	if es != nil {
		ep.Aliases = slices.Clone(es.Aliases)
		if es.IPAMConfig != nil {
			want = es.IPAMConfig.IPv4Address
		}
		if es.IPAddress != "" && want == "" {
			want = es.IPAddress
		}
	}
	if !n.rec.userDefined() && (len(ep.Aliases) > 0 || want != "") {
		return nil, nil, errdefs.Invalid("network-scoped aliases and user-chosen addresses are supported only on user-defined networks, not on %s", n.rec.Name)
	}
	for _, a := range ep.Aliases {
		if !validName.MatchString(a) {
			return nil, nil, errdefs.Invalid("invalid alias %q", a)
		}
	}
	switch {
	case want != "":
		a, err := netip.ParseAddr(want)
		if err != nil {
			return nil, nil, errdefs.Invalid("invalid IPv4 address %q", want)
		}
		ep.IPAddress, ep.StaticIP = a, true
	case prev != nil && prev.IPAddress.IsValid():
		ep.IPAddress = prev.IPAddress
	}
	held := ep.IPAddress.IsValid() && n.pool.Holder(ep.IPAddress) == id
	switch {
	case held:
	case ep.IPAddress.IsValid():
		if err := n.pool.Claim(ep.IPAddress, id); err != nil {
			return nil, nil, err
		}
	default:
		a, err := n.pool.Allocate(id)
		if err != nil {
			return nil, nil, err
		}
		ep.IPAddress = a
	}
	ep.MacAddress = netdrv.MACFor(ep.IPAddress).String()
	if held {
		return ep, func() {}, nil
	}
	pool, addr := n.pool, ep.IPAddress
	return ep, func() { pool.Release(addr, id) }, nil
}

// endpointID is docker's EndpointID: stable for a container on a network.
func endpointID(containerID, networkID string) string {
	sum := sha256.Sum256([]byte("endpoint/" + containerID + "/" + networkID))
	return hex.EncodeToString(sum[:])
}

// detach gives back the addresses of eps, held by the container id.
func (e *Engine) detach(id string, eps map[string]*Endpoint) {
	if e.netcfg == nil {
		return
	}
	e.net.mu.RLock()
	defer e.net.mu.RUnlock()
	for _, ep := range eps {
		if n := e.net.nets[ep.NetworkID]; n != nil && n.pool != nil {
			n.pool.Release(ep.addr(), id)
		}
	}
}

// detachReplaced gives back the addresses of old that the endpoints new,
// which replace them, do not hold again. The networks are held for reading.
func (e *Engine) detachReplaced(id string, old, new map[string]*Endpoint) {
	for name, ep := range old {
		if nep, ok := new[name]; ok && nep.NetworkID == ep.NetworkID && nep.addr() == ep.addr() {
			continue
		}
		if n := e.net.nets[ep.NetworkID]; n != nil && n.pool != nil {
			n.pool.Release(ep.addr(), id)
		}
	}
}

// attachTarget finds the container and the network of a connect or a
// disconnect, with the networks locked; unlock releases them.
func (e *Engine) attachTarget(netRef, ref string) (*Container, *netEntry, func(), error) {
	if err := e.networking(); err != nil {
		return nil, nil, nil, err
	}
	c, err := e.Get(ref)
	if err != nil {
		return nil, nil, nil, err
	}
	unlock := e.lockNetworks()
	n, err := e.networkLocked(netRef)
	if err != nil {
		unlock()
		return nil, nil, nil, err
	}
	return c, n, unlock, nil
}

// EndpointOptions are what network connect takes.
type EndpointOptions struct {
	IPv4Address string
	Aliases     []string
}

// Connect attaches a container to a network; a running container gets its
// interface at once.
func (e *Engine) Connect(ctx context.Context, netRef, ref string, o EndpointOptions) error {
	c, n, unlock, err := e.attachTarget(netRef, ref)
	if err != nil {
		return err
	}
	defer unlock()
	es := &network.EndpointSettings{Aliases: o.Aliases}
	if o.IPv4Address != "" {
		es.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: o.IPv4Address}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.gate(); err != nil {
		return err
	}
	rec := c.rec
	switch mode := e.networkMode(&rec.Config); {
	case rec.State.Status == StatusNew:
		return errdefs.Busy("container %s is not created yet", c.id)
	case c.starting:
		return errdefs.Busy("container %s is being started", c.id)
	case mode == NetworkHost || mode == NetworkNone:
		return errdefs.Invalid("container %s has network mode %s and cannot join other networks", short(c.id), mode)
	}
	if _, ok := rec.Networks[n.rec.Name]; ok {
		return errdefs.AlreadyExists("container %s is already attached to network %s", short(c.id), n.rec.Name)
	}
	ep, release, err := e.newEndpoint(n, c.id, es, nil)
	if err != nil {
		return fmt.Errorf("network %s: %w", n.rec.Name, err)
	}
	rec.Networks = cloneEndpoints(rec.Networks)
	rec.Networks[n.rec.Name] = ep
	if rec.State.Status.live() {
		if err := e.hotplug(ctx, rec, n, ep); err != nil {
			release()
			return err
		}
	}
	if err := e.put(rec); err != nil {
		release()
		return err
	}
	c.rec = rec
	e.emitObject("network", "connect", n.rec.ID, "container", c.id, "name", n.rec.Name, "type", n.rec.Driver)
	return nil
}

// Disconnect detaches a container from a network, removing its interface
// if it runs; its address is free again.
func (e *Engine) Disconnect(ctx context.Context, netRef, ref string) error {
	c, n, unlock, err := e.attachTarget(netRef, ref)
	if err != nil {
		return err
	}
	defer unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.gate(); err != nil {
		return err
	}
	if c.starting {
		return errdefs.Busy("container %s is being started", c.id)
	}
	rec := c.rec
	ep, ok := rec.Networks[n.rec.Name]
	if !ok || ep.NetworkID != n.rec.ID {
		return errdefs.NotFound("container %s is not connected to network %s", short(c.id), n.rec.Name)
	}
	if rec.State.Status.live() {
		if err := e.unplug(ctx, rec, n, ep); err != nil {
			return err
		}
	}
	rec.Networks = cloneEndpoints(rec.Networks)
	delete(rec.Networks, n.rec.Name)
	if err := e.put(rec); err != nil {
		return err
	}
	c.rec = rec
	n.pool.Release(ep.addr(), c.id)
	e.emitObject("network", "disconnect", n.rec.ID, "container", c.id, "name", n.rec.Name, "type", n.rec.Driver)
	return nil
}

func cloneEndpoints(m map[string]*Endpoint) map[string]*Endpoint {
	out := make(map[string]*Endpoint, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}
