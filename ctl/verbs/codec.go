package verbs

import (
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/enginefs/enginefs/ctl"
)

// Verb is the typed form of one ctl command: a struct whose tagged fields
// are the command's words (see the package documentation); Verb returns the
// verb's name, the first word of its line.
type Verb interface {
	Verb() string
}

// Grammar is the set of verbs one ctl file accepts, each given by its zero
// value.
type Grammar []Verb

// Ctl returns the grammar's entries for ctl.Grammar, whose checks and
// errors Parse uses.
func (g Grammar) Ctl() ctl.Grammar {
	out := make(ctl.Grammar, len(g))
	for i, v := range g {
		out[i] = specOf(reflect.TypeOf(v)).verb
	}
	return out
}

// Parse parses a line and checks it against the grammar (ctl.Grammar's
// checks, then the values: positional words, booleans). It returns the
// verb's struct, a value of the type given in the grammar; every error is
// a *ctl.Error naming the bad word.
func (g Grammar) Parse(line string) (Verb, error) {
	c, err := ctl.Parse(line)
	if err != nil {
		return nil, err
	}
	if err := g.Ctl().Check(c); err != nil {
		return nil, err
	}
	for _, proto := range g {
		if proto.Verb() != c.Verb {
			continue
		}
		rv := reflect.New(reflect.TypeOf(proto)).Elem()
		if err := decode(specOf(rv.Type()), c, rv); err != nil {
			return nil, err
		}
		return rv.Interface().(Verb), nil
	}
	return nil, &ctl.Error{Msg: "unknown command", Word: c.Verb} // checked above
}

// Parse reads cmd into v, a pointer to a verb's struct, checking it as
// Grammar.Parse does.
func Parse(cmd ctl.Command, v Verb) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		panic(fmt.Sprintf("verbs.Parse: %T is not a pointer to a verb", v))
	}
	rv = rv.Elem()
	s := specOf(rv.Type())
	if err := (ctl.Grammar{s.verb}).Check(cmd); err != nil {
		return err
	}
	rv.SetZero()
	return decode(s, cmd, rv)
}

// Format returns v (a verb's struct or a pointer to one) as a command: the
// positional words in the order of the fields, then the bare words that
// are set, the options in the order of the fields (an empty string, a
// false boolean and an empty list are left out, a required option is
// always there) and the command line after "--" when there is one.
// Parse(Format(v)) gives v back.
func Format(v Verb) ctl.Command {
	rv := reflect.Indirect(reflect.ValueOf(v))
	s := specOf(rv.Type())
	c := ctl.Command{Verb: s.verb.Name}
	for _, f := range s.fields {
		fv := rv.Field(f.index)
		switch {
		case f.kind == kindArg && f.slice:
			c.Args = append(c.Args, fv.Interface().([]string)...)
		case f.kind == kindArg:
			if f.required || fv.String() != "" {
				c.Args = append(c.Args, fv.String())
			}
		}
	}
	for _, f := range s.fields {
		if f.kind == kindWord && rv.Field(f.index).Bool() {
			c.Args = append(c.Args, f.name)
		}
	}
	for _, f := range s.fields {
		fv := rv.Field(f.index)
		switch {
		case f.kind == kindArgv:
			if argv := fv.Interface().([]string); len(argv) > 0 {
				c.Argv = append([]string{}, argv...)
			}
		case f.kind != kindOpt:
		case f.boolean:
			if b := fv.Bool(); b && f.inverse {
				c.Opts = append(c.Opts, ctl.Opt{Key: f.name, Value: "false"})
			} else if b {
				c.Opts = append(c.Opts, ctl.Opt{Key: f.name, Value: "true"})
			}
		case f.slice:
			for _, x := range fv.Interface().([]string) {
				c.Opts = append(c.Opts, ctl.Opt{Key: f.name, Value: x})
			}
		default:
			if f.required || fv.String() != "" {
				c.Opts = append(c.Opts, ctl.Opt{Key: f.name, Value: fv.String()})
			}
		}
	}
	return c
}

// Line is Format(v) as a line for a ctl file.
func Line(v Verb) string { return Format(v).String() }

