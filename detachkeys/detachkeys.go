// Package detachkeys reads docker's detach keys ("ctrl-p,ctrl-q") and finds
// them in a terminal's input, for dctl's attach and the REST bridge's.
package detachkeys

import (
	"github.com/moby/term"

	"github.com/enginefs/enginefs/errdefs"
)

// Default is docker's ctrl-p,ctrl-q.
const Default = "ctrl-p,ctrl-q"

// Parse reads a comma-separated list of single characters and ctrl-<value>
// keys with docker's own parser (github.com/moby/term); "" is Default. A
// bad list is an errdefs.ErrInvalid error.
func Parse(s string) ([]byte, error) {
	if s == "" {
		s = Default
	}
	keys, err := term.ToBytes(s)
	if err != nil {
		return nil, errdefs.Invalid("invalid detach keys %q (ctrl-<value> or single characters, separated by commas): %v", s, err)
	}
	return keys, nil
}

// Scanner finds the keys in input fed to it: the bytes of a partial match
// are held until the match completes (detach) or fails (passed on), as
// docker's escape proxy does.
type Scanner struct {
	Keys []byte
	held []byte
}

// Feed returns what of p passes on and whether the keys were typed (the
// rest of p is then dropped).
func (e *Scanner) Feed(p []byte) ([]byte, bool) {
	if len(e.Keys) == 0 {
		return p, false
	}
	var out []byte
	for _, b := range p {
		if b == e.Keys[len(e.held)] {
			e.held = append(e.held, b)
			if len(e.held) == len(e.Keys) {
				return out, true
			}
			continue
		}
		out = append(out, e.held...)
		e.held = e.held[:0]
		if b == e.Keys[0] {
			e.held = append(e.held, b)
			continue
		}
		out = append(out, b)
	}
	return out, false
}
