package verbs

import (
	"errors"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/enginefs/enginefs/ctl"
	"github.com/enginefs/enginefs/errdefs"
)

// grammars is every grammar by its file.
var grammars = []struct {
	file    string
	grammar Grammar
}{
	{"containers/ctl", Containers},
	{"containers/<id>/ctl", Container},
	{"containers/<id>/exec/<n>/ctl", Exec},
	{"containers/<id>/logs", ContainerLogs},
	{"images/ctl", Images},
	{"images/<repo path>/<tag>/ctl", Image},
	{"images/save", Archive},
	{"images/pulls/clone, images/pushes/clone", Transfers},
	{"images/pulls/<n>/ctl, images/pushes/<n>/ctl", Transfer},
	{"networks/ctl", Networks},
	{"networks/<name>/ctl", Network},
	{"volumes/ctl", Volumes},
	{"volumes/<name>/ctl", Volume},
	{"builds/ctl", Builds},
	{"builds/<n>/ctl", BuildJob},
}

// TestGrammars builds every verb's spec (a bad tag panics) and checks
// that the verbs of one file have distinct names.
func TestGrammars(t *testing.T) {
	for _, g := range grammars {
		seen := map[string]bool{}
		for _, v := range g.grammar {
			s := Spec(v)
			if seen[s.Name] {
				t.Errorf("%s: two verbs %q", g.file, s.Name)
			}
			seen[s.Name] = true
			if !strings.HasPrefix(s.Usage, s.Name) {
				t.Errorf("%s: usage %q of %q", g.file, s.Usage, s.Name)
			}
		}
	}
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		v    Verb
		want ctl.Verb
	}{
		{ContainerStop{}, ctl.Verb{Name: "stop", MaxArgs: 1, Keys: []string{"signal"}, Usage: "stop [SECONDS] [signal=SIG]"}},
		{ContainerRm{}, ctl.Verb{Name: "rm", MaxArgs: 2, Usage: "rm [force] [volumes]"}},
		{ContainerCommit{}, ctl.Verb{Name: "commit", MaxArgs: 1, Keys: []string{"author", "comment", "change", "pause"},
			Usage: "commit [REPO[:TAG]] [author=NAME] [comment=TEXT] [change=INSTRUCTION]... [pause=false]"}},
		{ExecCreate{}, ctl.Verb{Name: "create", Keys: []string{"user", "workdir", "env", "tty", "stdin"}, Argv: true,
			Usage: "create [user=U[:G]] [workdir=DIR] [env=K=V]... [tty=true] [stdin=true] -- CMD ARG..."}},
		{ImageSave{}, ctl.Verb{Name: "save", MinArgs: 2, MaxArgs: -1, Usage: "save REF... PATH"}},
		{ImageLogin{}, ctl.Verb{Name: "login", MaxArgs: 1, Keys: []string{"user", "password", "save"}, Required: []string{"user", "password"},
			Usage: "login [SERVER] user=USER password=PASSWORD [save=false]"}},
		{NetworkCreate{}, ctl.Verb{Name: "create", MinArgs: 1, MaxArgs: 2, Keys: []string{"driver", "subnet", "gateway", "ip-range", "aux-address", "parent", "internal", "opt", "label"},
			Usage: "create NAME [driver=bridge|macvlan] [subnet=CIDR] [gateway=IP] [ip-range=CIDR] [aux-address=NAME=IP]... [parent=IF] [internal] [opt=K=V]... [label=K=V]..."}},
		{VolumeRm{}, ctl.Verb{Name: "rm", MinArgs: 1, MaxArgs: -1, Usage: "rm NAME..."}},
		{BuildPrune{}, ctl.Verb{Name: "prune", Keys: []string{"all"}, Usage: "prune [all=true]"}},
	} {
		if got := Spec(tc.v); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Spec(%T):\n got %#v\nwant %#v", tc.v, got, tc.want)
		}
	}
	if u := Usage(&Create{}); !strings.HasPrefix(u, "create image=REF [name=NAME] [env=K=V]... ") || !strings.HasSuffix(u, " [volume-driver=NAME] [-- CMD ARG...]") {
		t.Errorf("create's usage %q", u)
	}
}

