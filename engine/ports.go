package engine

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
	"github.com/enginefs/enginefs/imagestore"
)

// validate checks the ports.
func (n Networking) validate() error {
	check := func(p nat.Port) error {
		if p.Proto() != "tcp" && p.Proto() != "udp" {
			return errdefs.Invalid("port %s: only tcp and udp ports are supported", p)
		}
		if v := p.Int(); v < 1 || v > 65535 {
			return errdefs.Invalid("invalid container port %q", p)
		}
		return nil
	}
	for p := range n.ExposedPorts {
		if err := check(p); err != nil {
			return err
		}
	}
	for p, bs := range n.PortBindings {
		if err := check(p); err != nil {
			return err
		}
		for _, b := range bs {
			if b.HostIP != "" {
				if a, err := netip.ParseAddr(b.HostIP); err != nil || !a.Is4() {
					return errdefs.Invalid("port %s: invalid host IP %q (IPv4 only)", p, b.HostIP)
				}
			}
			if b.HostPort != "" {
				// A range (-p 8080-8081:80) gives the port one free
				// host port of it, as in docker.
				if lo, hi, err := nat.ParsePortRangeToInt(b.HostPort); err != nil || lo < 0 || hi > 65535 || lo > hi {
					return errdefs.Invalid("port %s: invalid host port %q", p, b.HostPort)
				}
			}
		}
	}
	return nil
}

// bindings returns the ports to publish at a start: the config's bindings
// and, with PublishAllPorts, every port the image or the config exposes
// that has none, on a free host port. On the host network there are none:
// the container's ports are the host's, and dockerd discards the
// bindings (its create answers a warning, which dctl and the REST bridge
// give too).
func (e *Engine) bindings(rec Record, img *imagestore.Image) nat.PortMap {
	cfg := rec.Config
	out := nat.PortMap{}
	if e.networkMode(&cfg) == NetworkHost {
		return out
	}
	for p, bs := range cfg.PortBindings {
		out[p] = append([]nat.PortBinding(nil), bs...)
	}
	if cfg.PublishAllPorts {
		exposed := nat.PortSet{}
		for p := range cfg.ExposedPorts {
			exposed[p] = struct{}{}
		}
		if img != nil {
			for p := range img.Config.Config.ExposedPorts {
				proto, port := nat.SplitProtoPort(p)
				if np, err := nat.NewPort(proto, port); err == nil {
					exposed[np] = struct{}{}
				}
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
			if bs[i].HostIP == "" && e.netcfg != nil && e.netcfg.PublishIP.IsValid() {
				bs[i].HostIP = e.netcfg.PublishIP.String()
			}
			if bs[i].HostIP == "" {
				bs[i].HostIP = "0.0.0.0"
			}
		}
		out[p] = bs
	}
	return out
}

// backend returns the address the published ports of rec go to: the
// container's address on its first bridge network, which the host reaches.
func (e *Engine) backend(rec Record) (netip.Addr, error) {
	e.net.mu.RLock()
	defer e.net.mu.RUnlock()
	for _, name := range e.orderedEndpoints(rec) {
		ep := rec.Networks[name]
		if n := e.net.nets[ep.NetworkID]; n != nil && n.rec.Driver == "bridge" && !n.rec.Internal {
			return ep.addr(), nil
		}
	}
	return netip.Addr{}, errdefs.Invalid("container %s: published ports need the container on a bridge network that is not internal", short(rec.ID))
}

// checkPublish refuses, at create, a config that publishes ports (-p, or
// -P with ports exposed) on no network they can be served from: the
// published ports go to the container's address on a bridge network that
// is not internal (see backend). On the host network they are discarded,
// on none attach refuses them. eps are the container's endpoints; the
// caller holds lockNetworks.
func (e *Engine) checkPublish(cfg *Config, img *imagestore.Image, eps map[string]*Endpoint) error {
	publishes := len(cfg.PortBindings) > 0
	if !publishes && cfg.PublishAllPorts {
		publishes = len(cfg.ExposedPorts) > 0 || (img != nil && len(img.Config.Config.ExposedPorts) > 0)
	}
	if !publishes || e.netcfg == nil {
		return nil
	}
	if mode := e.networkMode(cfg); mode == NetworkHost || mode == NetworkNone {
		return nil
	}
	var names []string
	for name, ep := range eps {
		n := e.net.nets[ep.NetworkID]
		if n != nil && n.rec.Driver == "bridge" && !n.rec.Internal {
			return nil
		}
		names = append(names, name)
	}
	sort.Strings(names)
	flag := "-p (publish=)"
	if len(cfg.PortBindings) == 0 {
		flag = "-P (publish-all=)"
	}
	return errdefs.Invalid("%s: published ports need the container on a bridge network that is not internal; it is on %s",
		flag, strings.Join(names, ", "))
}

// proxy starts the userland proxies of bindings (host ports of 0 or ""
// get a free port) and returns them; the bindings, which must be the
// caller's own, are updated with the ports bound. A host port in use is an
// errdefs.ErrBusy error.
func (e *Engine) proxy(rec Record, bindings nat.PortMap) ([]proxy.Proxy, error) {
	if len(bindings) == 0 {
		return nil, nil
	}
	to, err := e.backend(rec)
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
		lo, hi, _ = nat.ParsePortRangeToInt(hostPort) // checked by validate
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
