// Package bridge is the bridge network driver: a Linux bridge on the host
// holding the gateway's address, and a veth pair per endpoint, one end on
// the bridge and the other in the container's namespace (docker's
// "bridge" driver without iptables).
//
// Entry point: New returns the netdrv.Driver.
package bridge

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/netdrv"
)

// Name is the driver's name.
const Name = "bridge"

// vethPrefix starts the names of the host ends of the veth pairs.
const vethPrefix = "veth"

type driver struct{}

// New returns the bridge driver.
func New() netdrv.Driver { return driver{} }

var _ netdrv.Driver = driver{}

// BridgeName is the name of n's bridge: its bridge-name option, else "br-"
// and the start of its id, as docker names them.
func BridgeName(n netdrv.Network) string {
	if name := n.Options[netdrv.OptionBridgeName]; name != "" {
		return name
	}
	return "br-" + n.ID[:12]
}

// Setup implements netdrv.Driver: it creates the bridge, or adopts an
// existing one of that name, gives it the gateway's address (an internal
// network has none) and sets it up.
func (driver) Setup(ctx context.Context, n netdrv.Network) error {
	name := BridgeName(n)
	if err := netdrv.CheckIfName(name); err != nil {
		return fmt.Errorf("network %s: bridge name: %w", n.Name, err)
	}
	mtu, err := netdrv.MTU(n)
	if err != nil {
		return err
	}
	link, err := netlink.LinkByName(name)
	switch {
	case netdrv.IsNotFound(err):
		// A new bridge must not take addresses the host routes
		// elsewhere (a VPN, another engine's bridge): its route would
		// shadow theirs. A bridge that exists is the network's own.
		if err := checkRoutes(n); err != nil {
			return err
		}
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, MTU: mtu}}
		if err := netlink.LinkAdd(br); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("network %s: creating bridge %s: %w", n.Name, name, err)
		}
		if link, err = netlink.LinkByName(name); err != nil {
			return fmt.Errorf("network %s: bridge %s: %w", n.Name, name, err)
		}
	case err != nil:
		return fmt.Errorf("network %s: bridge %s: %w", n.Name, name, err)
	case link.Type() != "bridge":
		return errdefs.AlreadyExists("network %s: interface %s exists and is a %s, not a bridge", n.Name, name, link.Type())
	}
	if n.Gateway.IsValid() && !n.Internal {
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: n.Gateway.AsSlice(), Mask: net.CIDRMask(n.Subnet.Bits(), 32)}}
		if err := netlink.AddrReplace(link, addr); err != nil {
			return fmt.Errorf("network %s: address %s on %s: %w", n.Name, n.Gateway, name, err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("network %s: bridge %s up: %w", n.Name, name, err)
	}
	return nil
}

// checkRoutes fails with an already-exists error naming the route when a
// route of the host overlaps n's subnet.
func checkRoutes(n netdrv.Network) error {
	if !n.Subnet.IsValid() || n.Internal {
		return nil
	}
	routes, err := netdrv.HostRoutes()
	if err != nil {
		return fmt.Errorf("network %s: %w", n.Name, err)
	}
	for _, r := range routes {
		if r.Overlaps(n.Subnet) {
			return errdefs.AlreadyExists("network %s: subnet %s overlaps the host's route to %s; choose another subnet", n.Name, n.Subnet, r)
		}
	}
	return nil
}

// Teardown implements netdrv.Driver: it deletes the bridge.
func (driver) Teardown(ctx context.Context, n netdrv.Network) error {
	h, err := netlink.NewHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	if err := netdrv.DeleteLink(h, BridgeName(n)); err != nil {
		return fmt.Errorf("network %s: %w", n.Name, err)
	}
	return nil
}

// Join implements netdrv.Driver: a veth pair whose host end is on the
// bridge and whose other end is made in ns under ep.IfName.
func (driver) Join(ctx context.Context, n netdrv.Network, ep netdrv.Endpoint, ns netdrv.Namespace) error {
	br, err := netlink.LinkByName(BridgeName(n))
	if err != nil {
		return fmt.Errorf("network %s: bridge %s: %w", n.Name, BridgeName(n), err)
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
	host := netdrv.HostIfName(vethPrefix, ep.ContainerID, n.ID)
	veth := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: host, MTU: mtu, MasterIndex: br.Attrs().Index},
		PeerName:         ep.IfName,
		PeerHardwareAddr: ep.MAC,
		PeerNamespace:    netlink.NsFd(fd),
		PeerMTU:          uint32(mtu),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		if !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("network %s: veth %s: %w", n.Name, host, err)
		}
		// Left by a start that failed half way: start again.
		if derr := deleteHost(host); derr != nil {
			return derr
		}
		if err := netlink.LinkAdd(veth); err != nil {
			return fmt.Errorf("network %s: veth %s: %w", n.Name, host, err)
		}
	}
	fail := func(err error) error {
		_ = deleteHost(host)
		return err
	}
	link, err := netlink.LinkByName(host)
	if err == nil {
		err = netlink.LinkSetUp(link)
	}
	if err != nil {
		return fail(fmt.Errorf("network %s: veth %s up: %w", n.Name, host, err))
	}
	if err := netdrv.ConfigureInterface(ns, n, ep); err != nil {
		return fail(err)
	}
	return nil
}

// Leave implements netdrv.Driver: deleting the host end deletes the pair.
func (driver) Leave(ctx context.Context, n netdrv.Network, ep netdrv.Endpoint, ns netdrv.Namespace) error {
	return deleteHost(netdrv.HostIfName(vethPrefix, ep.ContainerID, n.ID))
}

func deleteHost(name string) error {
	h, err := netlink.NewHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	return netdrv.DeleteLink(h, name)
}
