// Package ctl parses the command language of every ctl file in the tree.
//
// A line is `verb arg... key=value... [-- word...]`: words are separated by
// blanks and quoted as in the shell ('single', "double" with \" \\ \$ \`
// escapes, and \x outside quotes); a word whose part before its first unquoted
// `=` is an identifier is a key=value option; an unquoted `--` ends the options
// and everything after it is a command line taken as it is; an unquoted `#`
// at the start of a word begins a comment.
//
// Parse splits a line; a Grammar checks it against the verbs one ctl file
// accepts. Every error is an errdefs.ErrInvalid *Error naming the bad word, and
// Command.String quotes a command back into a line Parse reads the same way.
package ctl

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/enginefs/enginefs/errdefs"
)

// Command is one parsed line.
type Command struct {
	Verb string
	Args []string // positional words, in order
	Opts []Opt    // key=value words, in order; a key may repeat
	// Argv holds the words after "--"; nil when the line has no "--".
	Argv []string
}

// Opt is one key=value word.
type Opt struct{ Key, Value string }

// Error is a malformed or unacceptable line. Word is the offending word as
// written ("" when the problem is the line as a whole).
type Error struct {
	Verb  string
	Msg   string
	Word  string
	Usage string // what the verb accepts, when known
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Verb != "" {
		b.WriteString(e.Verb + ": ")
	}
	b.WriteString(e.Msg)
	if e.Word != "" {
		fmt.Fprintf(&b, " %q", e.Word)
	}
	if e.Usage != "" {
		b.WriteString(" (usage: " + e.Usage + ")")
	}
	return b.String()
}

// Unwrap makes every ctl error an errdefs.ErrInvalid.
func (e *Error) Unwrap() error { return errdefs.ErrInvalid }

// Get returns the last value given for key.
func (c Command) Get(key string) (string, bool) {
	for i := len(c.Opts) - 1; i >= 0; i-- {
		if c.Opts[i].Key == key {
			return c.Opts[i].Value, true
		}
	}
	return "", false
}

// All returns every value given for key, in order.
func (c Command) All(key string) []string {
	var out []string
	for _, o := range c.Opts {
		if o.Key == key {
			out = append(out, o.Value)
		}
	}
	return out
}

// String formats the command as a line that Parse reads back into an equal
// Command.
func (c Command) String() string {
	words := []string{Quote(c.Verb)}
	for _, a := range c.Args {
		words = append(words, quoteArg(a))
	}
	for _, o := range c.Opts {
		words = append(words, o.Key+"="+Quote(o.Value))
	}
	if c.Argv != nil {
		words = append(words, "--")
		for _, a := range c.Argv {
			words = append(words, Quote(a))
		}
	}
	return strings.Join(words, " ")
}

// token is one word of a line with what the quoting told about it.
type token struct {
	text   string
	raw    string // as written, for error messages
	keyEnd int    // index of the first unquoted '=' if all before it was unquoted, else -1
	plain  bool   // no quoting or escape anywhere in the word
}

// Parse splits one line into a Command. It does not know any verb; see
// Grammar for that.
func Parse(line string) (Command, error) {
	toks, err := tokenize(line)
	if err != nil {
		return Command{}, err
	}
	if len(toks) == 0 {
		return Command{}, &Error{Msg: "empty command"}
	}
	if !toks[0].plain || toks[0].text == "--" || !isIdent(toks[0].text) {
		return Command{}, &Error{Msg: "bad verb", Word: toks[0].raw}
	}
	c := Command{Verb: toks[0].text}
	for i := 1; i < len(toks); i++ {
		t := toks[i]
		if t.plain && t.text == "--" {
			c.Argv = []string{}
			for _, a := range toks[i+1:] {
				c.Argv = append(c.Argv, a.text)
			}
			break
		}
		if t.keyEnd > 0 && isIdent(t.text[:t.keyEnd]) {
			c.Opts = append(c.Opts, Opt{Key: t.text[:t.keyEnd], Value: t.text[t.keyEnd+1:]})
			continue
		}
		if t.keyEnd == 0 {
			return Command{}, &Error{Verb: c.Verb, Msg: "option without a key", Word: t.raw}
		}
		c.Args = append(c.Args, t.text)
	}
	return c, nil
}

