package idmap

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/enginefs/enginefs/errdefs"
)

func write(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "subid")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestResolve: a user's ranges, by name or uid, laid end to end from
// container id 0; the other users' lines are not its own.
func TestResolve(t *testing.T) {
	f := write(t, "# comment\nnobody:300000:10\nroot:200000:65536\n0:400000:1000\n")
	r, err := Resolve("root", Files{SubUID: f, SubGID: f})
	if err != nil {
		t.Fatal(err)
	}
	want := []Range{{0, 200000, 65536}, {65536, 400000, 1000}}
	if !reflect.DeepEqual(r.UIDs, want) || !reflect.DeepEqual(r.GIDs, want) || r.User != "root" || r.Group != "root" {
		t.Errorf("Resolve(root) = %+v", r)
	}
	if r.RootUID() != 200000 || r.RootGID() != 200000 {
		t.Errorf("root is %d:%d", r.RootUID(), r.RootGID())
	}
	for host, want := range map[int]int{200000: 0, 200005: 5, 400001: 65537, 0: 0, 500000: 500000} {
		if got, _ := r.ToContainer(host, host); got != want {
			t.Errorf("ToContainer(%d) = %d, want %d", host, got, want)
		}
	}
}

// TestResolveRefuses: no ranges, a range from host id 0, a bad line, an
// unknown user are invalid, naming what is wrong.
func TestResolveRefuses(t *testing.T) {
	for name, c := range map[string]struct{ spec, file string }{
		"no ranges":    {"root", "nobody:100000:65536\n"},
		"host root":    {"root", "root:0:65536\n"},
		"bad count":    {"root", "root:100000:x\n"},
		"zero count":   {"root", "root:100000:0\n"},
		"unknown user": {"no-such-user-here", "no-such-user-here:100000:65536\n"},
		"empty":        {"", ""},
	} {
		f := write(t, c.file)
		if _, err := Resolve(c.spec, Files{SubUID: f, SubGID: f}); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("%s: err = %v, want invalid", name, err)
		}
	}
}
