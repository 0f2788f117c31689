package tree

import (
	"errors"
	"testing"
	"time"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/engine"
	"github.com/enginefs/enginefs/errdefs"
)

func TestUpdateFromVerb(t *testing.T) {
	v, err := verbs.Container.Parse("update memory=64m memory-swap=-1 cpus=1.5 pids-limit=-1 restart=on-failure:3 cpuset-cpus=0")
	if err != nil {
		t.Fatal(err)
	}
	u, err := updateFromVerb(v.(verbs.ContainerUpdate))
	if err != nil {
		t.Fatal(err)
	}
	if u.Memory != 64<<20 || u.MemorySwap != -1 || u.NanoCPUs != 1.5e9 || u.PidsLimit == nil || *u.PidsLimit != -1 ||
		u.CpusetCpus != "0" || u.RestartPolicy == nil || *u.RestartPolicy != (engine.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}) {
		t.Errorf("update = %+v (restart %+v)", u, u.RestartPolicy)
	}
	for _, line := range []string{"update memory=lots", "update cpus=x", "update pids-limit=1.5"} {
		v, err := verbs.Container.Parse(line)
		if err == nil {
			_, err = updateFromVerb(v.(verbs.ContainerUpdate))
		}
		if !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("%s: %v, want invalid", line, err)
		}
	}
}

func TestPruneFilter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	old := engine.Record{Created: now.Add(-48 * time.Hour), Config: engine.Config{Labels: map[string]string{"keep": "1"}}}
	young := engine.Record{Created: now.Add(-time.Hour)}
	for _, tc := range []struct {
		v          verbs.ContainerPrune
		old, young bool
	}{
		{verbs.ContainerPrune{}, true, true},
		{verbs.ContainerPrune{Until: "24h"}, true, false},
		{verbs.ContainerPrune{Until: "2026-01-01T00:00:00Z"}, true, false},
		{verbs.ContainerPrune{Until: "1767323045"}, true, true},
		{verbs.ContainerPrune{Label: []string{"keep"}}, true, false},
		{verbs.ContainerPrune{Label: []string{"keep=2"}}, false, false},
		{verbs.ContainerPrune{LabelNot: []string{"keep"}}, false, true},
	} {
		match, err := pruneFilter(tc.v, now)
		if err != nil {
			t.Fatalf("%+v: %v", tc.v, err)
		}
		if match(old) != tc.old || match(young) != tc.young {
			t.Errorf("%+v: old %v young %v, want %v %v", tc.v, match(old), match(young), tc.old, tc.young)
		}
	}
	if _, err := pruneFilter(verbs.ContainerPrune{Until: "soon"}, now); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("until=soon: %v, want invalid", err)
	}
}
