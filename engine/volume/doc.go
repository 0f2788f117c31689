// Package volume holds a daemon's volumes: their records (the "volumes"
// bucket of the engine's state, one JSON record per volume), the drivers
// that make their data exist (voldrv/local, and Docker volume plugins
// through voldrv/plugin), and the mounts of a starting container, volumes,
// binds and tmpfs alike. Which containers use a volume is in the
// containers' records, never kept here: a Manager asks the engine through
// the Users callback it is opened with.
//
// cmd/enginefs builds a Manager with its drivers (New, WithPlugins) and
// hands it to the engine (engine.WithVolumes), which opens it with its
// state, its Users and its events (Open) before anything else uses it.
//
// Entry points: New; Open; Create, Remove, Prune, List, Get, Path, Size and
// Users for /volumes; Ensure, Use, RemoveMade and RemoveAnonymous for the
// containers being made and removed; Mount, Unmount and Restore for the
// containers that run.
//
// Locks: a Manager's use lock comes first in the daemon's lock order, and
// its other locks last; the order is written in package engine's doc.
package volume
