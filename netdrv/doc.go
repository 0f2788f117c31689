// Package netdrv holds what the engine needs to give containers networks:
// the concept types ([Network], [Endpoint]), the [Driver] interface that
// network drivers implement (netdrv/bridge, netdrv/macvlan), and the network
// namespaces containers join ([Namespace]). Everything talks to the kernel
// over netlink (github.com/vishvananda/netlink); nothing runs `ip`.
//
// The engine owns the networks, their records and the containers' addresses
// (netdrv/ipam allocates them); it calls a driver to make the kernel side
// real. A driver never calls back up and keeps no state of its own: given the
// same Network it finds what it made before (a bridge left by a daemon that
// was killed) and adopts it, which is what makes live restore work.
//
// The network modes without a driver are the engine's: "host" (no network
// namespace of its own) and "none" (a fresh namespace with only lo, made by
// the runtime).
//
// Entry points: [CreateNamespace] and [DeleteNamespace] for the namespace
// file of a container; a Driver's Setup, Join, Leave and Teardown; netdrv/dns
// serves the embedded DNS of user-defined networks inside each namespace.
package netdrv

import (
	"context"
	"net"
	"net/netip"
)

// Network is what a driver is told about a network. It is a value the
// engine builds from its record; a driver must not keep it.
type Network struct {
	ID     string // 64 hex digits
	Name   string
	Driver string // "bridge", "macvlan"
	// Subnet holds the containers' addresses; Gateway is inside it (the
	// bridge's own address, or the router of a macvlan parent's link).
	// An internal network has no gateway (the zero Addr).
	Subnet   netip.Prefix
	Gateway  netip.Addr
	Internal bool
	// Options are the driver's options, under docker's names where docker
	// has one: "com.docker.network.bridge.name", "parent",
	// "com.docker.network.driver.mtu".
	Options map[string]string
}

// Option names a driver understands (docker's).
const (
	OptionBridgeName  = "com.docker.network.bridge.name"
	OptionMTU         = "com.docker.network.driver.mtu"
	OptionParent      = "parent"
	OptionMacvlanMode = "macvlan_mode"
)

// Endpoint is one container's attachment to a network: an interface in the
// container's namespace.
type Endpoint struct {
	ContainerID string
	// IfName is the interface's name inside the namespace (eth0, eth1...).
	IfName  string
	Address netip.Prefix // the container's address, with the subnet's length
	MAC     net.HardwareAddr
	// DefaultRoute says this endpoint carries the container's default
	// route (via the network's gateway, when it has one).
	DefaultRoute bool
}

// Driver makes networks real in the kernel. Every method is idempotent where
// it can be (Setup adopts an existing bridge, Leave and Teardown of what is
// not there succeed), so that the engine can replay them after a crash.
// Methods may be called concurrently for different networks and endpoints.
type Driver interface {
	// Setup makes the host side of n exist (a bridge with the gateway's
	// address). Errors: errdefs.ErrInvalid for bad options,
	// errdefs.ErrNotFound for a missing parent interface.
	Setup(ctx context.Context, n Network) error
	// Teardown removes the host side of n. The engine calls it when no
	// endpoint is left.
	Teardown(ctx context.Context, n Network) error
	// Join creates ep's interface in the namespace ns, with its address,
	// MAC, link up and (with DefaultRoute) the default route.
	Join(ctx context.Context, n Network, ep Endpoint, ns Namespace) error
	// Leave removes ep's interface (and its host side) from ns.
	Leave(ctx context.Context, n Network, ep Endpoint, ns Namespace) error
}

// Firewall keeps the host's packet filtering and address translation for
// the networks: isolation between networks, internal networks kept to
// their bridge, masquerade of what leaves the host (netdrv/firewall, over
// nftables). It keeps no state of its own either: the engine hands it every
// network at each change, and at daemon start.
type Firewall interface {
	// Sync makes the rules those of nets, replacing what they were;
	// networks whose driver the firewall does not handle are left out.
	Sync(ctx context.Context, nets []Network) error
	// Remove deletes every rule (the daemon stops and no network is in
	// use).
	Remove(ctx context.Context) error
}
