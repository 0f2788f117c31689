package netdrv

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/enginefs/enginefs/errdefs"
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
// there is not an error, an empty name is (errdefs.ErrInvalid: it names
// no link, and deleting nothing would report success for a link left).
func DeleteLink(h *netlink.Handle, name string) error {
	if name == "" {
		return errdefs.Invalid("deleting a link: no link name")
	}
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

// IfNameByMAC returns the name of the interface of ns whose hardware
// address is mac (an endpoint's: netdrv.MACFor its address), or an
// errdefs.ErrNotFound error.
func IfNameByMAC(ns Namespace, mac net.HardwareAddr) (string, error) {
	links, err := linksOf(ns)
	if err != nil {
		return "", err
	}
	for _, l := range links {
		if bytes.Equal(l.Attrs().HardwareAddr, mac) {
			return l.Attrs().Name, nil
		}
	}
	return "", errdefs.NotFound("no interface with address %s in %s", mac, ns)
}

// FreeIfName returns the first ethN no interface of ns is named.
func FreeIfName(ns Namespace) (string, error) {
	links, err := linksOf(ns)
	if err != nil {
		return "", err
	}
	for i := 0; ; i++ {
		name := fmt.Sprintf("eth%d", i)
		if !slices.ContainsFunc(links, func(l netlink.Link) bool { return l.Attrs().Name == name }) {
			return name, nil
		}
	}
}

// linksOf lists the interfaces of ns.
func linksOf(ns Namespace) ([]netlink.Link, error) {
	h, err := ns.Handle()
	if err != nil {
		return nil, err
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("listing the links of %s: %w", ns, err)
	}
	return links, nil
}

// IsNotFound reports whether a netlink error says the link is not there.
func IsNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV)
}