func tokenize(line string) ([]token, error) {
	if !utf8.ValidString(line) {
		return nil, &Error{Msg: "line is not UTF-8"}
	}
	var (
		toks  []token
		cur   strings.Builder
		in    bool // inside a word
		start int
		t     token
	)
	flush := func(end int) {
		if in {
			t.text, t.raw = cur.String(), line[start:end]
			toks = append(toks, t)
		}
		cur.Reset()
		in = false
	}
	begin := func(i int) {
		if !in {
			in, start = true, i
			t = token{keyEnd: -1, plain: true}
		}
	}
	for i := 0; i < len(line); {
		r, size := utf8.DecodeRuneInString(line[i:])
		switch {
		case r == ' ' || r == '\t' || r == '\r' || r == '\n':
			flush(i)
			i += size
		case r == '#' && !in:
			return toks, nil
		case r == '\'':
			begin(i)
			t.plain = false
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, &Error{Msg: "unterminated single quote in", Word: line[start:]}
			}
			cur.WriteString(line[i+1 : i+1+end])
			i += end + 2
		case r == '"':
			begin(i)
			t.plain = false
			j := i + 1
			for ; j < len(line) && line[j] != '"'; j++ {
				if line[j] == '\\' && j+1 < len(line) && strings.IndexByte("\"\\$`", line[j+1]) >= 0 {
					j++
				}
				cur.WriteByte(line[j])
			}
			if j >= len(line) {
				return nil, &Error{Msg: "unterminated double quote in", Word: line[start:]}
			}
			i = j + 1
		case r == '\\':
			begin(i)
			t.plain = false
			if i+1 >= len(line) {
				return nil, &Error{Msg: "backslash at end of line in", Word: line[start:]}
			}
			r2, s2 := utf8.DecodeRuneInString(line[i+1:])
			cur.WriteRune(r2)
			i += 1 + s2
		default:
			begin(i)
			if r == '=' && t.keyEnd < 0 && t.plain {
				t.keyEnd = cur.Len()
			}
			cur.WriteRune(r)
			i += size
		}
	}
	flush(len(line))
	return toks, nil
}

// isIdent reports whether s is a verb or option key: a letter, then letters,
// digits, '_', '-' or '.'.
func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.'):
		default:
			return false
		}
	}
	return true
}

// Quote returns s as a single word for a ctl line: unchanged when it is made of
// safe characters, else in single quotes.
func Quote(s string) string {
	if s != "" && s != "--" && s[0] != '#' && strings.Trim(s, safeChars) == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

const safeChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:@%+,=-"

// quoteArg quotes a positional word so that it is not read back as key=value.
func quoteArg(s string) string {
	if strings.Contains(s, "=") {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return Quote(s)
}

// SplitLines splits text written to a ctl file into command lines at the
// newlines that are not inside quotes, so a quoted value may hold a newline
// (`create -- sh -c 'echo a<NL>echo b'`). Blank lines are dropped. Unbalanced
// quotes leave the rest as one line, for Parse to reject.
func SplitLines(text string) []string {
	var lines []string
	start := 0
	var quote byte
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case quote == '\'' && c == '\'', quote == '"' && c == '"':
			quote = 0
		case quote == '"' && c == '\\':
			i++
		case quote != 0:
		case c == '\\':
			i++
		case c == '\'' || c == '"':
			quote = c
		case c == '\n':
			lines = append(lines, text[start:i])
			start = i + 1
		}
	}
	lines = append(lines, text[start:])
	out := lines[:0]
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}
