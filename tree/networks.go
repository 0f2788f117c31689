package tree

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	networktypes "github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"github.com/enginefs/enginefs/ctl"
	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/engine"
	"github.com/enginefs/enginefs/engine/network"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

// networks is /networks: ctl, err, list and a directory per network, found
// by name, id or unique id prefix and listed by name.
func (t *tree) networks() fs.Dir {
	slot := t.slot("networks")
	static := fs.StaticDir{
		{Name: "ctl", Node: &fs.CtlFile{Exec: t.networksCtl, Errors: slot}},
		{Name: "err", Node: fs.ErrFile(slot)},
		{Name: "list", Node: fs.ReadFile(t.networkList)},
	}
	return &fs.DirFunc{
		List: func(ctx context.Context) ([]fs.DirEntry, error) {
			ents, _ := static.ReadDir(ctx)
			for _, n := range t.n.List() {
				ents = append(ents, fs.DirEntry{Name: n.Name, Mode: os.ModeDir})
			}
			return ents, nil
		},
		Get: func(ctx context.Context, name string) (fs.Node, error) {
			if n, err := static.Lookup(ctx, name); err == nil {
				return n, nil
			}
			rec, err := t.n.Get(name)
			if err != nil {
				return nil, err
			}
			return t.network(rec.ID), nil
		},
	}
}

func (t *tree) networksCtl(ctx context.Context, line string) (string, error) {
	v, err := verbs.Networks.Parse(line)
	if err != nil {
		return "", err
	}
	switch v := v.(type) {
	case verbs.NetworkCreate:
		o, err := networkOptions(v)
		if err != nil {
			return "", err
		}
		rec, err := t.n.Create(ctx, o)
		if err != nil {
			return "", err
		}
		return rec.ID, nil
	case verbs.NetworkRm:
		for _, ref := range v.Names {
			if err := t.n.Remove(ctx, ref); err != nil {
				return "", err
			}
		}
		return "", nil
	case verbs.NetworkPrune:
		names, err := t.n.Prune(ctx)
		return strings.Join(names, "\n"), err
	}
	return "", errdefs.Invalid("unhandled command %q", v.Verb())
}

// reservedNetworkNames are the files of /networks.
var reservedNetworkNames = map[string]bool{"ctl": true, "err": true, "list": true}

// networkOptions reads a create line.
func networkOptions(c verbs.NetworkCreate) (network.Options, error) {
	o := network.Options{Name: c.Name, Options: map[string]string{}, Labels: map[string]string{},
		Driver: c.Driver, Subnet: c.Subnet, Gateway: c.Gateway, Internal: c.Internal, IPRange: c.IPRange}
	if reservedNetworkNames[o.Name] {
		return o, errdefs.Invalid("network name %q is reserved: it names a file of /networks", o.Name)
	}
	if c.Parent != "" {
		o.Options["parent"] = c.Parent
	}
	if len(c.Aux) > 0 {
		o.Aux = map[string]string{}
		if err := keyValues(c, "aux-address", c.Aux, o.Aux); err != nil {
			return o, err
		}
	}
	if err := keyValues(c, "opt", c.Opt, o.Options); err != nil {
		return o, err
	}
	return o, keyValues(c, "label", c.Label, o.Labels)
}

// keyValues reads the K=V values of a repeated option of v (opt=,
// label=) into dst.
func keyValues(v verbs.Verb, key string, kvs []string, dst map[string]string) error {
	for _, kv := range kvs {
		k, val, _ := strings.Cut(kv, "=")
		if k == "" {
			return &ctl.Error{Verb: v.Verb(), Msg: "want K=V", Word: key + "=" + kv, Usage: verbs.Usage(v)}
		}
		dst[k] = val
	}
	return nil
}

// network is the directory of one networktypes.
func (t *tree) network(id string) fs.Dir {
	dir := "networks/" + id
	slot := t.slot(dir)
	return fs.StaticDir{
		{Name: "ctl", Node: &fs.CtlFile{Errors: slot, Exec: func(ctx context.Context, line string) (string, error) {
			v, err := verbs.Network.Parse(line)
			if err != nil {
				return "", err
			}
			switch v := v.(type) {
			case verbs.NetworkConnect:
				return "", t.n.Connect(ctx, id, v.Container, network.EndpointOptions{IPv4Address: v.IP, Aliases: v.Alias})
			case verbs.NetworkDisconnect:
				return "", t.n.Disconnect(ctx, id, v.Container)
			case verbs.NetworkDirRm:
				if err := t.n.Remove(ctx, id); err != nil {
					return "", err
				}
				t.forget(dir)
				return "", nil
			}
			return "", errdefs.Invalid("unhandled command %q", v.Verb())
		}}},
		{Name: "err", Node: fs.ErrFile(slot)},
		{Name: "config", Node: fs.ReadFile(func(context.Context) ([]byte, error) {
			doc, err := t.networkInspect(id)
			if err != nil {
				return nil, err
			}
			return jsonDoc(doc)
		})},
		{Name: "containers", Node: fs.ReadFile(func(context.Context) ([]byte, error) {
			att, err := t.n.Attached(id)
			if err != nil {
				return nil, err
			}
			var b strings.Builder
			for _, a := range att {
				state := "stopped"
				if a.Running {
					state = "running"
				}
				fmt.Fprintf(&b, "%s %s %s/%d %s %s\n", firstNonEmpty(a.Name, shortID(a.ID)), a.ID, a.Endpoint.IPAddress,
					a.Endpoint.IPPrefixLen, a.Endpoint.MacAddress, state)
			}
			return []byte(b.String()), nil
		})},
	}
}

