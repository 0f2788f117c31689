package network

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/docker/go-connections/nat"
	"github.com/docker/go-connections/proxy"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/internal/ids"
	"github.com/enginefs/enginefs/netdrv"
)

// Sandbox is the network side of a running container: its namespace (none
// for host and none modes, which the runtime handles), the embedded DNS
// listening in it and the proxies of its published ports. Up makes it for
// a starting container, which gives it to the manager with Keep once it
// runs, or ends it with Close if the start fails; Down ends a kept one.
// The methods of a sandbox not kept yet are called by one goroutine.
type Sandbox struct {
	m       *Manager
	c       Container // the container as it was when it started
	mode    string
	ns      netdrv.Namespace
	userns  string // the container's user namespace file, when it made the network namespace
	dns     bool
	addrs   []netip.Addr // the container's addresses, for its /etc/hosts
	proxies []proxy.Proxy
	links   []link // its legacy links, resolved as it started
}

// sandboxes are the kept sandboxes, by container id.
type sandboxes struct {
	mu sync.Mutex
	m  map[string]*Sandbox
}

func (s *sandboxes) get(id string) *Sandbox {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[id]
}

func (s *sandboxes) set(id string, sb *Sandbox) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sb == nil {
		delete(s.m, id)
	} else {
		s.m[id] = sb
	}
}

func (s *sandboxes) take(id string) *Sandbox {
	s.mu.Lock()
	defer s.mu.Unlock()
	sb := s.m[id]
	delete(s.m, id)
	return sb
}

// all returns the kept sandboxes, by container id.
func (s *sandboxes) all() map[string]*Sandbox {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]*Sandbox, len(s.m))
	for id, sb := range s.m {
		out[id] = sb
	}
	return out
}

// nsPath is where the namespace of the container id lives.
func (m *Manager) nsPath(id string) string { return filepath.Join(m.cfg.NamespaceDir, id) }

// orderedEndpoints returns the container's endpoints, the first network's
// first (it carries the default route), then by name.
func (m *Manager) orderedEndpoints(c Container) []string {
	mode := m.Mode(c.NetworkMode)
	names := make([]string, 0, len(c.Endpoints))
	for name := range c.Endpoints {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool {
		pi, pj := names[i] == mode || c.Endpoints[names[i]].NetworkID == mode, names[j] == mode || c.Endpoints[names[j]].NetworkID == mode
		if pi != pj {
			return pi
		}
		return names[i] < names[j]
	})
	return names
}

// Up gives a starting container its network: a namespace with an
// interface per endpoint and the embedded DNS on user-defined networks.
// The sandbox it returns is the container's once kept (Sandbox.Keep).
func (m *Manager) Up(ctx context.Context, c Container) (*Sandbox, error) {
	mode := m.Mode(c.NetworkMode)
	sb := &Sandbox{m: m, c: c, mode: mode}
	links, err := m.resolveLinks(c, mode)
	if err != nil {
		return nil, err
	}
	sb.links = links
	switch mode {
	case Host, None:
		return sb, nil
	}
	if err := m.networking(); err != nil {
		return nil, err
	}
	path := m.nsPath(c.ID)
	if _, err := os.Lstat(path); err == nil {
		// Left by a run the daemon could not end (a crash): start over.
		m.down(ctx, c.ID, &Sandbox{mode: mode, ns: netdrv.Namespace(path)})
	}
	if _, err := os.Lstat(path + usernsSuffix); err == nil {
		_ = netdrv.DeleteNamespace(path + usernsSuffix)
	}
	ns, userns, err := m.namespaces(c, path)
	if err != nil {
		return nil, err
	}
	sb.ns, sb.userns = ns, userns
	ok := false
	defer func() {
		if !ok {
			m.down(context.WithoutCancel(ctx), c.ID, sb)
		}
	}()
	m.mu.RLock()
	defer m.mu.RUnlock()
	dns := false // on a user-defined network: the embedded DNS answers
	for i, name := range m.orderedEndpoints(c) {
		ep := c.Endpoints[name]
		n := m.nets[ep.NetworkID]
		if n == nil {
			return nil, errdefs.NotFound("network %s of container %s is gone", name, ids.Short(c.ID))
		}
		if err := m.join(ctx, c.ID, n, ep, fmt.Sprintf("eth%d", i), i == 0, ns); err != nil {
			return nil, err
		}
		sb.addrs = append(sb.addrs, ep.addr())
		dns = dns || n.rec.userDefined()
	}
	if dns {
		if err := m.dns.Listen(c.ID, ns); err != nil {
			return nil, err
		}
		sb.dns = true
	}
	ok = true
	return sb, nil
}

// join sets the network up (idempotent) and joins the endpoint.
func (m *Manager) join(ctx context.Context, id string, n *entry, ep *Endpoint, ifname string, route bool, ns netdrv.Namespace) error {
	drv := m.cfg.Drivers[n.rec.Driver]
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
		MAC: ep.mac(), DefaultRoute: route}
}