// Spec returns v's entry of a ctl.Grammar: its name, argument counts, keys,
// required keys, whether it takes a command line, and its usage.
func Spec(v Verb) ctl.Verb {
	return specOf(typeOf(v)).verb
}

// Usage returns v's usage line, as errors show it.
func Usage(v Verb) string { return Spec(v).Usage }

type kind int

const (
	kindArg  kind = iota // a positional word (arg:"NAME")
	kindWord             // a bare word that sets a bool (word:"force")
	kindOpt              // key=value (ctl:"key")
	kindArgv             // the words after "--" (argv:"CMD ARG...")
)

// field is one tagged field of a verb's struct.
type field struct {
	index    int
	kind     kind
	name     string // the placeholder of an arg, the word, the key
	word     string // a bool option's bare word too (word:"internal" with ctl:"internal")
	usage    string // an option's value placeholder, argv's words
	required bool
	slice    bool
	boolean  bool
	inverse  bool // a bool option whose field is true when the key is false
}

// spec is what reflection found on a verb's struct.
type spec struct {
	verb   ctl.Verb
	fields []field
	// fixedAfter is the number of positional words after a variadic one
	// (save REF... PATH).
	fixedAfter int
}

var specs sync.Map // reflect.Type → *spec

func specOf(t reflect.Type) *spec {
	if s, ok := specs.Load(t); ok {
		return s.(*spec)
	}
	s, err := newSpec(t)
	if err != nil {
		panic("verbs: " + err.Error())
	}
	specs.Store(t, s)
	return s
}

var (
	stringType  = reflect.TypeOf("")
	stringsType = reflect.TypeOf([]string(nil))
	boolType    = reflect.TypeOf(false)
)

// newSpec reads the tags of a verb's struct. Its errors are programming
// errors: the tests build every verb's spec.
func newSpec(t reflect.Type) (*spec, error) {
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%v is not a struct", t)
	}
	v, ok := reflect.Zero(t).Interface().(Verb)
	if !ok {
		return nil, fmt.Errorf("%v has no Verb method", t)
	}
	s := &spec{verb: ctl.Verb{Name: v.Verb()}}
	var usage []string
	var sawOptional, sawSlice, sawWord bool
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		f := field{index: i, usage: sf.Tag.Get("usage")}
		bad := func(format string, a ...any) error {
			return fmt.Errorf("%v.%s: "+format, append([]any{t, sf.Name}, a...)...)
		}
		arg, isArg := sf.Tag.Lookup("arg")
		key, isOpt := sf.Tag.Lookup("ctl")
		word, isWord := sf.Tag.Lookup("word")
		argv, isArgv := sf.Tag.Lookup("argv")
		switch {
		case isArg:
			name, opts := split(arg)
			f.kind, f.name, f.required = kindArg, name, !opts["optional"]
			f.slice = sf.Type == stringsType
			if sf.Type != stringType && !f.slice {
				return nil, bad("an arg is a string or a []string")
			}
			switch {
			case sawWord:
				return nil, bad("positional words come before bare words")
			case sawOptional:
				return nil, bad("an optional positional word must be the last")
			case sawSlice && (f.slice || !f.required):
				return nil, bad("only required positional words may follow a variadic one")
			}
			part := f.name
			if f.slice {
				part += "..."
				sawSlice = true
				s.verb.MaxArgs = -1
			}
			if sawSlice && !f.slice {
				s.fixedAfter++
			}
			if f.required {
				s.verb.MinArgs++
			} else {
				part, sawOptional = "["+part+"]", true
			}
			if s.verb.MaxArgs >= 0 {
				s.verb.MaxArgs++
			}
			usage = append(usage, part)
		case isOpt:
			name, opts := split(key)
			f.kind, f.name, f.required, f.inverse = kindOpt, name, opts["required"], opts["inverse"]
			f.slice, f.boolean = sf.Type == stringsType, sf.Type == boolType
			switch {
			case sf.Type != stringType && !f.slice && !f.boolean:
				return nil, bad("an option is a string, a []string or a bool")
			case f.required && sf.Type != stringType:
				return nil, bad("only a string option may be required")
			case f.inverse && !f.boolean:
				return nil, bad("only a bool option may be inverse")
			case isWord && !f.boolean:
				return nil, bad("only a bool option may have a bare word")
			}
			s.verb.Keys = append(s.verb.Keys, name)
			if f.required {
				s.verb.Required = append(s.verb.Required, name)
			}
			val := f.usage
			if f.boolean && val == "" {
				val = "true"
				if f.inverse {
					val = "false"
				}
			}
			part := name + "=" + val
			if !f.required {
				part = "[" + part + "]"
			}
			if f.slice {
				part += "..."
			}
			if isWord {
				f.word, part = word, "["+word+"]"
				sawWord = true
				if s.verb.MaxArgs >= 0 {
					s.verb.MaxArgs++
				}
			}
			usage = append(usage, part)
		case isWord:
			f.kind, f.name = kindWord, word
			if sf.Type != boolType {
				return nil, bad("a word is a bool")
			}
			sawWord = true
			if s.verb.MaxArgs >= 0 {
				s.verb.MaxArgs++
			}
			usage = append(usage, "["+word+"]")
		case isArgv:
			name, opts := split(argv)
			f.kind, f.usage, f.required = kindArgv, name, opts["required"]
			if sf.Type != stringsType {
				return nil, bad("argv is a []string")
			}
			if s.verb.Argv {
				return nil, bad("a second argv")
			}
			s.verb.Argv = true
			if f.required {
				usage = append(usage, "-- "+name)
			} else {
				usage = append(usage, "[-- "+name+"]")
			}
		default:
			return nil, bad("no arg, word, ctl or argv tag")
		}
		if sawWord && (sawOptional || sawSlice) {
			return nil, bad("bare words cannot follow optional or variadic positional words")
		}
		s.fields = append(s.fields, f)
	}
	s.verb.Usage = strings.Join(append([]string{s.verb.Name}, usage...), " ")
	return s, nil
}

