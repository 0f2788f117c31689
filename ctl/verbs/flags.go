package verbs

import (
	"fmt"
	"reflect"
	"strings"
)

// Flag is the command-line flag of an option of a verb, given on its
// field as flag:"NAME[,SHORTHAND][,single]" and help:"TEXT": dctl's create
// and run flags are Create's.
type Flag struct {
	Name, Shorthand, Help string
	Key                   string // the option the flag sets
	// Value points into the verb: a *string, a *[]string (a repeatable
	// flag), a *bool, or a Value for a repeatable option that the flag
	// gives as one string (single: --entrypoint "" gives entrypoint='').
	Value any
}

// Value is a flag value that is not a plain string, list or bool: the
// methods of pflag.Value.
type Value interface {
	String() string
	Set(string) error
	Type() string
}

// Flags returns the flags of v, a pointer to a verb's struct, in the
// order of its fields.
func Flags(v Verb) []Flag {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		panic(fmt.Sprintf("verbs.Flags: %T is not a pointer to a verb", v))
	}
	rv = rv.Elem()
	s := specOf(rv.Type())
	var out []Flag
	for _, f := range s.fields {
		sf := rv.Type().Field(f.index)
		tag, ok := sf.Tag.Lookup("flag")
		if !ok {
			continue
		}
		if f.kind != kindOpt {
			panic(fmt.Sprintf("verbs: %v.%s: a flag sets an option", rv.Type(), sf.Name))
		}
		parts := strings.Split(tag, ",")
		fl := Flag{Name: parts[0], Help: sf.Tag.Get("help"), Key: f.name, Value: rv.Field(f.index).Addr().Interface()}
		if len(parts) > 1 {
			fl.Shorthand = parts[1]
		}
		if len(parts) > 2 && parts[2] == "single" {
			if !f.slice {
				panic(fmt.Sprintf("verbs: %v.%s: only a repeatable option takes a single flag", rv.Type(), sf.Name))
			}
			fl.Value = oneWord{rv.Field(f.index).Addr().Interface().(*[]string)}
		}
		out = append(out, fl)
	}
	return out
}

// oneWord is a string flag that sets a list to that one word.
type oneWord struct{ p *[]string }

func (w oneWord) String() string {
	if len(*w.p) == 0 {
		return ""
	}
	return (*w.p)[0]
}

func (w oneWord) Set(s string) error {
	*w.p = []string{s}
	return nil
}

func (oneWord) Type() string { return "string" }
