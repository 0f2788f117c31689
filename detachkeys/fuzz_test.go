package detachkeys

import (
	"bytes"
	"testing"
)

// scan feeds the chunks of input to a Scanner of keys, in order, and
// returns what passed and whether the keys were typed (what follows them
// is dropped).
func scan(keys []byte, chunks [][]byte) ([]byte, bool) {
	e := Scanner{Keys: keys}
	var out []byte
	for _, c := range chunks {
		p, detach := e.Feed(c)
		out = append(out, p...)
		if detach {
			return out, true
		}
	}
	return out, false
}

// FuzzScanner: however the input is split into chunks (as reads from a
// terminal split it), the scanner passes the same bytes on and detects
// the keys at the same place as when fed the whole input at once.
func FuzzScanner(f *testing.F) {
	f.Add("", []byte("abc\x10\x11rest"), []byte{1, 2, 3})
	f.Add("ctrl-p,ctrl-q", []byte("\x10\x10\x11"), []byte{1})
	f.Add("a,b,a,b,c", []byte("ababababc"), []byte{2, 1, 1})
	f.Add("ctrl-x", []byte("x\x18y"), []byte{0})
	f.Add("ctrl-a,a", []byte("\x01\x01a"), []byte{1, 1})
	f.Fuzz(func(t *testing.T, spec string, input, cuts []byte) {
		keys, err := Parse(spec)
		if err != nil {
			return
		}
		whole, detach := scan(keys, [][]byte{input})
		var chunks [][]byte
		rest := input
		for _, c := range cuts {
			n := min(int(c), len(rest))
			chunks, rest = append(chunks, rest[:n]), rest[n:]
		}
		chunks = append(chunks, rest)
		split, splitDetach := scan(keys, chunks)
		if !bytes.Equal(whole, split) || detach != splitDetach {
			t.Fatalf("keys %q, input %q: whole gives %q detach=%v; chunks %q give %q detach=%v",
				keys, input, whole, detach, chunks, split, splitDetach)
		}
	})
}
