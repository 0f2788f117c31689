package engine

import (
	"context"

	"github.com/enginefs/enginefs/engine/network"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/imagestore"
)

// Networks is what the containers ask of the networks: *network.Manager,
// which cmd/enginefs builds with its drivers and firewall and hands to New
// (WithNetworks). New opens it with the engine's state, the containers
// (network.Containers) and the engine's events, then has it take back the
// network side of the containers that run (Restore); Close closes it.
type Networks interface {
	Open(ctx context.Context, st network.Store, cs network.Containers, emit network.Emit) error
	Restore(ctx context.Context)
	Close(ctx context.Context)
	NetworkAttacher
	Sandboxer
}

// NetworkAttacher gives the containers being made their endpoints, and
// takes back those of the containers removed.
type NetworkAttacher interface {
	// Attach gives the container being made, c, its endpoints and holds
	// the networks until the attachment is committed, once they are
	// saved in its record, or aborted. It is taken after the volumes
	// (Volumes.Use) and before any container's lock.
	Attach(c network.Container, imagePorts map[string]struct{}) (*network.Attachment, error)
	// Detach gives back the addresses of a removed container's
	// endpoints. It is called holding no lock.
	Detach(id string, eps map[string]*network.Endpoint)
}

// Sandboxer gives the containers that start their network side and ends it
// with their runs.
type Sandboxer interface {
	// Up makes the network side of a starting container: the sandbox
	// that writes its /etc/hosts and resolv.conf, joins its spec and
	// publishes its ports, and that the container keeps once it runs.
	// It is called holding no lock.
	Up(ctx context.Context, c network.Container) (*network.Sandbox, error)
	// Down ends the kept sandbox of a container whose run ended. It is
	// called holding no lock.
	Down(ctx context.Context, id string)
}

var _ Networks = (*network.Manager)(nil)

// WithNetworks gives containers networks (a *network.Manager). Default:
// network.Disabled: every container is in a namespace of its own with only
// lo ("none") or in the host's, and naming another network is an
// errdefs.ErrUnavailable error.
func WithNetworks(n Networks) Option {
	return func(e *Engine) { e.net = n }
}

var bucketNetworks = []byte("networks")

// settings is what a config says of its networking, as the networks read
// it.
func (n Networking) settings() network.Settings {
	return network.Settings{NetworkMode: n.NetworkMode, EndpointsConfig: n.EndpointsConfig,
		ExposedPorts: n.ExposedPorts, PortBindings: n.PortBindings, PublishAllPorts: n.PublishAllPorts,
		ExtraHosts: n.ExtraHosts, DNS: n.DNS, DNSSearch: n.DNSSearch, DNSOptions: n.DNSOptions, MacAddress: n.MacAddress,
		Links: n.Links}
}

// netView is what the networks see of the container of rec.
func (e *Engine) netView(rec Record) network.Container {
	return network.Container{ID: rec.ID, Name: rec.Name, Hostname: rec.Config.Hostname, Env: rec.Config.Env,
		Dir: e.containerDir(rec.ID), Settings: rec.Config.Networking.settings(),
		Endpoints: rec.Networks, Ports: rec.Ports, Created: rec.State.Status != StatusNew, Live: rec.State.Status.live()}
}

// imagePorts are the ports img exposes (nil for no image).
func imagePorts(img *imagestore.Image) map[string]struct{} {
	if img == nil {
		return nil
	}
	return img.Config.Config.ExposedPorts
}

// networkEvent records an event of a network (network.Emit).
func (e *Engine) networkEvent(action, id string, attrs ...string) {
	e.emitObject("network", action, id, attrs...)
}

// containerNetworks is what the networks see of the containers
// (network.Containers).
type containerNetworks struct{ e *Engine }

var _ network.Containers = containerNetworks{}

func (cn containerNetworks) List() []network.Container {
	cs := cn.e.List()
	out := make([]network.Container, 0, len(cs))
	for _, c := range cs {
		out = append(out, cn.e.netView(c.Record()))
	}
	return out
}

func (cn containerNetworks) Get(ref string) (network.Container, error) {
	c, err := cn.e.Get(ref)
	if err != nil {
		return network.Container{}, err
	}
	return cn.e.netView(c.Record()), nil
}

// Update changes a container's endpoints (network connect and disconnect)
// under its lock, refusing a container that is going or starting.
func (cn containerNetworks) Update(id string, fn func(network.Container) (map[string]*network.Endpoint, error)) error {
	c, err := cn.e.Get(id)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.gate(); err != nil {
		return err
	}
	if c.starting {
		return errdefs.Busy("container %s is being started", c.id)
	}
	eps, err := fn(cn.e.netView(c.rec))
	if err != nil {
		return err
	}
	rec := c.rec
	rec.Networks = eps
	if err := cn.e.put(rec); err != nil {
		return err
	}
	c.rec = rec
	return nil
}