// Host reports whether the container is in the host's namespace.
func (sb *Sandbox) Host() bool { return sb.mode == Host }

// Apply puts the sandbox's namespace in the container's spec: the
// namespace file to join, or none at all for the host's.
func (sb *Sandbox) Apply(s *specs.Spec) {
	if sb == nil || sb.mode == None {
		return
	}
	var out []specs.LinuxNamespace
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			if sb.mode == Host {
				continue
			}
			ns.Path = sb.ns.Path()
		}
		if ns.Type == specs.UserNamespace && sb.userns != "" {
			ns.Path = sb.userns // the one that owns the network namespace
		}
		out = append(out, ns)
	}
	s.Linux.Namespaces = out
}

// Keep makes the sandbox the running container's, until Down.
func (sb *Sandbox) Keep() { sb.m.sbs.set(sb.c.ID, sb) }

// Close ends the sandbox of a start that failed. A nil sandbox is none.
func (sb *Sandbox) Close(ctx context.Context) {
	if sb != nil {
		sb.m.down(ctx, sb.c.ID, sb)
	}
}

// Down ends the network side of the run of the container id, which ended
// or is removed.
func (m *Manager) Down(ctx context.Context, id string) {
	m.down(ctx, id, m.sbs.take(id))
}

// down ends the network side of a run: proxies, DNS and the namespace.
// The endpoints go with the namespace: once its file is unmounted and its
// last socket closed the kernel destroys it, with the interfaces in it and
// their veth peers, in the background; deleting a veth pair here would
// cost a start-stop cycle some 20 ms of waiting for the kernel. (A start
// that comes before the kernel is done finds the old host end and replaces
// it.) It reports what fails and goes on.
func (m *Manager) down(ctx context.Context, id string, sb *Sandbox) {
	if sb == nil {
		return
	}
	for _, p := range sb.proxies {
		p.Close()
	}
	if sb.dns {
		m.dns.Stop(id)
	}
	if sb.ns == "" || m.cfg == nil {
		return
	}
	if err := netdrv.DeleteNamespace(sb.ns.Path()); err != nil {
		m.logf("container %s: %v", ids.Short(id), err)
	}
	if sb.userns != "" {
		if err := netdrv.DeleteNamespace(sb.userns); err != nil {
			m.logf("container %s: %v", ids.Short(id), err)
		}
	}
}

// usernsSuffix names the file of a container's user namespace, beside its
// network namespace's.
const usernsSuffix = ".user"

// namespaces makes the container's network namespace at path: by the
// daemon, or, for a container of its own user namespace, by a process in
// that user namespace, whose user namespace is kept at path+".user".
func (m *Manager) namespaces(c Container, path string) (netdrv.Namespace, string, error) {
	if c.Spawn == nil {
		ns, err := netdrv.CreateNamespace(path)
		return ns, "", err
	}
	pid, done, err := c.Spawn(unix.CLONE_NEWNET)
	if err != nil {
		return "", "", err
	}
	defer done()
	userns := path + usernsSuffix
	if err := netdrv.BindNamespace(fmt.Sprintf("/proc/%d/ns/user", pid), userns, false); err != nil {
		return "", "", err
	}
	if err := netdrv.BindNamespace(fmt.Sprintf("/proc/%d/ns/net", pid), path, true); err != nil {
		_ = netdrv.DeleteNamespace(userns)
		return "", "", err
	}
	return netdrv.Namespace(path), userns, nil
}

// hotplug joins a running container to one more network (network connect).
// The caller holds the networks for reading and the container's lock.
func (m *Manager) hotplug(ctx context.Context, c Container, n *entry, ep *Endpoint) error {
	sb := m.sbs.get(c.ID)
	if sb == nil || sb.ns == "" {
		return errdefs.Busy("container %s has no network namespace to join", ids.Short(c.ID))
	}
	ifname, err := netdrv.FreeIfName(sb.ns)
	if err != nil {
		return err
	}
	if err := m.join(ctx, c.ID, n, ep, ifname, false, sb.ns); err != nil {
		return err
	}
	if n.rec.userDefined() && !sb.dns {
		if err := m.dns.Listen(c.ID, sb.ns); err != nil {
			m.logf("container %s: %v", ids.Short(c.ID), err)
		} else {
			sb.dns = true
			// As docker does, a container that joins its first
			// user-defined network asks the embedded DNS from now on
			// (the file is bind-mounted: rewritten in place).
			if err := os.WriteFile(filepath.Join(c.Dir, "resolv.conf"), embeddedResolvConf(c.Settings), 0o644); err != nil {
				m.logf("container %s: %v", ids.Short(c.ID), err)
			}
		}
	}
	return nil
}

