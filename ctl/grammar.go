package ctl

import (
	"sort"
	"strconv"
	"strings"
)

// Verb describes one command a ctl file accepts.
type Verb struct {
	Name    string
	MinArgs int
	MaxArgs int      // -1: no limit
	Keys    []string // accepted option keys
	// Required keys must be given.
	Required []string
	// Argv says whether the verb takes "-- command..." (and then requires it).
	Argv  bool
	Usage string // e.g. "stop [SECONDS]", shown in errors
}

// Grammar is the set of verbs of one ctl file.
type Grammar []Verb

// Parse parses line and checks it against the grammar. The error names the
// unknown verb, the unexpected argument or the unknown key.
func (g Grammar) Parse(line string) (Command, error) {
	c, err := Parse(line)
	if err != nil {
		return c, err
	}
	return c, g.Check(c)
}

// Check checks a parsed command against the grammar, as Parse does.
func (g Grammar) Check(c Command) error {
	v, ok := g.verb(c.Verb)
	if !ok {
		return &Error{Msg: "unknown command", Word: c.Verb, Usage: "one of " + g.names()}
	}
	usage := func(msg, word string) error {
		return &Error{Verb: c.Verb, Msg: msg, Word: word, Usage: v.Usage}
	}
	if len(c.Args) < v.MinArgs {
		return usage("missing argument", "")
	}
	if v.MaxArgs >= 0 && len(c.Args) > v.MaxArgs {
		return usage("unexpected argument", c.Args[v.MaxArgs])
	}
	for _, o := range c.Opts {
		if !contains(v.Keys, o.Key) {
			return usage("unknown option", o.Key+"=")
		}
	}
	for _, k := range v.Required {
		if _, ok := c.Get(k); !ok {
			return usage("missing option", k+"=")
		}
	}
	switch {
	case c.Argv != nil && !v.Argv:
		return usage("takes no command line after", "--")
	case v.Argv && c.Argv != nil && len(c.Argv) == 0:
		return usage("empty command line after", "--")
	}
	return nil
}

func (g Grammar) verb(name string) (Verb, bool) {
	for _, v := range g {
		if v.Name == name {
			return v, true
		}
	}
	return Verb{}, false
}

func (g Grammar) names() string {
	names := make([]string, len(g))
	for i, v := range g {
		names[i] = v.Name
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Bool returns the boolean value of option key: absent is def; "true", "1",
// "yes", "on" and "" (as in `rm=`) are true, "false", "0", "no", "off" false.
func (c Command) Bool(key string, def bool) (bool, error) {
	v, ok := c.Get(key)
	if !ok {
		return def, nil
	}
	switch strings.ToLower(v) {
	case "", "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off":
		return false, nil
	}
	return false, &Error{Verb: c.Verb, Msg: "not a boolean", Word: key + "=" + v}
}

// Int returns the integer argument at index i, or def if there is none.
func (c Command) Int(i int, def int) (int, error) {
	if i >= len(c.Args) {
		return def, nil
	}
	n, err := strconv.Atoi(c.Args[i])
	if err != nil {
		return 0, &Error{Verb: c.Verb, Msg: "not a number", Word: c.Args[i]}
	}
	return n, nil
}
