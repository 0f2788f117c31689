package main

import (
	"encoding/csv"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/errdefs"
)

// FuzzVolumeFlags: what dctl does to a -v and a --mount value before it
// sends it (a source that starts with "." made absolute) changes nothing
// else: a value the daemon reads as it is reads the same after, unless
// its source starts with "."; and such a source becomes an absolute one.
func FuzzVolumeFlags(f *testing.F) {
	for _, s := range []string{
		"/host:/ctr:ro,z", "vol:/data", "./rel:/ctr", "../up:/c:ro", ".:/c", "/data", ".hidden",
		"type=bind,src=/a,dst=/b,readonly", "type=bind,src=./a,dst=/b", " SRC = ./a ,dst=/b", `"src=./a,b",dst=/b,type=bind`,
		"type=bind,src=./a,dst=/b\ntype=bind,src=./c,dst=/d", `src=".",dst=/x`, "type=tmpfs,dst=/t,tmpfs-mode=1777",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		av := absVolume(v)
		b, err := verbs.ParseBind(v)
		if err == nil && av != v {
			t.Fatalf("absVolume(%q) = %q, a value the daemon reads as %+v", v, av, b)
		}
		if src, _, ok := strings.Cut(v, ":"); ok && strings.HasPrefix(src, ".") {
			if asrc, _, _ := strings.Cut(av, ":"); !filepath.IsAbs(asrc) || strings.Contains(asrc, ":") {
				t.Fatalf("absVolume(%q) = %q: source not absolute", v, av)
			}
		}

		am := absMount(v)
		m, err := verbs.ParseMount(v)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Fatalf("ParseMount(%q): %v", v, err)
			}
			// Only the source may change: a value of more than one line
			// (refused) must not lose its other lines on the way.
			if am != v {
				if recs, err := csv.NewReader(strings.NewReader(v)).ReadAll(); err != nil || len(recs) != 1 {
					t.Fatalf("absMount(%q) = %q, of a value that is not one CSV line", v, am)
				}
			}
			return
		}
		got, err := verbs.ParseMount(am)
		if err != nil {
			t.Fatalf("ParseMount(%q) = %+v, but ParseMount(absMount) = ParseMount(%q): %v", v, m, am, err)
		}
		if !strings.HasPrefix(m.Source, ".") && !reflect.DeepEqual(got, m) {
			t.Fatalf("ParseMount(%q) = %+v, but ParseMount(absMount) = ParseMount(%q) = %+v", v, m, am, got)
		}
	})
}

// TestAbsMountOneLine: a --mount value of two lines goes to the daemon
// whole, for its error, not cut to its first line (FuzzVolumeFlags).
func TestAbsMountOneLine(t *testing.T) {
	v := "type=bind,src=./a,dst=/b\ntype=bind,src=/c,dst=/d"
	if got := absMount(v); got != v {
		t.Errorf("absMount(%q) = %q", v, got)
	}
	if got := absMount("type=bind,src=./a,dst=/b"); !strings.Contains(got, "src=/") {
		t.Errorf("absMount of ./a = %q", got)
	}
}