// unplug removes a running container's interface on n (network
// disconnect), found in its namespace by its MAC address.
func (m *Manager) unplug(ctx context.Context, c Container, n *entry, ep *Endpoint) error {
	sb := m.sbs.get(c.ID)
	if sb == nil || sb.ns == "" {
		return nil
	}
	dep := driverEndpoint(c.ID, "", false, ep)
	ifname, err := netdrv.IfNameByMAC(sb.ns, dep.MAC)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil // gone already
	}
	if err != nil {
		return fmt.Errorf("container %s: network %s: %w", ids.Short(c.ID), n.rec.Name, err)
	}
	dep.IfName = ifname
	return m.cfg.Drivers[n.rec.Driver].Leave(ctx, n.rec.spec(), dep, sb.ns)
}

// SandboxKey returns the namespace file of the running container id on a
// network, else "" (docker's NetworkSettings.SandboxKey).
func (m *Manager) SandboxKey(id string) string {
	if sb := m.sbs.get(id); sb != nil {
		return sb.ns.Path()
	}
	return ""
}

// Restore takes back the network side of the running containers after a
// daemon restart (live restore): their namespaces are still there, the DNS
// and the port proxies, which lived in the old daemon, are started again.
// Namespaces of containers that no longer run are removed. The engine calls
// it once, at its start, after Open.
func (m *Manager) Restore(ctx context.Context) {
	if m.cfg == nil {
		return
	}
	m.mu.RLock()
	if err := m.syncFirewall(ctx); err != nil {
		m.logf("networks: %v (the bridge networks are not isolated)", err)
	}
	m.mu.RUnlock()
	running := map[string]bool{}
	for _, c := range m.ctrs.List() {
		if !c.Live {
			continue
		}
		running[c.ID] = true
		mode := m.Mode(c.NetworkMode)
		sb := &Sandbox{m: m, c: c, mode: mode}
		if mode != Host && mode != None {
			path := m.nsPath(c.ID)
			if !netdrv.IsNamespace(path) {
				m.logf("container %s: its network namespace %s is gone", ids.Short(c.ID), path)
				continue
			}
			sb.ns = netdrv.Namespace(path)
			if netdrv.IsNamespace(path + usernsSuffix) {
				sb.userns = path + usernsSuffix
			}
			m.mu.RLock()
			for _, ep := range c.Endpoints {
				if n := m.nets[ep.NetworkID]; n != nil {
					sb.dns = sb.dns || n.rec.userDefined()
					if drv := m.cfg.Drivers[n.rec.Driver]; drv != nil {
						if err := drv.Setup(ctx, n.rec.spec()); err != nil {
							m.logf("network %s: %v", n.rec.Name, err)
						}
					}
				}
			}
			m.mu.RUnlock()
			if sb.dns {
				if err := m.dns.Listen(c.ID, sb.ns); err != nil {
					m.logf("container %s: %v", ids.Short(c.ID), err)
					sb.dns = false
				}
			}
			// Binding by binding, so that a host port another
			// process took meanwhile costs that port only. The
			// record's ports stay as they are.
			for p, bs := range c.Ports {
				for _, b := range bs {
					px, err := m.proxy(c, nat.PortMap{p: {b}})
					if err != nil {
						m.logf("container %s: published port: %v", ids.Short(c.ID), err)
					}
					sb.proxies = append(sb.proxies, px...)
				}
			}
		}
		m.sbs.set(c.ID, sb)
	}
	ents, _ := os.ReadDir(m.cfg.NamespaceDir)
	for _, ent := range ents {
		if running[ent.Name()] {
			continue
		}
		m.down(ctx, ent.Name(), &Sandbox{ns: netdrv.Namespace(filepath.Join(m.cfg.NamespaceDir, ent.Name()))})
	}
}

// Close stops the DNS and the proxies (they live in the daemon; the next
// one starts them again) and removes the bridges no running container uses
// and their firewall rules, so that a host where no container runs keeps
// nothing. The engine calls it once, when it closes, after the last
// container's run is watched no more.
func (m *Manager) Close(ctx context.Context) {
	if m.cfg == nil {
		return
	}
	m.dns.Close()
	used := map[string]bool{}
	for id, sb := range m.sbs.all() {
		for _, p := range sb.proxies {
			p.Close()
		}
		if c, err := m.ctrs.Get(id); err == nil {
			for _, ep := range c.Endpoints {
				used[ep.NetworkID] = true
			}
		}
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	var inUse []netdrv.Network
	for id, n := range m.nets {
		if used[id] {
			inUse = append(inUse, n.rec.spec())
		}
		if used[id] || m.cfg.Drivers[n.rec.Driver] == nil {
			continue
		}
		if err := m.cfg.Drivers[n.rec.Driver].Teardown(ctx, n.rec.spec()); err != nil {
			m.logf("network %s: %v", n.rec.Name, err)
		}
	}
	// The rules go as the bridges do: those of the networks in use stay
	// for their containers, and with none the table goes.
	if fw := m.cfg.Firewall; fw != nil {
		// One transaction either way: no moment without rules.
		var err error
		if len(inUse) > 0 {
			err = fw.Sync(ctx, inUse)
		} else {
			err = fw.Remove(ctx)
		}
		if err != nil {
			m.logf("networks: %v", err)
		}
	}
}
