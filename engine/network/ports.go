package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/docker/go-connections/nat"
	"github.com/docker/go-connections/proxy"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/internal/ids"
)

// Publish publishes the ports of the starting container: its settings'
// bindings and, with PublishAllPorts, every port its image (imagePorts)
// or its settings expose that has none, on a free host port. It returns
// the bindings with the host ports bound (nil for none); the proxies go
// with the sandbox. A host port in use is an errdefs.ErrBusy error.
func (sb *Sandbox) Publish(imagePorts map[string]struct{}) (nat.PortMap, error) {
	ports := sb.m.bindings(sb.c.Settings, imagePorts)
	px, err := sb.m.proxy(sb.c, ports)
	if err != nil {
		return nil, err
	}
	sb.proxies = px
	if len(ports) == 0 {
		return nil, nil
	}
	return ports, nil
}

// bindings returns the ports to publish at a start: the settings' bindings
// and, with PublishAllPorts, every port the image or the settings expose
// that has none, on a free host port. On the host network there are none:
// the container's ports are the host's, and dockerd discards the bindings
// (its create answers a warning, which dctl and the REST bridge give too).
func (m *Manager) bindings(s Settings, imagePorts map[string]struct{}) nat.PortMap {
	out := nat.PortMap{}
	if m.Mode(s.NetworkMode) == Host {
		return out
	}
	for p, bs := range s.PortBindings {
		out[p] = append([]nat.PortBinding(nil), bs...)
	}
	if s.PublishAllPorts {
		exposed := nat.PortSet{}
		for p := range s.ExposedPorts {
			exposed[p] = struct{}{}
		}
		for p := range imagePorts {
			proto, port := nat.SplitProtoPort(p)
			if np, err := nat.NewPort(proto, port); err == nil {
				exposed[np] = struct{}{}
			}
		}
		for p := range exposed {
			if len(out[p]) == 0 {
				out[p] = []nat.PortBinding{{}}
			}
		}
	}
	for p, bs := range out {
		for i := range bs {
			if bs[i].HostIP == "" && m.cfg != nil && m.cfg.PublishIP.IsValid() {
				bs[i].HostIP = m.cfg.PublishIP.String()
			}
			if bs[i].HostIP == "" {
				bs[i].HostIP = "0.0.0.0"
			}
		}
		out[p] = bs
	}
	return out
}

// backend returns the address the published ports of c go to: the
// container's address on its first bridge network, which the host reaches.
func (m *Manager) backend(c Container) (netip.Addr, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, name := range m.orderedEndpoints(c) {
		ep := c.Endpoints[name]
		if n := m.nets[ep.NetworkID]; n != nil && n.rec.Driver == "bridge" && !n.rec.Internal {
			return ep.addr(), nil
		}
	}
	return netip.Addr{}, errdefs.Invalid("container %s: published ports need the container on a bridge network that is not internal", ids.Short(c.ID))
}

// checkPublish refuses, at create, settings that publish ports (-p, or -P
// with ports exposed by them or the image) on no network they can be
// served from: the published ports go to the container's address on a
// bridge network that is not internal (see backend). On the host network
// they are discarded, on none attach refuses them. eps are the container's
// endpoints; m.mu is held for reading.
func (m *Manager) checkPublish(s Settings, imagePorts map[string]struct{}, eps map[string]*Endpoint) error {
	publishes := len(s.PortBindings) > 0
	if !publishes && s.PublishAllPorts {
		publishes = len(s.ExposedPorts) > 0 || len(imagePorts) > 0
	}
	if !publishes || m.cfg == nil {
		return nil
	}
	if mode := m.Mode(s.NetworkMode); mode == Host || mode == None {
		return nil
	}
	var names []string
	for name, ep := range eps {
		n := m.nets[ep.NetworkID]
		if n != nil && n.rec.Driver == "bridge" && !n.rec.Internal {
			return nil
		}
		names = append(names, name)
	}
	sort.Strings(names)
	flag := "-p (publish=)"
	if len(s.PortBindings) == 0 {
		flag = "-P (publish-all=)"
	}
	return errdefs.Invalid("%s: published ports need the container on a bridge network that is not internal; it is on %s",
		flag, strings.Join(names, ", "))
}

// proxy starts the userland proxies of bindings (host ports of 0 or ""
// get a free port) and returns them; the bindings, which must be the
// caller's own, are updated with the ports bound. A host port in use is an
// errdefs.ErrBusy error.
func (m *Manager) proxy(c Container, bindings nat.PortMap) ([]proxy.Proxy, error) {
	if len(bindings) == 0 {
		return nil, nil
	}
	to, err := m.backend(c)
	if err != nil {
		return nil, err
	}
	ports := make([]nat.Port, 0, len(bindings))
	for p := range bindings {
		ports = append(ports, p)
	}
	sort.Slice(ports, func(i, j int) bool { return ports[i] < ports[j] })
	var out []proxy.Proxy
	fail := func(err error) ([]proxy.Proxy, error) {
		for _, p := range out {
			p.Close()
		}
		return nil, err
	}
	for _, port := range ports {
		bs := bindings[port]
		for i, b := range bs {
			p, err := listen(port, net.ParseIP(b.HostIP), b.HostPort, to)
			if err != nil {
				return fail(err)
			}
			out = append(out, p)
			go p.Run()
			bs[i].HostPort = strconv.Itoa(portOf(p.FrontendAddr()))
		}
	}
	return out, nil
}

// listen makes the proxy of port on hostIP:hostPort to the container's
// address to; a hostPort range takes its first free port, "" or 0 any
// free port. A host port (or every port of a range) in use is an
// errdefs.ErrBusy error.
func listen(port nat.Port, hostIP net.IP, hostPort string, to netip.Addr) (proxy.Proxy, error) {
	lo, hi := 0, 0
	if hostPort != "" {
		lo, hi, _ = nat.ParsePortRangeToInt(hostPort) // checked by the engine at create
	}
	var front net.Addr
	for hp := lo; hp <= hi; hp++ {
		var back net.Addr
		if port.Proto() == "udp" {
			front, back = &net.UDPAddr{IP: hostIP, Port: hp}, &net.UDPAddr{IP: to.AsSlice(), Port: port.Int()}
		} else {
			front, back = &net.TCPAddr{IP: hostIP, Port: hp}, &net.TCPAddr{IP: to.AsSlice(), Port: port.Int()}
		}
		p, err := proxy.NewProxy(front, back)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("publishing %s on %s: %w", port, front, err)
		}
	}
	if lo != hi {
		return nil, errdefs.Busy("cannot publish %s on %s:%s: every host port of the range is already in use", port, hostIP, hostPort)
	}
	return nil, errdefs.Busy("cannot publish %s on %s: the host port is already in use", port, front)
}

func portOf(a net.Addr) int {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.Port
	case *net.UDPAddr:
		return a.Port
	}
	return 0
}
