// Package version holds the version of enginefs, shared by the daemon (its
// /version file) and dctl, without pulling the engine into the client.
package version

// Version is the release of enginefs.
const Version = "0.1.0"
