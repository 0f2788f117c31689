package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/docker/go-connections/nat"
	"github.com/docker/go-connections/proxy"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/netdrv"
	"github.com/enginefs/enginefs/netdrv/dns"
)

// sandbox is the network side of a running container: its namespace (none
// for host and none modes, which the runtime handles), the embedded DNS
// listening in it and the proxies of its published ports.
type sandbox struct {
	mode    string
	ns      netdrv.Namespace
	dns     bool
	proxies []proxy.Proxy
}

// sandboxes are the live sandboxes, by container id.
type sandboxes struct {
	mu sync.Mutex
	m  map[string]*sandbox
}

func (s *sandboxes) get(id string) *sandbox {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[id]
}

func (s *sandboxes) set(id string, sb *sandbox) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sb == nil {
		delete(s.m, id)
	} else {
		s.m[id] = sb
	}
}

func (s *sandboxes) take(id string) *sandbox {
	s.mu.Lock()
	defer s.mu.Unlock()
	sb := s.m[id]
	delete(s.m, id)
	return sb
}

// nsPath is where the namespace of the container id lives.
func (e *Engine) nsPath(id string) string { return filepath.Join(e.netcfg.NamespaceDir, id) }

// etcNet is what the container's /etc files say of its network.
type etcNet struct {
	host  bool         // the host's namespace: the host's files
	addrs []netip.Addr // the container's own addresses, for /etc/hosts
	dns   bool         // resolv.conf points at the embedded DNS
}

// orderedEndpoints returns the record's endpoints, the first network's
// first (it carries the default route), then by name.
func (e *Engine) orderedEndpoints(rec Record) []string {
	mode := e.networkMode(&rec.Config)
	names := make([]string, 0, len(rec.Networks))
	for name := range rec.Networks {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool {
		pi, pj := names[i] == mode || rec.Networks[names[i]].NetworkID == mode, names[j] == mode || rec.Networks[names[j]].NetworkID == mode
		if pi != pj {
			return pi
		}
		return names[i] < names[j]
	})
	return names
}

// netUp gives a starting container its network: a namespace with an
// interface per endpoint and the embedded DNS on user-defined networks.
func (e *Engine) netUp(ctx context.Context, rec Record) (*sandbox, etcNet, error) {
	mode := e.networkMode(&rec.Config)
	sb := &sandbox{mode: mode}
	switch mode {
	case NetworkHost:
		return sb, etcNet{host: true}, nil
	case NetworkNone:
		return sb, etcNet{}, nil
	}
	if err := e.networking(); err != nil {
		return nil, etcNet{}, err
	}
	path := e.nsPath(rec.ID)
	if _, err := os.Lstat(path); err == nil {
		// Left by a run the daemon could not end (a crash): start over.
		e.netDown(ctx, rec, &sandbox{mode: mode, ns: netdrv.Namespace(path)})
	}
	ns, err := netdrv.CreateNamespace(path)
	if err != nil {
		return nil, etcNet{}, err
	}
	sb.ns = ns
	var en etcNet
	ok := false
	defer func() {
		if !ok {
			e.netDown(context.WithoutCancel(ctx), rec, sb)
		}
	}()
	e.net.mu.RLock()
	defer e.net.mu.RUnlock()
	for i, name := range e.orderedEndpoints(rec) {
		ep := rec.Networks[name]
		n := e.net.nets[ep.NetworkID]
		if n == nil {
			return nil, etcNet{}, errdefs.NotFound("network %s of container %s is gone", name, short(rec.ID))
		}
		if err := e.join(ctx, rec.ID, n, ep, fmt.Sprintf("eth%d", i), i == 0, ns); err != nil {
			return nil, etcNet{}, err
		}
		en.addrs = append(en.addrs, ep.addr())
		en.dns = en.dns || n.rec.userDefined()
	}
	if en.dns {
		if err := e.net.dns.Listen(rec.ID, ns); err != nil {
			return nil, etcNet{}, err
		}
		sb.dns = true
	}
	ok = true
	return sb, en, nil
}

