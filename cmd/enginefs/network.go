package main

import (
	"fmt"
	"log"
	"net/netip"
	"path/filepath"

	flag "github.com/spf13/pflag"

	"github.com/enginefs/enginefs/engine/network"
	"github.com/enginefs/enginefs/netdrv"
	"github.com/enginefs/enginefs/netdrv/bridge"
	"github.com/enginefs/enginefs/netdrv/firewall"
	"github.com/enginefs/enginefs/netdrv/ipam"
	"github.com/enginefs/enginefs/netdrv/macvlan"
)

// netFlags are the networking flags.
type netFlags struct {
	bridgeName, bridgeSubnet, pool, defaultNet, publishIP *string
	dns                                                   *[]string
	firewall                                              *bool
}

// Defaults: a subnet docker (172.17-28/16 by default) and podman
// (10.88/16) do not use.
func networkFlags() netFlags {
	return netFlags{
		bridgeName:   flag.String("bridge-name", "efs0", "the Linux bridge of the default network \"bridge\""),
		bridgeSubnet: flag.String("bridge-subnet", "172.30.0.0/16", "the subnet of the default network \"bridge\""),
		pool:         flag.String("network-pool", "172.29.0.0/16", "where networks created without a subnet get a /24"),
		defaultNet:   flag.String("default-network", "bridge", "the network of containers that name none (bridge, none, or a network)"),
		publishIP:    flag.String("ip", "0.0.0.0", "the host address of published ports that name none"),
		firewall:     flag.Bool("firewall", true, "keep the bridge networks' nftables rules (isolation, masquerade), as dockerd's --iptables; false makes none"),
		dns:          flag.StringArray("dns-forward", nil, "a resolver the embedded DNS forwards other names to (ADDR[:PORT]); repeatable; default the host's resolv.conf nameservers; \"none\" forwards nothing"),
	}
}

// config checks the flags and builds the daemon's networking.
func (f netFlags) config(runDir string) (network.Config, error) {
	cfg := network.Config{
		Drivers:        map[string]netdrv.Driver{bridge.Name: bridge.New(), macvlan.Name: macvlan.New()},
		NamespaceDir:   filepath.Join(runDir, "netns"),
		BridgeName:     *f.bridgeName,
		DefaultNetwork: *f.defaultNet,
	}
	if err := netdrv.CheckIfName(cfg.BridgeName); err != nil {
		return cfg, fmt.Errorf("--bridge-name: %w", err)
	}
	var err error
	if cfg.BridgeSubnet, err = ipam.ParseSubnet(*f.bridgeSubnet); err != nil {
		return cfg, fmt.Errorf("--bridge-subnet: %w", err)
	}
	if cfg.AddressPool, err = ipam.ParseSubnet(*f.pool); err != nil || cfg.AddressPool.Bits() > 24 {
		return cfg, fmt.Errorf("--network-pool %q: want an IPv4 subnet of /24 or larger", *f.pool)
	}
	if cfg.PublishIP, err = netip.ParseAddr(*f.publishIP); err != nil || !cfg.PublishIP.Is4() {
		return cfg, fmt.Errorf("--ip %q: want an IPv4 address", *f.publishIP)
	}
	if len(*f.dns) == 0 {
		cfg.DNSForwarders = network.HostResolvers()
	}
	for _, a := range *f.dns {
		if a != "none" { // "none" alone forwards nothing; with others it adds nothing
			cfg.DNSForwarders = append(cfg.DNSForwarders, a)
		}
	}
	// The daemon's nftables table, named after its run directory so that
	// daemons side by side keep apart. As dockerd without iptables, a
	// daemon that cannot make its rules does not start unless told to go
	// without them: its networks would be unisolated and not masqueraded.
	if !*f.firewall {
		log.Printf("--firewall=false: networks are not isolated from each other and containers are not masqueraded")
		return cfg, nil
	}
	fw, err := firewall.New(firewall.TableName(runDir))
	if err != nil {
		return cfg, fmt.Errorf("%w (--firewall=false starts without network isolation)", err)
	}
	cfg.Firewall = fw
	return cfg, nil
}
