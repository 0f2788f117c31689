package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/cli/pkg/kvfile"
	"github.com/spf13/cobra"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/fs"
)

// createFlags are the flags run and create share: docker run's, those of
// verbs.Create's fields (verbs.Flags), which the flags set.
type createFlags struct {
	c                  verbs.Create
	envFile, labelFile []string
	labels             []string
}

func (f *createFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.SetInterspersed(false) // flags after the image belong to the container's command
	for _, d := range verbs.Flags(&f.c) {
		switch v := d.Value.(type) {
		case *string:
			fl.StringVarP(v, d.Name, d.Shorthand, "", d.Help)
		case *[]string:
			fl.StringArrayVarP(v, d.Name, d.Shorthand, nil, d.Help)
		case *bool:
			fl.BoolVarP(v, d.Name, d.Shorthand, false, d.Help)
		case verbs.Value:
			fl.VarP(v, d.Name, d.Shorthand, d.Help)
		default:
			panic(fmt.Sprintf("flag %s: a %T", d.Name, d.Value))
		}
	}
	fl.StringArrayVar(&f.envFile, "env-file", nil, "read in a file of environment variables")
	fl.StringArrayVar(&f.labelFile, "label-file", nil, "read in a line delimited file of labels")
	if fl.Lookup("label") == nil {
		fl.StringArrayVarP(&f.labels, "label", "l", nil, "set meta data on a container")
	}
	fl.Bool("help", false, "help for "+cmd.Name()) // keep -h for --hostname, as docker does
}

// create is the create line of the flags, the image and its command, as
// docker run makes it: -e KEY takes the client's value (or is dropped),
// -v and --mount sources that start with "." are made absolute, -i
// closes the container's stdin at the client's EOF, and
// --security-opt seccomp=FILE sends the file's JSON, compacted, as docker's
// CLI does (the daemon may be on another host).
func (f *createFlags) create(image string, argv []string) (verbs.Create, error) {
	c := f.c
	c.Image = image
	if len(argv) > 0 {
		c.Cmd = argv
	}
	// docker's order: the files' lines first, then the flags', so that a
	// flag overrides a file.
	env, err := readKVFiles(f.envFile, os.LookupEnv)
	if err != nil {
		return c, err
	}
	c.Env = env
	labels, err := readKVFiles(f.labelFile, nil)
	if err != nil {
		return c, err
	}
	c.Label = append(append(labels, f.c.Label...), f.labels...)
	for _, v := range f.c.Env {
		if !strings.Contains(v, "=") {
			val, ok := os.LookupEnv(v)
			if !ok {
				continue
			}
			v += "=" + val
		}
		c.Env = append(c.Env, v)
	}
	c.Volume, c.Mount = nil, nil
	for _, v := range f.c.Volume {
		c.Volume = append(c.Volume, absVolume(v))
	}
	for _, v := range f.c.Mount {
		c.Mount = append(c.Mount, absMount(v))
	}
	c.SecurityOpt = nil
	for _, o := range f.c.SecurityOpt {
		k, v, _ := strings.Cut(o, "=")
		if k == "seccomp" && v != "" && v != "unconfined" && v != "builtin" {
			data, err := os.ReadFile(v)
			if err != nil {
				return c, fmt.Errorf("opening seccomp profile (%s) failed: %w", v, err)
			}
			var b bytes.Buffer
			if err := json.Compact(&b, data); err != nil {
				return c, fmt.Errorf("compacting json for seccomp profile (%s) failed: %w", v, err)
			}
			o = "seccomp=" + b.String()
		}
		c.SecurityOpt = append(c.SecurityOpt, o)
	}
	c.StdinOnce = c.Stdin // as docker run -i: the client's EOF closes the container's stdin
	return c, nil
}

// create makes a container through containers/clone and returns its id and
// the clone handle, which acts as the container's ctl until closed.
func (c *cli) create(ctx context.Context, line verbs.Create) (string, fs.Handle, error) {
	client, err := c.connect(ctx)
	if err != nil {
		return "", nil, err
	}
	h, err := client.Open(ctx, "containers/clone", os.O_RDWR)
	if err != nil {
		return "", nil, err
	}
	idb, err := fs.ReadHandle(ctx, h)
	if err != nil {
		h.Close()
		return "", nil, err
	}
	id := strings.TrimSpace(string(idb))
	if _, err := fs.WriteCommand(ctx, h, verbs.Line(line)); err != nil {
		h.Close()
		return "", nil, err
	}
	if line.Network == "host" && len(line.Publish) > 0 {
		// dockerd's warning, which the docker CLI prints: the
		// container is made, and publishes nothing.
		fmt.Fprintln(os.Stderr, "WARNING: Published ports are discarded when using host network mode")
	}
	return id, h, nil
}

// readKVFiles reads --env-file or --label-file files with the docker CLI's
// own parser: KEY=VALUE lines, # comments and blank lines skipped, and a
// bare KEY taken from lookup (dropped when lookup is nil or lacks it, as
// docker drops it).
func readKVFiles(files []string, lookup func(string) (string, bool)) ([]string, error) {
	var out []string
	for _, name := range files {
		kv, err := kvfile.Parse(name, lookup)
		if err != nil {
			return nil, err
		}
		out = append(out, kv...)
	}
	return out, nil
}

// absPath makes a host path that starts with "." absolute, relative to
// dctl's working directory, as the docker CLI does (23+): the daemon has
// no idea where the client stands. Anything else is left as it is, so a
// name stays a volume's name.
func absPath(p string) string {
	if filepath.IsAbs(p) || !strings.HasPrefix(p, ".") {
		return p
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// absVolume applies absPath to the source of a -v value
// (SOURCE:TARGET[:MODE]); a bare -v /path has none.
func absVolume(v string) string {
	src, rest, ok := strings.Cut(v, ":")
	if !ok {
		return v
	}
	return absPath(src) + ":" + rest
}

// absMount applies absPath to the source= (src=) of a --mount value, a CSV
// line of key=value fields as docker reads it; a value it cannot read goes
// to the daemon as it is, for the daemon's error.
func absMount(v string) string {
	r := csv.NewReader(strings.NewReader(v))
	fields, err := r.Read()
	if err != nil {
		return v
	}
	if _, err := r.Read(); err != io.EOF { // more than one line: the daemon refuses it whole
		return v
	}
	changed := false
	for i, f := range fields {
		k, val, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		if k = strings.ToLower(strings.TrimSpace(k)); k == "source" || k == "src" {
			if abs := absPath(val); abs != val {
				fields[i], changed = k+"="+abs, true
			}
		}
	}
	if !changed {
		return v
	}
	var b strings.Builder
	w := csv.NewWriter(&b)
	if err := w.Write(fields); err != nil {
		return v
	}
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}
