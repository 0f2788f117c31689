package ctl

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/enginefs/enginefs/errdefs"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Command
	}{
		{"verb only", "start", Command{Verb: "start"}},
		{"args", "stop 10", Command{Verb: "stop", Args: []string{"10"}}},
		{"blanks and newline", "  kill\tTERM \r\n", Command{Verb: "kill", Args: []string{"TERM"}}},
		{"options in order", "create image=busybox name=web env=A=1 env=B=2",
			Command{Verb: "create", Opts: []Opt{{"image", "busybox"}, {"name", "web"}, {"env", "A=1"}, {"env", "B=2"}}}},
		{"argv after --", "create image=busybox -- sh -c 'echo hi; exit 3'",
			Command{Verb: "create", Opts: []Opt{{"image", "busybox"}}, Argv: []string{"sh", "-c", "echo hi; exit 3"}}},
		{"words after -- are never options", "create -- env A=1 -- x",
			Command{Verb: "create", Argv: []string{"env", "A=1", "--", "x"}}},
		{"empty argv", "create --", Command{Verb: "create", Argv: []string{}}},
		{"quoted value", `create env="GREETING=hello world" workdir='/a b'`,
			Command{Verb: "create", Opts: []Opt{{"env", "GREETING=hello world"}, {"workdir", "/a b"}}}},
		{"empty value", "create entrypoint=", Command{Verb: "create", Opts: []Opt{{"entrypoint", ""}}}},
		{"quoted word with = is an argument", "rename 'a=b'", Command{Verb: "rename", Args: []string{"a=b"}}},
		{"quoted key is an argument", `tag "k"=v`, Command{Verb: "tag", Args: []string{"k=v"}}},
		{"path with = is an argument", "load /tmp/a=b.tar", Command{Verb: "load", Args: []string{"/tmp/a=b.tar"}}},
		{"double quote escapes", `x "a\"b\\c\$d\n"`, Command{Verb: "x", Args: []string{`a"b\c$d\n`}}},
		{"backslash outside quotes", `x a\ b \'`, Command{Verb: "x", Args: []string{"a b", "'"}}},
		{"adjacent quoting joins", `x a'b'"c"`, Command{Verb: "x", Args: []string{"abc"}}},
		{"comment", "start # go", Command{Verb: "start"}},
		{"hash inside a word", "x a#b", Command{Verb: "x", Args: []string{"a#b"}}},
		{"quoted --", "x '--' y", Command{Verb: "x", Args: []string{"--", "y"}}},
		{"unicode", "x héllo name=ü", Command{Verb: "x", Args: []string{"héllo"}, Opts: []Opt{{"name", "ü"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.line)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.line, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%q)\n got %#v\nwant %#v", tt.line, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, line, wantMsg string
	}{
		{"empty", "   ", "empty command"},
		{"comment only", "# nothing", "empty command"},
		{"unterminated single", "x 'abc", `unterminated single quote in "'abc"`},
		{"unterminated double", `x "abc`, `unterminated double quote in "\"abc"`},
		{"trailing backslash", `x ab\`, `backslash at end of line in "ab\\"`},
		{"quoted verb", "'start'", `bad verb "'start'"`},
		{"verb with slash", "st/art", `bad verb "st/art"`},
		{"option without key", "create =x", `create: option without a key "=x"`},
		{"not utf-8", "x \xff", "line is not UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.line)
			if err == nil {
				t.Fatalf("Parse(%q) succeeded", tt.line)
			}
			if err.Error() != tt.wantMsg {
				t.Errorf("error = %q, want %q", err, tt.wantMsg)
			}
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
		})
	}
}

var testGrammar = Grammar{
	{Name: "start", MaxArgs: 0, Usage: "start"},
	{Name: "stop", MaxArgs: 1, Usage: "stop [SECONDS]"},
	{Name: "rename", MinArgs: 1, MaxArgs: 1, Usage: "rename NAME"},
	{Name: "create", MaxArgs: 0, Keys: []string{"image", "name", "env", "rm"}, Required: []string{"image"}, Argv: true,
		Usage: "create image=REF [name=NAME] [env=K=V]... [-- CMD...]"},
}

func TestGrammar(t *testing.T) {
	ok := []string{"start", "stop", "stop 3", "rename web", "create image=busybox", "create image=b name=x -- echo hi"}
	for _, line := range ok {
		if _, err := testGrammar.Parse(line); err != nil {
			t.Errorf("Parse(%q): %v", line, err)
		}
	}
	bad := []struct{ line, word, msg string }{
		{"strat", "strat", `unknown command "strat" (usage: one of create, rename, start, stop)`},
		{"start now", "now", `start: unexpected argument "now" (usage: start)`},
		{"stop 1 2", "2", `stop: unexpected argument "2"`},
		{"rename", "", "rename: missing argument"},
		{"create name=x", "image=", `create: missing option "image="`},
		{"create image=b imgae=c", "imgae=", `create: unknown option "imgae="`},
		{"start -- x", "--", `start: takes no command line after "--"`},
		{"create image=b --", "--", `create: empty command line after "--"`},
	}
	for _, tt := range bad {
		_, err := testGrammar.Parse(tt.line)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Parse(%q) = %v, want *Error", tt.line, err)
			continue
		}
		if e.Word != tt.word || !strings.HasPrefix(err.Error(), tt.msg) {
			t.Errorf("Parse(%q) = %q (word %q), want prefix %q (word %q)", tt.line, err, e.Word, tt.msg, tt.word)
		}
	}
}

func TestBoolAndInt(t *testing.T) {
	c, _ := Parse("rm 5 force= keep=no bad=maybe")
	if v, err := c.Bool("force", false); err != nil || !v {
		t.Errorf("force= → %v %v", v, err)
	}
	if v, err := c.Bool("keep", true); err != nil || v {
		t.Errorf("keep=no → %v %v", v, err)
	}
	if v, _ := c.Bool("absent", true); !v {
		t.Error("absent key must give the default")
	}
	if _, err := c.Bool("bad", false); err == nil || !strings.Contains(err.Error(), `"bad=maybe"`) {
		t.Errorf("bad=maybe → %v", err)
	}
	if n, err := c.Int(0, 10); err != nil || n != 5 {
		t.Errorf("Int(0) = %d %v", n, err)
	}
	if n, _ := c.Int(1, 10); n != 10 {
		t.Errorf("Int(1) = %d, want the default", n)
	}
	c, _ = Parse("stop soon")
	if _, err := c.Int(0, 10); err == nil || !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("Int(soon) = %v", err)
	}
}

func TestStringRoundTrip(t *testing.T) {
	cmds := []Command{
		{Verb: "create", Opts: []Opt{{"image", "busybox"}, {"env", "A=it's"}, {"name", ""}}, Argv: []string{"sh", "-c", "echo 'x' \"y\" # z", "--", "#"}},
		{Verb: "rename", Args: []string{"a=b", "--", "#x", "", "a b"}},
		{Verb: "x", Argv: []string{}},
	}
	for _, c := range cmds {
		got, err := Parse(c.String())
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.String(), err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("round trip of %q\n got %#v\nwant %#v", c.String(), got, c)
		}
	}
}

// FuzzParse checks that no input panics Parse or a Grammar, that errors are
// always ErrInvalid, and that a parsed command formats back into a line that
// parses to the same command.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"start", "create image=busybox name=web -- sh -c 'echo hi'", `x "a\"b" 'c' d\ e`,
		"stop 10 # c", "x =y", "x 'unterminated", "x \xff", "create -- --", "k a=b=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		for _, l := range SplitLines(line) {
			if _, err := Parse(l); err == nil && strings.TrimSpace(l) == "" {
				t.Fatalf("blank line %q parsed", l)
			}
		}
		_, _ = testGrammar.Parse(line)
		c, err := Parse(line)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Fatalf("Parse(%q) error %v is not ErrInvalid", line, err)
			}
			return
		}
		again, err := Parse(c.String())
		if err != nil {
			t.Fatalf("Parse(String()) of %q = %q: %v", line, c.String(), err)
		}
		if !reflect.DeepEqual(again, c) {
			t.Fatalf("round trip of %q via %q\n got %#v\nwant %#v", line, c.String(), again, c)
		}
	})
}

func TestSplitLines(t *testing.T) {
	got := SplitLines("start\n\ncreate -- sh -c 'echo a\necho b'\nx \"q\\\"\n\" y\nlast")
	want := []string{"start", "create -- sh -c 'echo a\necho b'", "x \"q\\\"\n\" y", "last"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SplitLines\n got %q\nwant %q", got, want)
	}
	c, err := Parse(got[1])
	if err != nil || c.Argv[2] != "echo a\necho b" {
		t.Errorf("Parse(%q) = %#v, %v", got[1], c, err)
	}
}
