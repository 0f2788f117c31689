package detachkeys

import (
	"bytes"
	"errors"
	"testing"

	"github.com/enginefs/enginefs/errdefs"
)

func TestScanner(t *testing.T) {
	keys, err := Parse("")
	if err != nil || !bytes.Equal(keys, []byte{0x10, 0x11}) {
		t.Fatalf("default keys %v, %v", keys, err)
	}
	for _, c := range []struct {
		in     []string
		out    string
		detach bool
	}{
		{[]string{"abc"}, "abc", false},
		{[]string{"a\x10", "b"}, "a\x10b", false},
		{[]string{"a\x10", "\x11rest"}, "a", true},
		{[]string{"\x10\x10\x11"}, "\x10", true},
	} {
		e := Scanner{Keys: keys}
		var out []byte
		detach := false
		for _, in := range c.in {
			p, d := e.Feed([]byte(in))
			out = append(out, p...)
			if detach = d; d {
				break
			}
		}
		if string(out) != c.out || detach != c.detach {
			t.Errorf("%q: passed %q detach %v, want %q %v", c.in, out, detach, c.out, c.detach)
		}
	}
	for _, bad := range []string{"ctrl-1", "ab", "ctrl-"} {
		if _, err := Parse(bad); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("Parse(%q): %v", bad, err)
		}
	}
}