// join sets the network up (idempotent) and joins the endpoint.
func (e *Engine) join(ctx context.Context, id string, n *netEntry, ep *Endpoint, ifname string, route bool, ns netdrv.Namespace) error {
	drv := e.netcfg.Drivers[n.rec.Driver]
	if drv == nil {
		return errdefs.NotFound("network %s: no driver %q", n.rec.Name, n.rec.Driver)
	}
	if err := drv.Setup(ctx, n.rec.spec()); err != nil {
		return err
	}
	return drv.Join(ctx, n.rec.spec(), driverEndpoint(id, ifname, route, ep), ns)
}

func driverEndpoint(id, ifname string, route bool, ep *Endpoint) netdrv.Endpoint {
	return netdrv.Endpoint{ContainerID: id, IfName: ifname, Address: netip.PrefixFrom(ep.addr(), ep.IPPrefixLen),
		MAC: netdrv.MACFor(ep.addr()), DefaultRoute: route}
}

// netDown ends the network side of a run: proxies, DNS and the namespace.
// The endpoints go with the namespace: once its file is unmounted and its
// last socket closed the kernel destroys it, with the interfaces in it and
// their veth peers, in the background; deleting a veth pair here would
// cost a start-stop cycle some 20 ms of waiting for the kernel. (A start
// that comes before the kernel is done finds the old host end and replaces
// it.) It reports what fails and goes on.
func (e *Engine) netDown(ctx context.Context, rec Record, sb *sandbox) {
	if sb == nil {
		return
	}
	for _, p := range sb.proxies {
		p.Close()
	}
	if sb.dns {
		e.net.dns.Stop(rec.ID)
	}
	if sb.ns == "" || e.netcfg == nil {
		return
	}
	if err := netdrv.DeleteNamespace(sb.ns.Path()); err != nil {
		e.logf("container %s: %v", short(rec.ID), err)
	}
}

// hotplug joins a running container to one more network (network connect).
// The caller holds the networks for reading and the container's lock.
func (e *Engine) hotplug(ctx context.Context, rec Record, n *netEntry, ep *Endpoint) error {
	sb := e.sandboxes.get(rec.ID)
	if sb == nil || sb.ns == "" {
		return errdefs.Busy("container %s has no network namespace to join", short(rec.ID))
	}
	ifname, err := netdrv.FreeIfName(sb.ns)
	if err != nil {
		return err
	}
	if err := e.join(ctx, rec.ID, n, ep, ifname, false, sb.ns); err != nil {
		return err
	}
	if n.rec.userDefined() && !sb.dns {
		if err := e.net.dns.Listen(rec.ID, sb.ns); err != nil {
			e.logf("container %s: %v", short(rec.ID), err)
		} else {
			sb.dns = true
			// As docker does, a container that joins its first
			// user-defined network asks the embedded DNS from now on
			// (the file is bind-mounted: rewritten in place).
			if err := os.WriteFile(filepath.Join(e.containerDir(rec.ID), "resolv.conf"), embeddedResolvConf(), 0o644); err != nil {
				e.logf("container %s: %v", short(rec.ID), err)
			}
		}
	}
	return nil
}

// unplug removes a running container's interface on n (network
// disconnect), found in its namespace by its MAC address.
func (e *Engine) unplug(ctx context.Context, rec Record, n *netEntry, ep *Endpoint) error {
	sb := e.sandboxes.get(rec.ID)
	if sb == nil || sb.ns == "" {
		return nil
	}
	dep := driverEndpoint(rec.ID, "", false, ep)
	ifname, err := netdrv.IfNameByMAC(sb.ns, dep.MAC)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil // gone already
	}
	if err != nil {
		return fmt.Errorf("container %s: network %s: %w", short(rec.ID), n.rec.Name, err)
	}
	dep.IfName = ifname
	return e.netcfg.Drivers[n.rec.Driver].Leave(ctx, n.rec.spec(), dep, sb.ns)
}

