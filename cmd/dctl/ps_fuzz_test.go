package main

import (
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
)

// FuzzPsFilter: any containers/list and any --filter flags: ps never
// panics, a filter only ever removes containers (what it shows is among
// what ps -a shows, in the same order), and every row prints through the
// default table.
func FuzzPsFilter(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	f.Add(fidelityList(now), "name=web\nstatus=running")
	f.Add(fidelityList(now), "before=web\nsince=old\nlabel=tier")
	f.Add(fidelityList(now), "publish=80/tcp\nexpose=53/udp\nvolume=html\nnetwork=app")
	f.Add(`[{"Id":"x","Names":null,"State":"exited"}]`, "ancestor=\nid=\nexited=0")
	f.Fuzz(func(t *testing.T, list, flags string) {
		var entries []listEntry
		if json.Unmarshal([]byte(list), &entries) != nil {
			return
		}
		fl, err := parseFilters(strings.Split(flags, "\n"))
		if err != nil || fl.Validate(psFilters) != nil {
			return
		}
		every, err := psSelect(entries, filters.NewArgs(), true, -1)
		if err != nil {
			t.Fatalf("no filters: %v", err)
		}
		got, err := psSelect(entries, fl, true, -1)
		if err != nil {
			return // before= or since= naming no container
		}
		i := 0
		for _, g := range got {
			for i < len(every) && every[i].ID != g.ID {
				i++
			}
			if i == len(every) {
				t.Fatalf("filters %q showed %q, not among ps -a's, or out of order", flags, g.ID)
			}
			i++
		}
		form, err := parseFormat("", defaultPsFormat)
		if err != nil {
			t.Fatal(err)
		}
		rows := make([]any, len(got))
		for i, g := range got {
			rows[i] = &psRow{c: g.Summary, trunc: true}
		}
		if err := form.write(io.Discard, psHeader, rows); err != nil {
			t.Fatalf("default table: %v", err)
		}
	})
}
