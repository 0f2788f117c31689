package fs

import (
	"hash/fnv"
	"path"
)

// PathID returns the number transports give the node at name (a
// slash-separated path from the root; "" and "/" are the root): its inode
// number over FUSE and its QID path over 9P. It depends on the path alone, so
// a name keeps its number across lookups, daemon restarts and transports.
// It is never 0, 1 or all ones, which FUSE reserves.
func PathID(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(path.Clean("/" + name)))
	id := h.Sum64()
	if id <= 1 || id == ^uint64(0) {
		id ^= 0x5a5a5a5a5a5a5a5a
	}
	return id
}
