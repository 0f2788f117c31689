// Package ids makes and shortens the engine's object ids, as docker does:
// 64 hex digits of randomness, shown by their first 12.
package ids

import (
	"crypto/rand"
	"encoding/hex"
)

// New returns a new random id of 64 hex digits.
func New() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b[:])
}

// Short returns the first 12 characters of an id, as docker shows it.
func Short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
