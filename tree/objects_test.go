package tree

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	networktypes "github.com/docker/docker/api/types/network"
	volumetypes "github.com/docker/docker/api/types/volume"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/engine/network"
	"github.com/enginefs/enginefs/engine/volume"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
	"github.com/enginefs/enginefs/netdrv"
	"github.com/enginefs/enginefs/voldrv/local"
)

// TestNetworkOptions: the create line of networks/ctl lands in the
// manager's options.
func TestNetworkOptions(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       network.Options
		err        string // in the error
	}{
		{"every key", "create lan driver=macvlan subnet=192.168.5.0/24 gateway=192.168.5.254 parent=eth0 internal=true " +
			"opt=com.docker.network.driver.mtu=1400 opt=a= label=team=ops label=x=y=z",
			network.Options{Name: "lan", Driver: "macvlan", Subnet: "192.168.5.0/24", Gateway: "192.168.5.254", Internal: true,
				Options: map[string]string{"parent": "eth0", "com.docker.network.driver.mtu": "1400", "a": ""},
				Labels:  map[string]string{"team": "ops", "x": "y=z"}}, ""},
		{"internal as a word", "create app internal",
			network.Options{Name: "app", Internal: true, Options: map[string]string{}, Labels: map[string]string{}}, ""},
		{"nothing but a name", "create app",
			network.Options{Name: "app", Options: map[string]string{}, Labels: map[string]string{}}, ""},
		{"ip-range and aux-address", "create 'my net' subnet=10.9.0.0/24 ip-range=10.9.0.16/28 aux-address=r=10.9.0.17 aux-address=s=10.9.0.200",
			network.Options{Name: "my net", Subnet: "10.9.0.0/24", IPRange: "10.9.0.16/28",
				Aux:     map[string]string{"r": "10.9.0.17", "s": "10.9.0.200"},
				Options: map[string]string{}, Labels: map[string]string{}}, ""},
		{"an aux-address without a name", "create app aux-address==10.9.0.3", network.Options{}, `want K=V "aux-address==10.9.0.3"`},
		{"a reserved name", "create list", network.Options{}, `network name "list" is reserved`},
		{"an option without a key", "create app opt==1", network.Options{}, `want K=V "opt==1"`},
		{"a label without a key", "create app label==1", network.Options{}, `want K=V "label==1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := verbs.Networks.Parse(tc.line)
			if err != nil {
				t.Fatal(err)
			}
			got, err := networkOptions(v.(verbs.NetworkCreate))
			if tc.err != "" {
				if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("%v, want an invalid argument with %q", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("options %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	for _, k := range verbs.Spec(verbs.NetworkCreate{}).Keys {
		if !strings.Contains(" driver= subnet= gateway= ip-range= aux-address= parent= internal= opt= label=", " "+k+"=") {
			t.Errorf("the network create key %s= has no case here", k)
		}
	}
}

// memStore is a record store in memory (the engine's bolt buckets).
type memStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memStore) Put(k string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = append([]byte(nil), v...)
	return nil
}

func (s *memStore) Delete(k string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, k)
	return nil
}

func (s *memStore) ForEach(fn func(string, []byte) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.m))
	for k := range s.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn(k, s.m[k]); err != nil {
			return err
		}
	}
	return nil
}

// volumeTree is /volumes of a tree over a volume manager with the local
// driver in a temporary directory; users says which containers use a
// volume.
func volumeTree(t *testing.T, users map[string][]string) (fs.Client, string) {
	t.Helper()
	root := t.TempDir()
	drv, err := local.New(root)
	if err != nil {
		t.Fatal(err)
	}
	m := volume.New(drv, volume.WithLogger(t.Logf))
	var mu sync.Mutex
	if err := m.Open(&memStore{m: map[string][]byte{}}, func(name string) []string {
		mu.Lock()
		defer mu.Unlock()
		return users[name]
	}, func(string, string, ...string) {}); err != nil {
		t.Fatal(err)
	}
	tr := &tree{v: m, errs: map[string]*fs.ErrSlot{}}
	return fs.Local(fs.StaticDir{{Name: "volumes", Node: tr.volumes()}}), root
}

// TestVolumesTree: volumes/ctl makes and removes volumes of the manager;
// each volume's config is docker's volume document.
func TestVolumesTree(t *testing.T) {
	ctx := context.Background()
	users := map[string][]string{}
	c, root := volumeTree(t, users)
	before := time.Now().Add(-time.Second)
	reply, err := fs.Command(ctx, c, "volumes/ctl", "create data label=team=ops label=x=")
	if err != nil || reply != "data" {
		t.Fatalf("create: %q, %v", reply, err)
	}
	doc := readVolume(t, c, "volumes/data/config")
	created, err := time.Parse(time.RFC3339, doc.CreatedAt)
	if err != nil || created.Before(before.Truncate(time.Second)) || created.After(time.Now()) {
		t.Errorf("CreatedAt %q: %v", doc.CreatedAt, err)
	}
	doc.CreatedAt = ""
	want := volumetypes.Volume{Name: "data", Driver: "local", Mountpoint: filepath.Join(root, "data", "_data"), Scope: "local",
		Labels: map[string]string{"team": "ops", "x": ""}, Options: map[string]string{},
		UsageData: &volumetypes.UsageData{RefCount: 0, Size: -1}}
	if !reflect.DeepEqual(doc, want) {
		t.Errorf("config\n%+v\nwant\n%+v", doc, want)
	}

	// The data directory is the volume's files, and usage counts them.
	h, err := c.(fs.WriteClient).Create(ctx, "volumes/data/data/f", os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.WriteAt(ctx, []byte("12345"), 0); err != nil {
		t.Fatal(err)
	}
	h.Close()
	if b, err := os.ReadFile(filepath.Join(root, "data", "_data", "f")); err != nil || string(b) != "12345" {
		t.Errorf("the file written in data/: %q, %v", b, err)
	}
	var usage []volumetypes.Volume
	if err := readJSON(t, c, "volumes/usage", &usage); len(usage) != 1 || usage[0].UsageData.Size != 5 || err != nil {
		t.Errorf("usage %+v, %v", usage, err)
	}

	// A volume in use is counted and not removed.
	users["data"] = []string{"web"}
	if doc := readVolume(t, c, "volumes/data/config"); doc.UsageData.RefCount != 1 {
		t.Errorf("RefCount %d, want 1", doc.UsageData.RefCount)
	}
	if _, err := fs.Command(ctx, c, "volumes/data/ctl", "rm"); !errors.Is(err, errdefs.ErrBusy) || !strings.Contains(err.Error(), "web") {
		t.Errorf("rm of a volume in use: %v", err)
	}
	delete(users, "data")

	for _, tc := range []struct {
		line  string
		class error
		msg   string
	}{
		{"create list", errdefs.ErrInvalid, `volume name "list" is reserved`},
		{"create usage", errdefs.ErrInvalid, `volume name "usage" is reserved`},
		{"create vv opt==x", errdefs.ErrInvalid, `want K=V "opt==x"`},
		{"create vv label==x", errdefs.ErrInvalid, `want K=V "label==x"`},
		{"create vv driver=nosuch", errdefs.ErrNotFound, ""},
		{"rm nosuch", errdefs.ErrNotFound, "nosuch"},
		{"destroy data", errdefs.ErrInvalid, "destroy"},
	} {
		if _, err := fs.Command(ctx, c, "volumes/ctl", tc.line); !errors.Is(err, tc.class) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%q: %v, want %v with %q", tc.line, err, tc.class, tc.msg)
		}
	}

	if _, err := fs.Command(ctx, c, "volumes/data/ctl", "rm"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Open(ctx, "volumes/data/config", os.O_RDONLY); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("config of a removed volume: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "data")); !os.IsNotExist(err) {
		t.Errorf("the removed volume's directory: %v", err)
	}
}

// TestVolumesTreeAnonymous: a volume made without a name is anonymous: its
// config carries docker's label, which the bridge's volume prune looks
// for, and prune removes it while keeping named volumes.
func TestVolumesTreeAnonymous(t *testing.T) {
	ctx := context.Background()
	c, _ := volumeTree(t, nil)
	if _, err := fs.Command(ctx, c, "volumes/ctl", "create named"); err != nil {
		t.Fatal(err)
	}
	anon, err := fs.Command(ctx, c, "volumes/ctl", "create")
	if err != nil || len(anon) != 64 {
		t.Fatalf("create without a name: %q, %v", anon, err)
	}
	var list []volumetypes.Volume
	if err := readJSON(t, c, "volumes/list", &list); err != nil || len(list) != 2 {
		t.Fatalf("list %+v, %v", list, err)
	}
	labels := readVolume(t, c, "volumes/"+anon+"/config").Labels
	if !reflect.DeepEqual(labels, map[string]string{"com.docker.volume.anonymous": ""}) {
		t.Errorf("labels of an anonymous volume %v", labels)
	}
	if reply, err := fs.Command(ctx, c, "volumes/ctl", "prune"); reply != anon || err != nil {
		t.Errorf("prune: %q, %v; want %q", reply, err, anon)
	}
	if reply, err := fs.Command(ctx, c, "volumes/ctl", "prune all"); reply != "named" || err != nil {
		t.Errorf("prune all: %q, %v", reply, err)
	}
}

func readJSON(t *testing.T, c fs.Client, name string, v any) error {
	t.Helper()
	data, err := fs.ReadAll(context.Background(), c, name)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

func readVolume(t *testing.T, c fs.Client, name string) volumetypes.Volume {
	t.Helper()
	var v volumetypes.Volume
	if err := readJSON(t, c, name, &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// nullDriver is a network driver that makes nothing in the kernel.
type nullDriver struct{}

func (nullDriver) Setup(context.Context, netdrv.Network) error    { return nil }
func (nullDriver) Teardown(context.Context, netdrv.Network) error { return nil }
func (nullDriver) Join(context.Context, netdrv.Network, netdrv.Endpoint, netdrv.Namespace) error {
	return nil
}
func (nullDriver) Leave(context.Context, netdrv.Network, netdrv.Endpoint, netdrv.Namespace) error {
	return nil
}

// containersOf are the containers the network manager sees.
type containersOf struct {
	mu   sync.Mutex
	list []network.Container
}

func (c *containersOf) set(list ...network.Container) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.list = list
}

func (c *containersOf) List() []network.Container {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]network.Container(nil), c.list...)
}

func (c *containersOf) Get(ref string) (network.Container, error) {
	for _, x := range c.List() {
		if x.ID == ref || x.Name == ref {
			return x, nil
		}
	}
	return network.Container{}, errdefs.NotFound("no such container: %s", ref)
}

func (c *containersOf) Update(string, func(network.Container) (map[string]*network.Endpoint, error)) error {
	return errdefs.Unavailable("not in this test")
}

// TestNetworksTree: networks/ctl makes networks of the manager; each
// network's config is docker's network inspect and its containers file
// lists the containers attached.
func TestNetworksTree(t *testing.T) {
	ctx := context.Background()
	m := network.New(network.Config{
		Drivers:    map[string]netdrv.Driver{"null": nullDriver{}},
		BridgeName: "br-test", BridgeSubnet: netip.MustParsePrefix("172.30.0.0/16"),
		AddressPool:  netip.MustParsePrefix("10.200.0.0/16"),
		NamespaceDir: t.TempDir(),
	}, network.WithLogger(t.Logf))
	ctrs := &containersOf{}
	if err := m.Open(ctx, &memStore{m: map[string][]byte{}}, ctrs, func(string, string, ...string) {}); err != nil {
		t.Fatal(err)
	}
	tr := &tree{n: m, errs: map[string]*fs.ErrSlot{}}
	c := fs.Local(fs.StaticDir{{Name: "networks", Node: tr.networks()}})

	id, err := fs.Command(ctx, c, "networks/ctl", "create app driver=null subnet=10.9.0.0/24 opt=mtu=1400 label=team=ops")
	if err != nil || len(id) != 64 {
		t.Fatalf("create: %q, %v", id, err)
	}
	var doc networktypes.Inspect
	if err := readJSON(t, c, "networks/app/config", &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Created.IsZero() {
		t.Error("no Created")
	}
	doc.Created = time.Time{}
	want := networktypes.Inspect{Name: "app", ID: id, Scope: "local", Driver: "null", EnableIPv4: true,
		IPAM:       networktypes.IPAM{Driver: "default", Options: map[string]string{}, Config: []networktypes.IPAMConfig{{Subnet: "10.9.0.0/24", Gateway: "10.9.0.1"}}},
		Containers: map[string]networktypes.EndpointResource{}, Options: map[string]string{"mtu": "1400"}, Labels: map[string]string{"team": "ops"}}
	if !reflect.DeepEqual(doc, want) {
		t.Errorf("config\n%+v\nwant\n%+v", doc, want)
	}
	// By id prefix too.
	var byID networktypes.Inspect
	if err := readJSON(t, c, "networks/"+id[:12]+"/config", &byID); err != nil || byID.Name != "app" {
		t.Errorf("config by id prefix: %+v, %v", byID, err)
	}

	web, old := strings.Repeat("a", 64), strings.Repeat("b", 64)
	ep := func(ip string, mac string) map[string]*network.Endpoint {
		return map[string]*network.Endpoint{"app": {NetworkID: id, EndpointID: "ep-" + ip, IPAddress: netip.MustParseAddr(ip),
			IPPrefixLen: 24, MacAddress: mac}}
	}
	ctrs.set(network.Container{ID: web, Name: "web", Live: true, Created: true, Endpoints: ep("10.9.0.2", "02:42:0a:09:00:02")},
		network.Container{ID: old, Created: true, Endpoints: ep("10.9.0.3", "02:42:0a:09:00:03")})
	if err := readJSON(t, c, "networks/app/config", &doc); err != nil {
		t.Fatal(err)
	}
	if want := map[string]networktypes.EndpointResource{web: {Name: "web", EndpointID: "ep-10.9.0.2",
		MacAddress: "02:42:0a:09:00:02", IPv4Address: "10.9.0.2/24"}}; !reflect.DeepEqual(doc.Containers, want) {
		t.Errorf("Containers %+v, want the running one %+v", doc.Containers, want)
	}
	if b, err := fs.ReadAll(ctx, c, "networks/app/containers"); err != nil || string(b) !=
		"web "+web+" 10.9.0.2/24 02:42:0a:09:00:02 running\n"+old[:12]+" "+old+" 10.9.0.3/24 02:42:0a:09:00:03 stopped\n" {
		t.Errorf("containers:\n%s(%v)", b, err)
	}
	if _, err := fs.Command(ctx, c, "networks/app/ctl", "rm"); !errors.Is(err, errdefs.ErrBusy) {
		t.Errorf("rm of a network in use: %v", err)
	}

	var list []networktypes.Inspect
	if err := readJSON(t, c, "networks/list", &list); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range list {
		names = append(names, n.Name)
	}
	if strings.Join(names, " ") != "app bridge host none" {
		t.Errorf("list %q", names)
	}
	ents, err := c.ReadDir(ctx, "networks")
	if err != nil {
		t.Fatal(err)
	}
	var dir []string
	for _, e := range ents {
		dir = append(dir, e.Name)
	}
	if strings.Join(dir, " ") != "ctl err list app bridge host none" {
		t.Errorf("networks/ lists %q", dir)
	}

	for _, tc := range []struct {
		file, line string
		class      error
	}{
		{"networks/ctl", "create ctl driver=null", errdefs.ErrInvalid},
		{"networks/ctl", "create app driver=null", errdefs.ErrAlreadyExists},
		{"networks/ctl", "create x driver=nosuch", errdefs.ErrInvalid},
		{"networks/ctl", "rm bridge", errdefs.ErrPermission},
		{"networks/ctl", "rm nosuch", errdefs.ErrNotFound},
		{"networks/app/ctl", "connect", errdefs.ErrInvalid},
	} {
		if _, err := fs.Command(ctx, c, tc.file, tc.line); !errors.Is(err, tc.class) {
			t.Errorf("%s %q: %v, want %v", tc.file, tc.line, err, tc.class)
		}
	}
	if b, _ := fs.ReadAll(ctx, c, "networks/err"); !strings.Contains(string(b), "nosuch") {
		t.Errorf("networks/err after a failed rm: %q", b)
	}

	ctrs.set()
	if _, err := fs.Command(ctx, c, "networks/app/ctl", "rm"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Open(ctx, "networks/app/config", os.O_RDONLY); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("config of a removed network: %v", err)
	}
	if reply, err := fs.Command(ctx, c, "networks/ctl", "prune"); reply != "" || err != nil {
		t.Errorf("prune of nothing: %q, %v", reply, err)
	}
}
