//go:build linux

package builtin

import (
	"testing"

	"github.com/enginefs/enginefs/runtime"
	"github.com/enginefs/enginefs/runtime/runtimetest"
)

// TestConformance runs the runtime conformance suite, the one runc passes
// through runtime/oci, with the built-in runtime and each of its child
// binaries: the test binary (TestMain calls IsInit and Init) and
// cmd/enginefs-init. The suite makes the test process a child subreaper
// itself.
func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts func(t *testing.T) []Option
	}{
		{"init=self", func(*testing.T) []Option { return nil }},
		{"init=enginefs-init", func(t *testing.T) []Option { return []Option{WithBinary(tinyInit(t))} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runtimetest.Run(t, func(t *testing.T) runtime.Runtime {
				r, err := New(tc.opts(t)...)
				if err != nil {
					t.Fatalf("builtin.New: %v", err)
				}
				return r
			})
		})
	}
}
