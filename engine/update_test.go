package engine

import (
	"errors"
	"strings"
	"testing"

	"github.com/enginefs/enginefs/errdefs"
)

func TestUpdateApply(t *testing.T) {
	i64 := func(n int64) *int64 { return &n }
	for _, tc := range []struct {
		name string
		old  Resources
		u    Update
		want Resources
		err  string
	}{
		{"memory with swap", Resources{}, Update{Resources: Resources{Memory: 64 << 20, MemorySwap: 128 << 20}},
			Resources{Memory: 64 << 20, MemorySwap: 128 << 20}, ""},
		{"memory alone, no limit before", Resources{}, Update{Resources: Resources{Memory: 64 << 20}},
			Resources{}, "Memory limit should be smaller than already set memoryswap limit"},
		{"memory below the default swap", Resources{Memory: 64 << 20}, Update{Resources: Resources{Memory: 100 << 20}},
			Resources{Memory: 100 << 20, MemorySwap: 128 << 20}, ""},
		{"cpus after quota", Resources{CPUQuota: 50000}, Update{Resources: Resources{NanoCPUs: 1e9}},
			Resources{}, "Nano CPUs cannot be updated as CPU Quota has already been set"},
		{"quota after cpus", Resources{NanoCPUs: 1e9}, Update{Resources: Resources{CPUQuota: 50000}},
			Resources{}, "CPU Quota cannot be updated as NanoCPUs has already been set"},
		{"pids and shares kept", Resources{CPUShares: 512, PidsLimit: i64(10)}, Update{Resources: Resources{CpusetCpus: "0"}},
			Resources{CPUShares: 512, PidsLimit: i64(10), CpusetCpus: "0"}, ""},
		{"pids lifted", Resources{PidsLimit: i64(10)}, Update{Resources: Resources{PidsLimit: i64(-1)}},
			Resources{PidsLimit: i64(-1)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Resources: tc.old}
			err := tc.u.apply(&cfg)
			if tc.err != "" {
				if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("apply = %v, want invalid %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, want := cfg.Resources, tc.want
			if (got.PidsLimit == nil) != (want.PidsLimit == nil) || (got.PidsLimit != nil && *got.PidsLimit != *want.PidsLimit) {
				t.Errorf("PidsLimit = %v, want %v", got.PidsLimit, want.PidsLimit)
			}
			got.PidsLimit, want.PidsLimit = nil, nil
			if got != want {
				t.Errorf("resources = %+v, want %+v", got, want)
			}
		})
	}
	cfg := Config{}
	if err := (Update{RestartPolicy: &RestartPolicy{Name: "always"}}).apply(&cfg); err != nil || cfg.RestartPolicy.Name != "always" {
		t.Errorf("restart policy: %v %+v", err, cfg.RestartPolicy)
	}
}
