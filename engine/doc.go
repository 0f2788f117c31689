// Package engine owns the containers of enginefs: their persistent state,
// their lifecycle (create, start, exec, stop, remove), the images they run
// (through the image store) and the event stream. It calls the keeper, which
// runs the containers' processes, and the image store. Networks and volumes
// are nouns of their own (packages engine/network and engine/volume): the
// engine reaches them through the small role interfaces Networks and
// Volumes, and they reach the containers only through the narrow callbacks
// the engine opens them with. The tree in package tree presents an Engine
// and the network and volume managers as files; nothing here knows about a
// transport.
//
// Entry points: New opens the state directory and recovers what a previous
// daemon left, with the networks and volumes cmd/enginefs built
// (WithNetworks, WithVolumes); Create, Start, Stop, Kill and Remove drive
// containers; Container.Wait waits for a run to end; OpenOutput reads
// their output; RunBuild, CommitContainer and MountImage serve the builder;
// PullImage, LoadImage and Images reach the image store.
//
// State is one bbolt database (state/engine.db) holding a JSON record per
// container, written in a transaction (fsync'd) at every change of state, so a
// daemon killed at any point restarts with every accepted container. Networks
// and volumes have a bucket each, which their managers keep through the store
// New opens them with; a container's addresses and mounts are in its own
// record, so which addresses are taken and which volumes are in use is
// derived from the container records, never kept twice.
//
// # Locks
//
// The engine, its networks and its volumes share one lock order. A
// goroutine that holds a lock of this list takes only locks further down
// it; the leaves at the end are held briefly and nothing of the list is
// taken under them.
//
//  1. volume.Manager's use lock (a RWMutex). For reading by a container
//     being made, from Volumes.Use until its record is saved (Configure,
//     SetConfig), so that none of its volumes goes meanwhile; for writing
//     by the removal of volumes (Remove, Prune, RemoveMade,
//     RemoveAnonymous), which asks the engine for their users
//     (volume.Users: 3 and 5).
//  2. network.Manager's mu (a RWMutex). For reading by a container being
//     made, from Networks.Attach until the attachment is committed or
//     aborted (taken after 1; 5 is taken and the record saved under it);
//     by Connect and Disconnect, across network.Containers.Update (5); by
//     a starting container joining its networks (Up), by the embedded DNS's
//     resolver and by lookups. For writing by the creation and removal of
//     networks, which ask the engine for the containers attached
//     (network.Containers.List: 3 and 5).
//  3. Engine.mu: the containers and their names. It is held alone, never
//     with 4 or 5.
//  4. Exec.mu: an exec's state; its container's record is read under it.
//  5. Container.mu: a container's record and state. The record is saved
//     (bbolt), its events recorded, and a connect's hotplug runs under it
//     (the network manager's sandboxes lock, the DNS server's, the
//     drivers').
//  6. The leaves: volume.Manager's mu (its records, the volumes being made)
//     and each volume's fill lock (held alone, while a new volume is filled
//     from its image); network.Manager's sandboxes lock and its address
//     pools (netdrv/ipam); the embedded DNS server's lock; the event log's
//     and the transfers' locks; the network and volume drivers', the
//     firewall's, the keeper client's and bbolt's own.
//
// So the engine calls the managers holding no lock of its own, but for the
// Use and Attach of a create (1, then 2, then 5); the managers call back
// into the engine (volume.Users, network.Containers) holding nothing but
// their 1 or 2, and record events (volume.Emit, network.Emit), which takes
// the event log's lock only; neither manager calls the other.
package engine