// networkInspect is docker's network inspect document.
func (t *tree) networkInspect(ref string) (networktypes.Inspect, error) {
	rec, err := t.n.Get(ref)
	if err != nil {
		return networktypes.Inspect{}, err
	}
	doc := networktypes.Inspect{
		Name: rec.Name, ID: rec.ID, Created: rec.Created, Scope: "local", Driver: rec.Driver,
		EnableIPv4: true, Internal: rec.Internal, Attachable: false,
		IPAM:       networktypes.IPAM{Driver: "default", Options: map[string]string{}, Config: []networktypes.IPAMConfig{}},
		Containers: map[string]networktypes.EndpointResource{},
		Options:    rec.Options, Labels: rec.Labels,
	}
	if doc.Options == nil {
		doc.Options = map[string]string{}
	}
	if doc.Labels == nil {
		doc.Labels = map[string]string{}
	}
	if rec.Subnet.IsValid() {
		cfg := networktypes.IPAMConfig{Subnet: rec.Subnet.String()}
		if rec.Gateway.IsValid() {
			cfg.Gateway = rec.Gateway.String()
		}
		if rec.IPRange.IsValid() {
			cfg.IPRange = rec.IPRange.String()
		}
		if len(rec.AuxAddresses) > 0 {
			cfg.AuxAddress = map[string]string{}
			for name, a := range rec.AuxAddresses {
				cfg.AuxAddress[name] = a.String()
			}
		}
		doc.IPAM.Config = append(doc.IPAM.Config, cfg)
	}
	att, err := t.n.Attached(rec.ID)
	if err != nil {
		return networktypes.Inspect{}, err
	}
	for _, a := range att {
		if !a.Running {
			continue // docker lists the endpoints of running containers
		}
		doc.Containers[a.ID] = networktypes.EndpointResource{
			Name: a.Name, EndpointID: a.Endpoint.EndpointID, MacAddress: a.Endpoint.MacAddress,
			IPv4Address: fmt.Sprintf("%s/%d", a.Endpoint.IPAddress, a.Endpoint.IPPrefixLen),
		}
	}
	return doc, nil
}

// networkList is networks/list: docker's network ls document.
func (t *tree) networkList(ctx context.Context) ([]byte, error) {
	out := []networktypes.Inspect{}
	for _, rec := range t.n.List() {
		doc, err := t.networkInspect(rec.ID)
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, doc)
	}
	return jsonDoc(out)
}

// networkSettings builds docker's NetworkSettings of a container.
type networkSettings struct {
	key string // the namespace file of a running container
}

func (ns networkSettings) settings(r engine.Record) *container.NetworkSettings {
	out := &container.NetworkSettings{Networks: map[string]*networktypes.EndpointSettings{}}
	out.SandboxKey = ns.key
	out.Ports = nat.PortMap{}
	for p, bs := range r.Ports {
		out.Ports[p] = bs
	}
	for p := range r.Config.ExposedPorts {
		if _, ok := out.Ports[p]; !ok {
			out.Ports[p] = nil // exposed, not published
		}
	}
	for name, ep := range r.Networks {
		es := &networktypes.EndpointSettings{
			NetworkID: ep.NetworkID, EndpointID: ep.EndpointID, MacAddress: ep.MacAddress,
			IPAddress: ep.IPAddress.String(), IPPrefixLen: ep.IPPrefixLen,
			Aliases: ep.Aliases, DNSNames: ep.DNSNames(r.Name, r.ID),
		}
		if ep.Gateway.IsValid() {
			es.Gateway = ep.Gateway.String()
		}
		if ep.StaticIP {
			es.IPAMConfig = &networktypes.EndpointIPAMConfig{IPv4Address: es.IPAddress}
		}
		out.Networks[name] = es
		if name == network.Bridge {
			out.DefaultNetworkSettings = container.DefaultNetworkSettings{
				EndpointID: es.EndpointID, Gateway: es.Gateway, IPAddress: es.IPAddress,
				IPPrefixLen: es.IPPrefixLen, MacAddress: es.MacAddress,
			}
		}
	}
	return out
}

// ports is the Ports of containers/list (docker ps).
func ports(pm nat.PortMap) []container.Port {
	out := []container.Port{}
	for p, bs := range pm {
		for _, b := range bs {
			hp, _ := strconv.Atoi(b.HostPort)
			out = append(out, container.Port{IP: b.HostIP, PrivatePort: uint16(p.Int()), PublicPort: uint16(hp), Type: p.Proto()})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].PrivatePort != out[j].PrivatePort {
			return out[i].PrivatePort < out[j].PrivatePort
		}
		return out[i].Type < out[j].Type
	})
	return out
}

// withLinks sets the Links of inspect as docker shows them, /NAME:/PARENT/ALIAS
// (null without links).
func (o inspectOptions) withLinks(parent string, links []string) inspectOptions {
	for _, l := range links {
		name, alias, err := network.ParseLink(l)
		if err != nil {
			continue // refused at create: not in a record
		}
		o.Links = append(o.Links, "/"+name+":/"+strings.TrimPrefix(parent, "/")+"/"+alias)
	}
	return o
}
