//go:build linux

package builtin

import (
	"testing"

	"github.com/enginefs/enginefs/runtime"
	"github.com/enginefs/enginefs/runtime/runtimetest"
)

// TestConformance runs the runtime conformance suite, the one runc passes
// through runtime/oci, with the built-in runtime. The test binary is the
// containers' init (TestMain calls IsInit and Init); the suite makes the
// test process a child subreaper itself.
func TestConformance(t *testing.T) {
	runtimetest.Run(t, func(t *testing.T) runtime.Runtime {
		r, err := New()
		if err != nil {
			t.Fatalf("builtin.New: %v", err)
		}
		return r
	})
}
