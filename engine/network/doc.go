// Package network holds a daemon's networks: their records (the "networks"
// bucket of the engine's state, one JSON record per network), their address
// pools (netdrv/ipam), their drivers (netdrv/bridge, netdrv/macvlan) and
// firewall rules (netdrv/firewall), the embedded DNS (netdrv/dns), the
// containers' endpoints on them, and the network side of a running
// container: its namespace, its /etc/hosts and /etc/resolv.conf, and the
// userland proxies of its published ports.
//
// A container's endpoints are in the container's record, never kept here:
// a Manager reaches the containers through the Containers interface the
// engine opens it with (what it sees of a container is a Container, a copy),
// and changes a container's endpoints only through Containers.Update, under
// the container's lock.
//
// cmd/enginefs builds a Manager with its drivers and firewall (New; the
// embedded DNS is made there too) and hands it to the engine
// (engine.WithNetworks), which opens it with its state, its containers and
// its events (Open), takes back what runs (Restore) and closes it (Close).
// A daemon without networking has Disabled, whose containers are "none" or
// "host".
//
// Entry points: New, Disabled; Create, Remove, Prune, List, Get, Attached,
// Connect and Disconnect for /networks; Attach and Detach for the
// containers being made and removed; Up and Down for those that run.
//
// Locks: a Manager's mu comes second in the daemon's lock order, after the
// volumes' use lock, and its other locks last; the order is written in
// package engine's doc.
package network
