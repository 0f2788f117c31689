//go:build linux

package builtin

import (
	"crypto/sha256"
	"encoding/json"
	"sync"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/enginefs/enginefs/runtime/builtin/nsinit"
	"github.com/enginefs/enginefs/runtime/seccomp"
)

// compiled caches filters by their spec: most containers share docker's
// default profile for one capability set, and compiling it takes longer
// than looking it up.
var compiled = struct {
	sync.Mutex
	m map[[32]byte]*nsinit.Seccomp
}{m: map[[32]byte]*nsinit.Seccomp{}}

// maxCompiled bounds the cache; past it, it starts over.
const maxCompiled = 64

// compileSeccomp turns the spec's filter into the child's (nil for none).
func compileSeccomp(s *specs.LinuxSeccomp) (*nsinit.Seccomp, error) {
	if s == nil {
		return nil, nil
	}
	key, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(key)
	compiled.Lock()
	c, ok := compiled.m[sum]
	compiled.Unlock()
	if ok {
		return c, nil
	}
	p, err := seccomp.Compile(s)
	if err != nil {
		return nil, err
	}
	size := int(unsafe.Sizeof(unix.SockFilter{}))
	c = &nsinit.Seccomp{Flags: p.Flags, Filter: make([]byte, len(p.Filter)*size)}
	copy(c.Filter, unsafe.Slice((*byte)(unsafe.Pointer(&p.Filter[0])), len(c.Filter)))
	compiled.Lock()
	if len(compiled.m) >= maxCompiled {
		clear(compiled.m)
	}
	compiled.m[sum] = c
	compiled.Unlock()
	return c, nil
}
