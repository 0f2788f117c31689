package network

import (
	"context"
	"fmt"

	networktypes "github.com/docker/docker/api/types/network"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/internal/ids"
)

// EndpointOptions are what network connect takes.
type EndpointOptions struct {
	IPv4Address string
	Aliases     []string
}

// target finds the container and the network of a connect or a
// disconnect, with the networks held for reading; unlock lets them go.
func (m *Manager) target(netRef, ref string) (Container, *entry, func(), error) {
	if err := m.networking(); err != nil {
		return Container{}, nil, nil, err
	}
	c, err := m.ctrs.Get(ref)
	if err != nil {
		return Container{}, nil, nil, err
	}
	unlock := m.rlock()
	n, err := m.lookup(netRef)
	if err != nil {
		unlock()
		return Container{}, nil, nil, err
	}
	return c, n, unlock, nil
}

// Connect attaches a container to a network; a running container gets its
// interface at once.
func (m *Manager) Connect(ctx context.Context, netRef, ref string, o EndpointOptions) error {
	c, n, unlock, err := m.target(netRef, ref)
	if err != nil {
		return err
	}
	defer unlock()
	es := &networktypes.EndpointSettings{Aliases: o.Aliases}
	if o.IPv4Address != "" {
		es.IPAMConfig = &networktypes.EndpointIPAMConfig{IPv4Address: o.IPv4Address}
	}
	var release func() // set once an address is taken, until it is saved
	err = m.ctrs.Update(c.ID, func(c Container) (map[string]*Endpoint, error) {
		switch mode := m.Mode(c.NetworkMode); {
		case !c.Created:
			return nil, errdefs.Busy("container %s is not created yet", c.ID)
		case mode == Host || mode == None:
			return nil, errdefs.Invalid("container %s has network mode %s and cannot join other networks", ids.Short(c.ID), mode)
		}
		if _, ok := c.Endpoints[n.rec.Name]; ok {
			return nil, errdefs.AlreadyExists("container %s is already attached to network %s", ids.Short(c.ID), n.rec.Name)
		}
		ep, rel, err := newEndpoint(n, c.ID, es, nil)
		if err != nil {
			return nil, fmt.Errorf("network %s: %w", n.rec.Name, err)
		}
		eps := cloneEndpoints(c.Endpoints)
		eps[n.rec.Name] = ep
		if c.Live {
			if err := m.hotplug(ctx, c, n, ep); err != nil {
				rel()
				return nil, err
			}
		}
		release = rel
		return eps, nil
	})
	if err != nil {
		if release != nil {
			release()
		}
		return err
	}
	m.emit("connect", n.rec.ID, "container", c.ID, "name", n.rec.Name, "type", n.rec.Driver)
	return nil
}

// Disconnect detaches a container from a network, removing its interface
// if it runs; its address is free again.
func (m *Manager) Disconnect(ctx context.Context, netRef, ref string) error {
	c, n, unlock, err := m.target(netRef, ref)
	if err != nil {
		return err
	}
	defer unlock()
	var ep *Endpoint
	err = m.ctrs.Update(c.ID, func(c Container) (map[string]*Endpoint, error) {
		var ok bool
		ep, ok = c.Endpoints[n.rec.Name]
		if !ok || ep.NetworkID != n.rec.ID {
			return nil, errdefs.NotFound("container %s is not connected to network %s", ids.Short(c.ID), n.rec.Name)
		}
		if c.Live {
			if err := m.unplug(ctx, c, n, ep); err != nil {
				return nil, err
			}
		}
		eps := cloneEndpoints(c.Endpoints)
		delete(eps, n.rec.Name)
		return eps, nil
	})
	if err != nil {
		return err
	}
	n.pool.Release(ep.addr(), c.ID)
	m.emit("disconnect", n.rec.ID, "container", c.ID, "name", n.rec.Name, "type", n.rec.Driver)
	return nil
}

func cloneEndpoints(m map[string]*Endpoint) map[string]*Endpoint {
	out := make(map[string]*Endpoint, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}
