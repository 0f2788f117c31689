//go:build linux

package oci_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/cgroups/v3"

	"github.com/enginefs/enginefs/internal/testenv"
	"github.com/enginefs/enginefs/runtime/oci"
)

// TestProbe runs the start-up probe with runc, which works here, and with
// crun, which refuses hybrid cgroup hosts: the probe must say so.
func TestProbe(t *testing.T) {
	for _, bin := range []string{"runc", "crun"} {
		t.Run(bin, func(t *testing.T) {
			testenv.NeedBinary(t, bin, bin)
			r, err := oci.New(bin, oci.WithRoot(filepath.Join(t.TempDir(), "state")))
			if err != nil {
				t.Fatal(err)
			}
			err = r.Probe(context.Background())
			if bin == "crun" && cgroups.Mode() == cgroups.Hybrid {
				if err == nil || !strings.Contains(err.Error(), "hybrid") {
					t.Errorf("crun on a hybrid cgroup host: probe = %v, want crun's refusal", err)
				}
				return
			}
			if err != nil {
				t.Errorf("probe: %v", err)
			}
		})
	}
}
