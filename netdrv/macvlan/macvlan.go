// Package macvlan is the macvlan network driver: each endpoint is a macvlan
// interface on a parent interface of the host (the "parent" option), with
// an address of the parent's link, made directly in the container's
// namespace. Endpoints of one parent reach each other (bridge mode, the
// default) but not the host through that parent, as with docker.
//
// Entry point: New returns the netdrv.Driver.
package macvlan

import (
	"context"
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/netdrv"
)

// Name is the driver's name.
const Name = "macvlan"

type driver struct{}

// New returns the macvlan driver.
func New() netdrv.Driver { return driver{} }

var _ netdrv.Driver = driver{}

var modes = map[string]netlink.MacvlanMode{
	"":         netlink.MACVLAN_MODE_BRIDGE,
	"bridge":   netlink.MACVLAN_MODE_BRIDGE,
	"private":  netlink.MACVLAN_MODE_PRIVATE,
	"vepa":     netlink.MACVLAN_MODE_VEPA,
	"passthru": netlink.MACVLAN_MODE_PASSTHRU,
}

// parent returns n's parent link.
func parent(n netdrv.Network) (netlink.Link, error) {
	name := n.Options[netdrv.OptionParent]
	if name == "" {
		return nil, errdefs.Invalid("network %s: the macvlan driver needs a parent interface (parent=IF)", n.Name)
	}
	if err := netdrv.CheckIfName(name); err != nil {
		return nil, fmt.Errorf("network %s: parent: %w", n.Name, err)
	}
	link, err := netlink.LinkByName(name)
	if netdrv.IsNotFound(err) {
		return nil, errdefs.NotFound("network %s: no parent interface %q on this host", n.Name, name)
	}
	if err != nil {
		return nil, fmt.Errorf("network %s: parent %s: %w", n.Name, name, err)
	}
	return link, nil
}

// Setup implements netdrv.Driver: it checks the parent and the mode; the
// host has nothing else to make.
func (driver) Setup(ctx context.Context, n netdrv.Network) error {
	if _, ok := modes[n.Options[netdrv.OptionMacvlanMode]]; !ok {
		return errdefs.Invalid("network %s: unknown macvlan mode %q (bridge, private, vepa, passthru)", n.Name, n.Options[netdrv.OptionMacvlanMode])
	}
	if _, err := netdrv.MTU(n); err != nil {
		return err
	}
	_, err := parent(n)
	return err
}

// Teardown implements netdrv.Driver: nothing to remove on the host.
func (driver) Teardown(context.Context, netdrv.Network) error { return nil }

// Join implements netdrv.Driver: the macvlan interface is made in ns.
func (driver) Join(ctx context.Context, n netdrv.Network, ep netdrv.Endpoint, ns netdrv.Namespace) error {
	p, err := parent(n)
	if err != nil {
		return err
	}
	mtu, err := netdrv.MTU(n)
	if err != nil {
		return err
	}
	fd, err := unix.Open(ns.Path(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("network namespace %s: %w", ns, err)
	}
	defer unix.Close(fd)
	mv := &netlink.Macvlan{
		LinkAttrs: netlink.LinkAttrs{
			Name: ep.IfName, ParentIndex: p.Attrs().Index, HardwareAddr: ep.MAC, MTU: mtu,
			Namespace: netlink.NsFd(fd),
		},
		Mode: modes[n.Options[netdrv.OptionMacvlanMode]],
	}
	if err := netlink.LinkAdd(mv); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("network %s: macvlan on %s: %w", n.Name, p.Attrs().Name, err)
	}
	if err := netdrv.ConfigureInterface(ns, n, ep); err != nil {
		_ = leave(ns, ep)
		return err
	}
	return nil
}

// Leave implements netdrv.Driver: the interface is deleted in ns (a
// namespace already gone took it with it).
func (driver) Leave(ctx context.Context, n netdrv.Network, ep netdrv.Endpoint, ns netdrv.Namespace) error {
	return leave(ns, ep)
}

func leave(ns netdrv.Namespace, ep netdrv.Endpoint) error {
	if !netdrv.IsNamespace(ns.Path()) {
		return nil
	}
	h, err := ns.Handle()
	if err != nil {
		return err
	}
	defer h.Close()
	return netdrv.DeleteLink(h, ep.IfName)
}