// words are the values the round trip draws from: quoting, '=', "--",
// '#', the bare words of verbs, non-ASCII, the empty string.
var words = []string{"", "a", "busybox:latest", "two words", "k=v", "--", "#x", "it's", `"q"`, "force", "all",
	"internal", "-1", "é", "a\nb", "$HOME", `back\slash`}

// random fills the fields of a verb's struct (rv) with words, keeping to
// what a line can say: a required list has a word, a command line is nil
// or has words.
func random(r *rand.Rand, s *spec, rv reflect.Value) {
	word := func() string { return words[r.Intn(len(words))] }
	list := func(min int) []string {
		n := r.Intn(4)
		if n < min {
			n = min
		}
		if n == 0 {
			return nil
		}
		out := make([]string, n)
		for i := range out {
			out[i] = word()
		}
		return out
	}
	for _, f := range s.fields {
		fv := rv.Field(f.index)
		switch {
		case f.kind == kindArgv:
			if f.required || r.Intn(2) == 0 {
				fv.Set(reflect.ValueOf(list(1)))
			}
		case f.slice && f.kind == kindArg && f.required:
			fv.Set(reflect.ValueOf(list(1)))
		case f.slice:
			fv.Set(reflect.ValueOf(list(0)))
		case f.boolean || f.kind == kindWord:
			fv.SetBool(r.Intn(2) == 0)
		default:
			fv.SetString(word())
		}
	}
}

// TestRoundTrip: for every verb, Parse(Format(v)) is v, through the
// command and through its line, and Format(Parse(c)) is c for the
// commands Format makes.
func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, g := range grammars {
		for _, proto := range g.grammar {
			typ := reflect.TypeOf(proto)
			s := specOf(typ)
			for i := 0; i < 200; i++ {
				pv := reflect.New(typ)
				random(r, s, pv.Elem())
				v := pv.Elem().Interface().(Verb)
				cmd := Format(v)
				back := reflect.New(typ)
				if err := Parse(cmd, back.Interface().(Verb)); err != nil {
					t.Fatalf("%s: Parse(Format(%#v)) = %v (command %#v)", g.file, v, err, cmd)
				}
				if got := back.Elem().Interface(); !reflect.DeepEqual(got, v) {
					t.Fatalf("%s: Parse(Format(v)) = %#v, want %#v (command %#v)", g.file, got, v, cmd)
				}
				if again := Format(back.Interface().(Verb)); !reflect.DeepEqual(again, cmd) {
					t.Fatalf("%s: Format(Parse(c)) = %#v, want %#v", g.file, again, cmd)
				}
				line := Line(v)
				got, err := g.grammar.Parse(line)
				if err != nil || !reflect.DeepEqual(got, v) {
					t.Fatalf("%s: Parse(%q) = %#v, %v; want %#v", g.file, line, got, err, v)
				}
			}
		}
	}
}

