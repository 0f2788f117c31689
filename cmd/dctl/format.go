package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/template"

	"github.com/docker/cli/cli/command/formatter/tabwriter"
	"github.com/docker/cli/templates"
)

// Formats: --format takes docker's Go templates, parsed by the docker CLI's
// own templates package (json, join, split, title, lower, upper, pad,
// truncate) and laid out by its tabwriter, so that a format written for
// docker prints the same here. The CLI's formatter package itself is not
// used: it works on the moby/moby/api types, a module this one does not
// otherwise need.

const (
	tableKey = "table" // --format "table ..." prints a header and aligned columns
	jsonKey  = "json"  // --format json is {{json .}}
)

// format is a parsed --format: the template and whether it is a table.
type format struct {
	tmpl  *template.Template
	table bool
}

// parseFormat parses a --format value; def is the table format used for
// "" and a bare "table".
func parseFormat(src, def string) (*format, error) {
	switch src {
	case "", tableKey:
		src = def
	case jsonKey:
		src = "{{json .}}"
	}
	f := &format{}
	if rest, ok := strings.CutPrefix(src, tableKey); ok {
		f.table, src = true, rest
	}
	src = strings.Trim(src, " ")
	src = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(src)
	t, err := templates.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("template parsing error: %w", err)
	}
	f.tmpl = t
	return f, nil
}

// uses reports whether the template names the field (.Size asks ps for
// sizes, as docker's does).
func (f *format) uses(field string) bool {
	return strings.Contains(f.tmpl.Root.String(), "."+field)
}

// write prints each row through the template, one line each; a table gets
// header (the column titles by field name) first and its columns aligned
// as docker aligns them.
func (f *format) write(w io.Writer, header map[string]string, rows []any) error {
	var buf bytes.Buffer
	for _, r := range rows {
		if err := f.tmpl.Execute(&buf, r); err != nil {
			return fmt.Errorf("template parsing error: %w", err)
		}
		buf.WriteByte('\n')
	}
	if !f.table {
		_, err := buf.WriteTo(w)
		return err
	}
	tw := tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
	// As docker's, a header the template cannot make (a method with
	// arguments, like .Label "k") is printed as far as it goes.
	_ = f.tmpl.Funcs(templates.HeaderFunctions).Execute(tw, header)
	tw.Write([]byte{'\n'})
	buf.WriteTo(tw)
	return tw.Flush()
}
