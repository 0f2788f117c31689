package network

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"

	networktypes "github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/internal/ids"
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
	return append(out, ids.Short(id))
}

// Settings are what a container's config says of its networking, under
// docker's names (engine.Networking).
type Settings struct {
	// NetworkMode is the network the container joins first: "bridge",
	// "host", "none" or a network's name or id; "" (or "default") is
	// the daemon's default network.
	NetworkMode string
	// EndpointsConfig are, by network, the aliases and the address
	// (IPAMConfig.IPv4Address) the container asks for; networks named
	// here besides NetworkMode are joined too.
	EndpointsConfig map[string]*networktypes.EndpointSettings
	// ExposedPorts add to the image's; PortBindings are the ports to
	// publish (-p); PublishAllPorts publishes every exposed port (-P).
	ExposedPorts    nat.PortSet
	PortBindings    nat.PortMap
	PublishAllPorts bool
	// ExtraHosts are HOST:IP lines for /etc/hosts (docker's --add-host;
	// IP host-gateway is the default bridge's gateway). DNS, DNSSearch
	// and DNSOptions replace the host's in resolv.conf (--dns,
	// --dns-search, --dns-option); on a user-defined network DNS is the
	// embedded DNS's upstreams for the container.
	ExtraHosts                 []string
	DNS, DNSSearch, DNSOptions []string
	// MacAddress is the MAC of the interface on the first network
	// (--mac-address); "" is MACFor the address.
	MacAddress string
	// Links are docker's legacy links, NAME[:ALIAS] (--link), on the
	// default bridge only: an /etc/hosts line and environment variables
	// of the linked container, resolved at each start.
	Links []string
}

// Container is what the networks see of a container: a copy of what its
// record says, made under its lock.
type Container struct {
	ID   string
	Name string
	// Hostname and Env are its configured hostname and environment,
	// which a container linking to it sees (Settings.Links).
	Hostname string
	Env      []string
	// Dir is the container's directory, where its hosts and resolv.conf
	// files are written.
	Dir string
	Settings
	// Endpoints are its attachments, by network name. The map is the
	// record's: it is read, never changed.
	Endpoints map[string]*Endpoint
	// Ports are the ports its current run published.
	Ports nat.PortMap
	// Spawn, when set, starts a process in a new user namespace (the
	// container's, --userns-remap) and new namespaces of flags, and ends
	// it with done: the network namespace is made by it, owned by that
	// user namespace, which the container then joins too (Sandbox.Apply).
	Spawn func(flags uintptr) (pid int, done func(), err error)
	// Created is false for an id reserved and not configured yet; Live
	// is true while it has a process (running or paused).
	Created, Live bool
}

// Containers is what the manager asks of the engine's containers; the
// engine hands it to Open. Its methods take the engine's and a container's
// locks: the manager calls them holding no lock but its mu.
type Containers interface {
	// List returns every container.
	List() []Container
	// Get finds a container by id, name or unique id prefix; no such
	// container is an errdefs.ErrNotFound error.
	Get(ref string) (Container, error)
	// Update changes the endpoints of the container id under its lock:
	// fn is given the container as it is and returns its new endpoints,
	// which Update saves in its record before it returns. A container
	// that is gone, being removed or being started is an error, and fn
	// is not called. fn must take no lock but the manager's leaves.
	Update(id string, fn func(Container) (map[string]*Endpoint, error)) error
}

// Mode returns the network mode of a container whose config says
// networkMode: it, else the daemon's default network.
func (m *Manager) Mode(networkMode string) string {
	if networkMode != "" && networkMode != "default" {
		return networkMode
	}
	if m.cfg == nil {
		return None
	}
	return cmp.Or(m.cfg.DefaultNetwork, Bridge)
}

// Attachment is the endpoints of a container being made (Attach), from
// their making until they are saved in its record (Commit) or given up
// (Abort). While it lasts the networks are held: none is removed.
type Attachment struct {
	m       *Manager
	id      string
	eps     map[string]*Endpoint
	release func() // gives back the addresses taken
	unlock  func() // lets the networks go
}

// Attach gives the container c, which is being made, an address on each
// network its Settings name; c.Endpoints are the endpoints it has (a config
// rewrite), whose addresses it keeps where its settings ask for no other.
// It refuses ports to publish that no network of c can serve (imagePorts
// are those its image exposes). The networks are held for reading until
// the attachment ends with Commit or Abort, one of which must be called;
// the caller may take the containers' locks meanwhile, and must not call
// the manager.
func (m *Manager) Attach(c Container, imagePorts map[string]struct{}) (*Attachment, error) {
	unlock := m.rlock()
	eps, release, err := m.attach(c)
	if err == nil {
		err = m.checkPublish(c.Settings, imagePorts, eps)
	}
	if err == nil {
		err = checkLinks(c, m.Mode(c.NetworkMode))
	}
	if err != nil {
		release()
		unlock()
		return nil, err
	}
	return &Attachment{m: m, id: c.ID, eps: eps, release: release, unlock: unlock}, nil
}