// withSandbox puts the sandbox's namespace in the spec: the namespace file
// to join, or none at all for the host's.
func withSandbox(s *specs.Spec, sb *sandbox) {
	if sb == nil || sb.mode == NetworkNone {
		return
	}
	var out []specs.LinuxNamespace
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			if sb.mode == NetworkHost {
				continue
			}
			ns.Path = sb.ns.Path()
		}
		out = append(out, ns)
	}
	s.Linux.Namespaces = out
}

// restoreNetwork takes back the network side of the running containers
// after a daemon restart (live restore): their namespaces are still there,
// the DNS and the port proxies, which lived in the old daemon, are started
// again. Namespaces of containers that no longer run are removed.
func (e *Engine) restoreNetwork(ctx context.Context) {
	if e.netcfg == nil {
		return
	}
	e.net.mu.RLock()
	if err := e.syncFirewall(ctx); err != nil {
		e.logf("networks: %v (the bridge networks are not isolated)", err)
	}
	e.net.mu.RUnlock()
	running := map[string]bool{}
	for _, c := range e.List() {
		rec := c.Record()
		if !rec.State.Status.live() {
			continue
		}
		running[rec.ID] = true
		mode := e.networkMode(&rec.Config)
		sb := &sandbox{mode: mode}
		if mode != NetworkHost && mode != NetworkNone {
			path := e.nsPath(rec.ID)
			if !netdrv.IsNamespace(path) {
				e.logf("container %s: its network namespace %s is gone", short(rec.ID), path)
				continue
			}
			sb.ns = netdrv.Namespace(path)
			e.net.mu.RLock()
			for _, ep := range rec.Networks {
				if n := e.net.nets[ep.NetworkID]; n != nil {
					sb.dns = sb.dns || n.rec.userDefined()
					if drv := e.netcfg.Drivers[n.rec.Driver]; drv != nil {
						if err := drv.Setup(ctx, n.rec.spec()); err != nil {
							e.logf("network %s: %v", n.rec.Name, err)
						}
					}
				}
			}
			e.net.mu.RUnlock()
			if sb.dns {
				if err := e.net.dns.Listen(rec.ID, sb.ns); err != nil {
					e.logf("container %s: %v", short(rec.ID), err)
					sb.dns = false
				}
			}
			// Binding by binding, so that a host port another
			// process took meanwhile costs that port only. The
			// record's ports stay as they are.
			for p, bs := range rec.Ports {
				for _, b := range bs {
					px, err := e.proxy(rec, nat.PortMap{p: {b}})
					if err != nil {
						e.logf("container %s: published port: %v", short(rec.ID), err)
					}
					sb.proxies = append(sb.proxies, px...)
				}
			}
		}
		e.sandboxes.set(rec.ID, sb)
	}
	ents, _ := os.ReadDir(e.netcfg.NamespaceDir)
	for _, ent := range ents {
		if running[ent.Name()] {
			continue
		}
		rec := Record{ID: ent.Name()}
		if c, err := e.Get(ent.Name()); err == nil {
			rec = c.Record()
		}
		e.netDown(ctx, rec, &sandbox{ns: netdrv.Namespace(filepath.Join(e.netcfg.NamespaceDir, ent.Name()))})
	}
}

