package verbs

import (
	"reflect"
	"slices"
	"testing"
)

// TestFlags: Create's flags are docker run's names, each once, and set
// the fields they point to.
func TestFlags(t *testing.T) {
	var c Create
	flags := Flags(&c)
	names, shorts := map[string]bool{}, map[string]bool{}
	keys := Spec(c).Keys
	for _, f := range flags {
		if names[f.Name] || (f.Shorthand != "" && shorts[f.Shorthand]) {
			t.Errorf("flag %q (-%s) twice", f.Name, f.Shorthand)
		}
		names[f.Name], shorts[f.Shorthand] = true, true
		if !slices.Contains(keys, f.Key) || f.Help == "" {
			t.Errorf("flag %q: key %q, help %q", f.Name, f.Key, f.Help)
		}
		switch v := f.Value.(type) {
		case *string:
			*v = "x"
		case *[]string:
			*v = append(*v, "x")
		case *bool:
			*v = true
		case Value:
			if err := v.Set(""); err != nil || v.Type() != "string" || v.String() != "" {
				t.Errorf("flag %q: %v", f.Name, err)
			}
		default:
			t.Errorf("flag %q: value %T", f.Name, f.Value)
		}
	}
	for _, n := range []string{"name", "env", "hostname", "interactive", "network-alias", "publish", "volume", "mount", "memory", "entrypoint"} {
		if !names[n] {
			t.Errorf("no flag %q", n)
		}
	}
	for f, s := range map[string]string{"env": "e", "hostname": "h", "interactive": "i", "tty": "t", "memory": "m", "publish-all": "P"} {
		if i := slices.IndexFunc(flags, func(x Flag) bool { return x.Name == f }); i < 0 || flags[i].Shorthand != s {
			t.Errorf("flag %q: shorthand, want %q", f, s)
		}
	}
	if c.Name != "x" || !reflect.DeepEqual(c.Env, []string{"x"}) || !c.Stdin || c.StdinOnce || !reflect.DeepEqual(c.Entrypoint, []string{""}) {
		t.Errorf("the flags set %+v", c)
	}
}
