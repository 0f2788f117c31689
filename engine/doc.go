// Package engine owns the objects of enginefs (containers, the images they
// run, networks and volumes), their persistent state and their lifecycle.
// It calls the drivers (runtime, imagestore, netdrv, voldrv); they never
// call back up. The tree in package tree
// presents an Engine as files; nothing here knows about a transport.
//
// Entry points: New opens the state directory and recovers what a previous
// daemon left; Create, Start, Stop, Kill and Remove drive containers; Wait
// waits for a run to end; LoadImage and Images reach the image store.
//
// State is one bbolt database (state/engine.db) holding a JSON record per
// container, written in a transaction (fsync'd) at every change of state, so a
// daemon killed at any point restarts with every accepted container. Networks
// and volumes have a bucket each; a container's addresses and mounts are in
// its own record, so which addresses are taken and which volumes are in use
// is derived from the container records, never kept twice.
//
// Networks and volumes are packages of their own (engine/network,
// engine/volume), built by cmd/enginefs and reached through the Networks
// and Volumes role interfaces (WithNetworks, networks.go; WithVolumes,
// volumes.go); the Networking and Storage parts of a Config say how a
// container is networked and what it mounts (ports.go, volume_mounts.go).
package engine