// closeNetwork stops the DNS and the proxies (they live in the daemon; the
// next one starts them again) and removes the bridges no running container
// uses and their firewall rules, so that a host where no container runs
// keeps nothing.
func (e *Engine) closeNetwork(ctx context.Context) {
	if e.netcfg == nil {
		return
	}
	e.net.dns.Close()
	e.sandboxes.mu.Lock()
	used := map[string]bool{}
	for id, sb := range e.sandboxes.m {
		for _, p := range sb.proxies {
			p.Close()
		}
		if c, err := e.Get(id); err == nil {
			for _, ep := range c.Record().Networks {
				used[ep.NetworkID] = true
			}
		}
	}
	e.sandboxes.mu.Unlock()
	e.net.mu.RLock()
	defer e.net.mu.RUnlock()
	var inUse []netdrv.Network
	for id, n := range e.net.nets {
		if used[id] {
			inUse = append(inUse, n.rec.spec())
		}
		if used[id] || e.netcfg.Drivers[n.rec.Driver] == nil {
			continue
		}
		if err := e.netcfg.Drivers[n.rec.Driver].Teardown(ctx, n.rec.spec()); err != nil {
			e.logf("network %s: %v", n.rec.Name, err)
		}
	}
	// The rules go as the bridges do: those of the networks in use stay
	// for their containers, and with none the table goes.
	if fw := e.netcfg.Firewall; fw != nil {
		// One transaction either way: no moment without rules.
		var err error
		if len(inUse) > 0 {
			err = fw.Sync(ctx, inUse)
		} else {
			err = fw.Remove(ctx)
		}
		if err != nil {
			e.logf("networks: %v", err)
		}
	}
}

// resolver answers the embedded DNS from the containers' records.
type resolver struct{ e *Engine }

var _ dns.Resolver = resolver{}

// peers calls fn for each running container sharing a user-defined network
// with the container id, with its endpoint on that network.
func (r resolver) peers(id string, fn func(rec Record, ep *Endpoint)) {
	c, err := r.e.Get(id)
	if err != nil {
		return
	}
	mine := map[string]bool{}
	r.e.net.mu.RLock()
	for _, ep := range c.Record().Networks {
		if n := r.e.net.nets[ep.NetworkID]; n != nil && n.rec.userDefined() {
			mine[ep.NetworkID] = true
		}
	}
	r.e.net.mu.RUnlock()
	for _, other := range r.e.List() {
		rec := other.Record()
		if !rec.State.Status.live() {
			continue
		}
		for _, ep := range rec.Networks {
			if mine[ep.NetworkID] {
				fn(rec, ep)
			}
		}
	}
}

// Lookup implements dns.Resolver.
func (r resolver) Lookup(id, name string) ([]netip.Addr, bool) {
	var out []netip.Addr
	r.peers(id, func(rec Record, ep *Endpoint) {
		for _, n := range ep.DNSNames(rec.Name, rec.ID) {
			if strings.EqualFold(n, name) && !slices.Contains(out, ep.addr()) {
				out = append(out, ep.addr())
			}
		}
	})
	return out, len(out) > 0
}

// Reverse implements dns.Resolver.
func (r resolver) Reverse(id string, addr netip.Addr) (string, bool) {
	name := ""
	r.peers(id, func(rec Record, ep *Endpoint) {
		if ep.addr() == addr && name == "" {
			name = firstOf(rec.Name, short(rec.ID))
		}
	})
	return name, name != ""
}

// Forward implements dns.Resolver: a container's questions go out when
// one of its networks is not internal.
func (r resolver) Forward(id string) bool {
	c, err := r.e.Get(id)
	if err != nil {
		return false
	}
	r.e.net.mu.RLock()
	defer r.e.net.mu.RUnlock()
	for _, ep := range c.Record().Networks {
		if n := r.e.net.nets[ep.NetworkID]; n != nil && !n.rec.Internal {
			return true
		}
	}
	return false
}

// HostResolvers returns the nameservers of the host's resolv.conf, which
// the embedded DNS forwards to by default.
func HostResolvers() []string {
	data, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "nameserver" {
			if ip := net.ParseIP(f[1]); ip != nil {
				out = append(out, f[1])
			}
		}
	}
	return out
}

// NetworkMode returns the network mode a container has (its NetworkMode,
// else the daemon's default).
func (e *Engine) NetworkMode(rec Record) string { return e.networkMode(&rec.Config) }

// SandboxKey returns the namespace file of a running container on a
// network, else "" (docker's NetworkSettings.SandboxKey).
func (e *Engine) SandboxKey(rec Record) string {
	if sb := e.sandboxes.get(rec.ID); sb != nil {
		return sb.ns.Path()
	}
	return ""
}
