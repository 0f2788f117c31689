package netdrv

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ConfigureInterface finishes an endpoint whose interface a driver made in
// ns under ep.IfName: it gives it ep's address, sets it up and, with
// ep.DefaultRoute and a gateway, adds the default route. Drivers share it.
func ConfigureInterface(ns Namespace, n Network, ep Endpoint) error {
	h, err := ns.Handle()
	if err != nil {
		return err
	}
	defer h.Close()
	link, err := h.LinkByName(ep.IfName)
	if err != nil {
		return fmt.Errorf("endpoint %s in %s: %w", ep.IfName, ns, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: ep.Address.Addr().AsSlice(), Mask: net.CIDRMask(ep.Address.Bits(), 32)}}
	if err := h.AddrReplace(link, addr); err != nil {
		return fmt.Errorf("endpoint %s: address %s: %w", ep.IfName, ep.Address, err)
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("endpoint %s: up: %w", ep.IfName, err)
	}
	if ep.DefaultRoute && n.Gateway.IsValid() && !n.Internal {
		r := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: n.Gateway.AsSlice(), Scope: netlink.SCOPE_UNIVERSE}
		if err := h.RouteReplace(r); err != nil {
			return fmt.Errorf("endpoint %s: default route via %s: %w", ep.IfName, n.Gateway, err)
		}
	}
	return nil
}

// DeleteLink deletes the link named name through h; a link that is not
// there is not an error.
func DeleteLink(h *netlink.Handle, name string) error {
	link, err := h.LinkByName(name)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := h.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("deleting %s: %w", name, err)
	}
	return nil
}

// IsNotFound reports whether a netlink error says the link is not there.
func IsNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV)
}
