// Package engine owns the objects of enginefs (containers and the images they
// run), their persistent state and their lifecycle. It calls the drivers
// (runtime, imagestore); they never call back up. The tree in package tree
// presents an Engine as files; nothing here knows about a transport.
//
// Entry points: New opens the state directory and recovers what a previous
// daemon left; Create, Start, Stop, Kill and Remove drive containers; Wait
// waits for a run to end; LoadImage and Images reach the image store.
//
// State is one bbolt database (state/engine.db) holding a JSON record per
// container, written in a transaction (fsync'd) at every change of state, so a
// daemon killed at any point restarts with every accepted container.
package engine
