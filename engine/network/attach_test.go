package network

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	networktypes "github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/netdrv"
	"github.com/enginefs/enginefs/netdrv/ipam"
)

// fakeContainers are containers in memory, as the engine keeps them:
// Update changes one under its lock.
type fakeContainers struct {
	mu sync.Mutex
	m  map[string]Container
}

func (f *fakeContainers) List() []Container {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Container
	for _, c := range f.m {
		out = append(out, c)
	}
	return out
}

func (f *fakeContainers) set(c Container) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m[c.ID] = c
}

func (f *fakeContainers) Get(ref string) (Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.m {
		if c.ID == ref || c.Name == ref {
			return c, nil
		}
	}
	return Container{}, errdefs.NotFound("no such container: %s", ref)
}

func (f *fakeContainers) Update(id string, fn func(Container) (map[string]*Endpoint, error)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.m[id]
	if !ok {
		return errdefs.NotFound("no such container: %s", id)
	}
	eps, err := fn(c)
	if err != nil {
		return err
	}
	c.Endpoints = eps
	f.m[id] = c
	return nil
}

// testManager returns a manager with one user-defined network, "front"
// (10.77.0.0/24, no driver: nothing here reaches the kernel), the
// predefined none, and the containers cs.
func testManager(t *testing.T, cs *fakeContainers) (*Manager, *entry) {
	t.Helper()
	m := New(Config{NamespaceDir: t.TempDir(), Drivers: map[string]netdrv.Driver{}, DefaultNetwork: "front"}, WithLogger(t.Logf))
	if err := m.Open(context.Background(), &memStore{m: map[string][]byte{}}, cs, func(string, string, ...string) {}); err != nil {
		t.Fatal(err)
	}
	subnet := netip.MustParsePrefix("10.77.0.0/24")
	pool, err := ipam.New(subnet, ipam.FirstHost(subnet))
	if err != nil {
		t.Fatal(err)
	}
	front := &entry{rec: Record{ID: strings.Repeat("f", 64), Name: "front", Driver: "bridge", Subnet: subnet, Gateway: ipam.FirstHost(subnet)}, pool: pool}
	m.nets[front.rec.ID] = front
	return m, front
}