// split reads "name,opt,opt" of a tag.
func split(tag string) (string, map[string]bool) {
	parts := strings.Split(tag, ",")
	opts := map[string]bool{}
	for _, p := range parts[1:] {
		opts[p] = true
	}
	return parts[0], opts
}

// decode reads cmd, checked against s.verb, into rv.
func decode(s *spec, cmd ctl.Command, rv reflect.Value) error {
	args, i := cmd.Args, 0
	for _, f := range s.fields {
		if f.kind != kindArg {
			continue
		}
		fv := rv.Field(f.index)
		switch {
		case f.slice:
			end := max(len(args)-s.fixedAfter, i)
			if end > i {
				fv.Set(reflect.ValueOf(append([]string(nil), args[i:end]...)))
			}
			i = end
		case i < len(args):
			fv.SetString(args[i])
			i++
		}
	}
	for _, a := range args[i:] {
		set := false
		for _, f := range s.fields {
			if (f.kind == kindWord && f.name == a || f.word != "" && f.word == a) && !rv.Field(f.index).Bool() {
				rv.Field(f.index).SetBool(true)
				set = true
				break
			}
		}
		if !set {
			return &ctl.Error{Verb: cmd.Verb, Msg: "unexpected argument", Word: a, Usage: s.verb.Usage}
		}
	}
	for _, f := range s.fields {
		fv := rv.Field(f.index)
		switch {
		case f.kind == kindArgv:
			if cmd.Argv == nil && f.required {
				return &ctl.Error{Verb: cmd.Verb, Msg: "missing command line after", Word: "--"}
			}
			if cmd.Argv != nil {
				fv.Set(reflect.ValueOf(append([]string{}, cmd.Argv...)))
			}
		case f.kind != kindOpt:
		case f.boolean:
			if _, ok := cmd.Get(f.name); ok {
				b, err := cmd.Bool(f.name, false)
				if err != nil {
					return err
				}
				fv.SetBool(b != f.inverse)
			}
		case f.slice:
			if all := cmd.All(f.name); all != nil {
				fv.Set(reflect.ValueOf(all))
			}
		default:
			v, _ := cmd.Get(f.name)
			fv.SetString(v)
		}
	}
	return nil
}

// typeOf is the type of a verb's struct given as a value or a pointer.
func typeOf(v Verb) reflect.Type { return reflect.Indirect(reflect.ValueOf(v)).Type() }