// TestParseErrors: the errors name the bad word as ctl.Grammar does.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		g          Grammar
		line, word string
		msg        string
	}{
		{Container, "strat", "strat", `unknown command "strat" (usage: one of commit, create, kill, pause, rename, resize, restart, resume, rm, start, stop, update)`},
		{Container, "start now", "now", `start: unexpected argument "now" (usage: start)`},
		{Container, "stop 1 2", "2", `stop: unexpected argument "2" (usage: stop [SECONDS] [signal=SIG])`},
		{Container, "rename", "", `rename: missing argument (usage: rename NAME)`},
		{Container, "create name=x", "image=", `create: missing option "image="`},
		{Container, "create image=b imgae=c", "imgae=", `create: unknown option "imgae="`},
		{Container, "create image=b rm=maybe", "rm=maybe", `create: not a boolean "rm=maybe"`},
		{Container, "create image=b --", "--", `create: empty command line after "--"`},
		{Container, "start -- x", "--", `start: takes no command line after "--"`},
		{Container, "rm now", "now", `rm: unexpected argument "now" (usage: rm [force] [volumes])`},
		{Container, "rm force force", "force", `rm: unexpected argument "force" (usage: rm [force] [volumes])`},
		{Container, "rm force volumes x", "x", `rm: unexpected argument "x"`},
		{Container, "commit pause=later", "pause=later", `commit: not a boolean "pause=later"`},
		{Exec, "create tty=true", "--", `create: missing command line after "--"`},
		{Exec, "create tty=x -- sh", "tty=x", `create: not a boolean "tty=x"`},
		{Images, "rm busybox now", "now", `rm: unexpected argument "now" (usage: rm REF [force])`},
		{Images, "prune dangling", "dangling", `prune: unexpected argument "dangling" (usage: prune [all])`},
		{Images, "save busybox", "", `save: missing argument (usage: save REF... PATH)`},
		{Images, "login user=u", "password=", `login: missing option "password="`},
		{Image, "rm now", "now", `rm: unexpected argument "now" (usage: rm [force])`},
		{Networks, "create n external", "external", `create: unexpected argument "external" (usage: create NAME [driver=bridge|macvlan]`},
		{Networks, "create n internal=perhaps", "internal=perhaps", `create: not a boolean "internal=perhaps"`},
		{Volumes, "prune some", "some", `prune: unexpected argument "some" (usage: prune [all])`},
		{Builds, "prune all=sure", "all=sure", `prune: not a boolean "all=sure"`},
		{Transfer, "cancel now", "now", `cancel: unexpected argument "now" (usage: cancel)`},
		{ContainerLogs, "logs follow=often", "follow=often", `logs: not a boolean "follow=often"`},
	} {
		t.Run(tc.line, func(t *testing.T) {
			_, err := tc.g.Parse(tc.line)
			var e *ctl.Error
			if !errors.As(err, &e) || !errors.Is(err, errdefs.ErrInvalid) {
				t.Fatalf("Parse(%q) = %v, want a *ctl.Error", tc.line, err)
			}
			if e.Word != tc.word || !strings.HasPrefix(err.Error(), tc.msg) {
				t.Errorf("Parse(%q) = %q (word %q), want prefix %q (word %q)", tc.line, err, e.Word, tc.msg, tc.word)
			}
		})
	}
}