// Endpoints returns the endpoints to save in the container's record.
func (a *Attachment) Endpoints() map[string]*Endpoint { return a.eps }

// Commit ends an attachment whose endpoints are saved; the addresses of
// replaced, the endpoints they replace, that they do not hold again are
// given back.
func (a *Attachment) Commit(replaced map[string]*Endpoint) {
	for name, ep := range replaced {
		if nep, ok := a.eps[name]; ok && nep.NetworkID == ep.NetworkID && nep.addr() == ep.addr() {
			continue
		}
		if n := a.m.nets[ep.NetworkID]; n != nil && n.pool != nil {
			n.pool.Release(ep.addr(), a.id)
		}
	}
	a.unlock()
}

// Abort ends an attachment whose endpoints were not saved: the addresses
// it took, and only those, are given back.
func (a *Attachment) Abort() {
	a.release()
	a.unlock()
}

// rlock holds the networks for reading, when there are networks.
func (m *Manager) rlock() func() {
	if m.cfg == nil {
		return func() {}
	}
	m.mu.RLock()
	return m.mu.RUnlock
}

// attach resolves the networks of c for it and gives it an address on
// each. It returns the endpoints and a function that gives back the
// addresses it took, and only those. m.mu is held for reading.
func (m *Manager) attach(c Container) (map[string]*Endpoint, func(), error) {
	mode := m.Mode(c.NetworkMode)
	release := func() {}
	switch {
	case mode == None || mode == Host:
		if len(c.EndpointsConfig) > 0 {
			for name := range c.EndpointsConfig {
				if name != mode {
					return nil, release, errdefs.Invalid("container cannot join network %s: its network mode is %s", name, mode)
				}
			}
		}
		// Ports published on the host network are discarded (the
		// container's ports are the host's), as dockerd does; see bindings.
		if mode == None && (len(c.PortBindings) > 0 || c.PublishAllPorts) {
			return nil, release, errdefs.Invalid("conflicting options: port publishing and the none network mode")
		}
		return nil, release, nil
	case strings.HasPrefix(mode, "container:"):
		return nil, release, errdefs.Invalid("network mode %q: sharing another container's network is not supported", mode)
	}
	if err := m.networking(); err != nil {
		return nil, release, err
	}
	refs := []string{mode}
	for ref := range c.EndpointsConfig {
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
		n, err := m.lookup(ref)
		if err != nil {
			release()
			return nil, func() {}, err
		}
		if _, dup := eps[n.rec.Name]; dup {
			continue // named by name and by id
		}
		es := c.EndpointsConfig[ref]
		if es == nil {
			es = c.EndpointsConfig[n.rec.Name]
		}
		if ref == mode && c.MacAddress != "" {
			var withMAC networktypes.EndpointSettings
			if es != nil {
				withMAC = *es
			}
			withMAC.MacAddress = c.MacAddress
			es = &withMAC
		}
		var old *Endpoint
		if p := c.Endpoints[n.rec.Name]; p != nil && p.NetworkID == n.rec.ID {
			old = p
		}
		ep, rel, err := newEndpoint(n, c.ID, es, old)
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
func newEndpoint(n *entry, id string, es *networktypes.EndpointSettings, prev *Endpoint) (*Endpoint, func(), error) {
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
		if !validAlias.MatchString(a) {
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
	if es != nil && es.MacAddress != "" {
		hw, err := parseMAC(es.MacAddress)
		if err != nil {
			if !held {
				n.pool.Release(ep.IPAddress, id)
			}
			return nil, nil, err
		}
		ep.MacAddress = hw.String()
	}
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

// Detach gives back the addresses of eps, the endpoints of the container
// id, which is removed.
func (m *Manager) Detach(id string, eps map[string]*Endpoint) {
	if m.cfg == nil {
		return
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, ep := range eps {
		if n := m.nets[ep.NetworkID]; n != nil && n.pool != nil {
			n.pool.Release(ep.addr(), id)
		}
	}
}

// parseMAC reads a --mac-address: 6 bytes, unicast, as dockerd accepts.
func parseMAC(s string) (net.HardwareAddr, error) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return nil, errdefs.Invalid("invalid MAC address: %s", s)
	}
	if hw[0]&1 != 0 {
		return nil, errdefs.Invalid("invalid MAC address: %s: a multicast address", s)
	}
	return hw, nil
}

// mac is the endpoint's MAC: the one chosen, else MACFor its address.
func (ep *Endpoint) mac() net.HardwareAddr {
	if hw, err := net.ParseMAC(ep.MacAddress); err == nil && len(hw) == 6 {
		return hw
	}
	return netdrv.MACFor(ep.addr())
}