// TestAttach: an attachment takes addresses, Abort gives them back and
// Commit keeps them, giving back those of the endpoints it replaces; the
// networks are not removed while it lasts.
func TestAttach(t *testing.T) {
	cs := &fakeContainers{m: map[string]Container{}}
	m, front := testManager(t, cs)
	id := strings.Repeat("a", 64)
	att, err := m.Attach(Container{ID: id}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ep := att.Endpoints()["front"]
	if ep == nil || front.pool.Holder(ep.IPAddress) != id || ep.Gateway != front.rec.Gateway {
		t.Fatalf("endpoints %+v", att.Endpoints())
	}
	att.Abort()
	if h := front.pool.Holder(ep.IPAddress); h != "" {
		t.Errorf("after Abort the address is held by %q", h)
	}

	// A first create, saved; then a rewrite asking for another address.
	att, err = m.Attach(Container{ID: id}, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := att.Endpoints()
	removed := make(chan error, 1)
	go func() { removed <- m.Remove(context.Background(), "front") }()
	select {
	case err := <-removed:
		t.Fatalf("a network was removed under an attachment: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	cs.set(Container{ID: id, Name: "web", Created: true, Endpoints: first}) // its record is saved
	att.Commit(nil)
	if err := <-removed; !errors.Is(err, errdefs.ErrBusy) {
		t.Errorf("removal of a network a container is attached to: %v, want busy", err)
	}
	want := "10.77.0.99"
	att, err = m.Attach(Container{ID: id, Endpoints: first, Settings: Settings{EndpointsConfig: map[string]*networktypes.EndpointSettings{
		"front": {IPAMConfig: &networktypes.EndpointIPAMConfig{IPv4Address: want}}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	att.Commit(first)
	if h := front.pool.Holder(first["front"].IPAddress); h != "" {
		t.Errorf("the replaced address is still held by %q", h)
	}
	if got := att.Endpoints()["front"]; got.IPAddress.String() != want || !got.StaticIP {
		t.Errorf("rewritten endpoint %+v, want %s", got, want)
	}

	// Publishing needs a bridge network that is not internal.
	front.rec.Internal = true
	_, err = m.Attach(Container{ID: strings.Repeat("b", 64), Settings: Settings{PortBindings: nat.PortMap{"80/tcp": {{}}}}}, nil)
	if !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("publishing on an internal network: %v, want invalid", err)
	}
	if _, err := m.Attach(Container{ID: id, Settings: Settings{NetworkMode: None, PublishAllPorts: true}}, nil); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("publishing on none: %v, want invalid", err)
	}
}

// TestConnect: connect and disconnect change a stopped container's
// endpoints through Containers.Update and hold, then give back, its
// address; connecting twice is an exists error, a reserved id is busy.
func TestConnect(t *testing.T) {
	cs := &fakeContainers{m: map[string]Container{}}
	m, front := testManager(t, cs)
	ctx := context.Background()
	id := strings.Repeat("c", 64)
	cs.m[id] = Container{ID: id, Name: "db", Created: true, Settings: Settings{NetworkMode: "bridge"}, Endpoints: map[string]*Endpoint{}}
	if err := m.Connect(ctx, "front", "db", EndpointOptions{Aliases: []string{"store"}}); err != nil {
		t.Fatal(err)
	}
	ep := cs.m[id].Endpoints["front"]
	if ep == nil || front.pool.Holder(ep.IPAddress) != id || len(ep.Aliases) != 1 {
		t.Fatalf("endpoints after connect: %+v", cs.m[id].Endpoints)
	}
	if err := m.Connect(ctx, "front", "db", EndpointOptions{}); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Errorf("second connect: %v, want already exists", err)
	}
	att, err := m.Attached("front")
	if err != nil || len(att) != 1 || att[0].Name != "db" || att[0].Running {
		t.Errorf("Attached = %+v, %v", att, err)
	}
	if err := m.Disconnect(ctx, "front", "db"); err != nil {
		t.Fatal(err)
	}
	if _, ok := cs.m[id].Endpoints["front"]; ok || front.pool.Holder(ep.IPAddress) != "" {
		t.Errorf("after disconnect: endpoints %+v, address held by %q", cs.m[id].Endpoints, front.pool.Holder(ep.IPAddress))
	}
	if err := m.Disconnect(ctx, "front", "db"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("disconnect of a container not connected: %v, want not found", err)
	}
	rid := strings.Repeat("d", 64)
	cs.m[rid] = Container{ID: rid}
	if err := m.Connect(ctx, "front", rid, EndpointOptions{}); !errors.Is(err, errdefs.ErrBusy) {
		t.Errorf("connect of a reserved id: %v, want busy", err)
	}
	if err := m.Connect(ctx, "nosuch", "db", EndpointOptions{}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("connect to no network: %v, want not found", err)
	}
}

// TestDisabled: without networking every container is none (or host),
// and networks are unavailable.
func TestDisabled(t *testing.T) {
	m := Disabled()
	if err := m.Open(context.Background(), nil, &fakeContainers{m: map[string]Container{}}, nil); err != nil {
		t.Fatal(err)
	}
	if mode := m.Mode(""); mode != None {
		t.Errorf("default mode %q, want none", mode)
	}
	if _, err := m.Create(context.Background(), Options{Name: "x"}); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("create: %v, want unavailable", err)
	}
	att, err := m.Attach(Container{ID: "x", Settings: Settings{NetworkMode: Host}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	att.Commit(nil)
	if _, err := m.Attach(Container{ID: "x", Settings: Settings{NetworkMode: "front"}}, nil); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("attach to a network: %v, want unavailable", err)
	}
	sb, err := m.Up(context.Background(), Container{ID: "x", Settings: Settings{NetworkMode: Host}})
	if err != nil || !sb.Host() {
		t.Errorf("Up on host: %v, %v", sb, err)
	}
}