// TestParse reads lines whose words take some reading: bare words in
// any order, a bool given as a word and as a key, inverse booleans, the
// words after a variadic argument.
func TestParse(t *testing.T) {
	for _, tc := range []struct {
		g    Grammar
		line string
		want Verb
	}{
		{Container, "rm volumes force", ContainerRm{Force: true, Volumes: true}},
		{Container, "commit x:1 pause=false change='CMD a' change=ENV=b", ContainerCommit{Ref: "x:1", NoPause: true, Change: []string{"CMD a", "ENV=b"}}},
		{Container, "commit pause=", ContainerCommit{}},
		{Container, "stop 5 signal=INT", ContainerStop{Seconds: "5", Signal: "INT"}},
		{Container, "create image=a name=x name=y rm= -- sh -c 'a b'", Create{Image: "a", Name: "y", Rm: true, Cmd: []string{"sh", "-c", "a b"}}},
		{Container, "create image=a entrypoint= env=A=1 env=B", Create{Image: "a", Entrypoint: []string{""}, Env: []string{"A=1", "B"}}},
		{Images, "save a b /tmp/x.tar", ImageSave{Refs: []string{"a", "b"}, Path: "/tmp/x.tar"}},
		{Images, "rm force", ImageRm{Ref: "force"}},
		{Images, "rm force force", ImageRm{Ref: "force", Force: true}},
		{Images, "login reg user=u password= save=no", ImageLogin{Server: "reg", User: "u", NoSave: true}},
		{Networks, "create n internal", NetworkCreate{Name: "n", Internal: true}},
		{Networks, "create n internal internal=false", NetworkCreate{Name: "n"}},
		{Networks, "create n internal=yes", NetworkCreate{Name: "n", Internal: true}},
		{Networks, "create 'my net' ip-range=10.1.0.16/28 aux-address=a=10.1.0.17 aux-address=b=10.1.0.18",
			NetworkCreate{Name: "my net", IPRange: "10.1.0.16/28", Aux: []string{"a=10.1.0.17", "b=10.1.0.18"}}},
		{ContainerLogs, "logs stdout=false tail=5", Logs{NoStdout: true, Tail: "5"}},
		{Exec, "create user=u -- id -u", ExecCreate{User: "u", Cmd: []string{"id", "-u"}}},
	} {
		t.Run(tc.line, func(t *testing.T) {
			got, err := tc.g.Parse(tc.line)
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse(%q) = %#v, %v; want %#v", tc.line, got, err, tc.want)
			}
		})
	}
	var c Create
	if err := Parse(ctl.Command{Verb: "start"}, &c); err == nil {
		t.Error("Parse of start into a Create: no error")
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		v    Verb
		want string
	}{
		{ContainerStart{}, "start"},
		{&ContainerKill{Signal: "TERM"}, "kill TERM"},
		{ContainerRename{}, "rename ''"},
		{ContainerCommit{NoPause: true}, "commit pause=false"},
		{ImageLogin{}, "login user='' password=''"},
		{NetworkCreate{Name: "n", Internal: true}, "create n internal=true"},
		{Create{Image: "busybox", Entrypoint: []string{""}}, "create image=busybox entrypoint=''"},
		{Create{Image: "b", Name: "web", Env: []string{"A=1 2"}, Cmd: []string{"sh", "-c", "echo 'a b'"}},
			`create image=b name=web env='A=1 2' -- sh -c 'echo '\''a b'\'''`},
		{ImageTag{Src: "a=b", Dst: "c"}, "tag 'a=b' c"},
		{Logs{NoStderr: true, Format: "framed"}, "logs stderr=false format=framed"},
	} {
		if got := Line(tc.v); got != tc.want {
			t.Errorf("Line(%#v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

type (
	badArgType struct {
		N int `arg:"N"`
	}
	badNoTag   struct{ X string }
	badWordArg struct {
		W bool   `word:"w"`
		A string `arg:"A"`
	}
	badOptionalFirst struct {
		A string `arg:"A,optional"`
		B string `arg:"B"`
	}
	badRequiredList struct {
		L []string `ctl:"l,required"`
	}
	badInverse struct {
		S string `ctl:"s,inverse"`
	}
	badTwoArgv struct {
		A []string `argv:"A"`
		B []string `argv:"B"`
	}
	badSliceWord struct {
		L []string `arg:"L"`
		W bool     `word:"w"`
	}
)

func (badArgType) Verb() string       { return "x" }
func (badNoTag) Verb() string         { return "x" }
func (badWordArg) Verb() string       { return "x" }
func (badOptionalFirst) Verb() string { return "x" }
func (badRequiredList) Verb() string  { return "x" }
func (badInverse) Verb() string       { return "x" }
func (badTwoArgv) Verb() string       { return "x" }
func (badSliceWord) Verb() string     { return "x" }

// TestBadTags: tags a line could not say, or could say two ways, are
// refused when the spec is built.
func TestBadTags(t *testing.T) {
	for _, v := range []Verb{badArgType{}, badNoTag{}, badWordArg{}, badOptionalFirst{}, badRequiredList{}, badInverse{},
		badTwoArgv{}, badSliceWord{}} {
		if _, err := newSpec(reflect.TypeOf(v)); err == nil {
			t.Errorf("%T: no error", v)
		}
	}
}
