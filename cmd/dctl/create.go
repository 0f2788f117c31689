package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/enginefs/enginefs/ctl"
	"github.com/enginefs/enginefs/fs"
)

// createFlags are the flags run and create share: docker run's, each passed
// to the create line under the ctl key of the same name.
type createFlags struct {
	strs   map[string]*string   // flag name → value
	arrays map[string]*[]string // repeatable flags
	bools  map[string]*bool
}

// flag tables: flag name, shorthand, ctl key ("" = same), usage.
var (
	createStrings = [][4]string{
		{"name", "", "", "assign a name to the container"},
		{"workdir", "w", "", "working directory inside the container"},
		{"hostname", "h", "", "container host name"},
		{"user", "u", "", "username or UID (format: <name|uid>[:<group|gid>])"},
		{"entrypoint", "", "", "overwrite the default ENTRYPOINT of the image"},
		{"memory", "m", "", "memory limit (e.g. 64m)"},
		{"memory-swap", "", "", "memory plus swap limit: -1 for unlimited swap"},
		{"memory-reservation", "", "", "memory soft limit"},
		{"cpus", "", "", "number of CPUs (e.g. 0.5)"},
		{"cpu-shares", "c", "", "CPU shares (relative weight)"},
		{"cpu-quota", "", "", "limit CPU CFS quota (µs)"},
		{"cpu-period", "", "", "limit CPU CFS period (µs)"},
		{"cpuset-cpus", "", "", "CPUs in which to allow execution (0-3, 0,1)"},
		{"pids-limit", "", "", "tune the container's pids limit (-1 for unlimited)"},
		{"shm-size", "", "", "size of /dev/shm"},
		{"restart", "", "", "restart policy: no, always, unless-stopped, on-failure[:max-retries]"},
		{"stop-signal", "", "", "signal to stop the container"},
		{"stop-timeout", "", "", "timeout (in seconds) to stop a container"},
		{"runtime", "", "", "runtime to use for this container (builtin, runc, ...)"},
		{"network", "", "", "connect a container to a network (bridge, host, none, or a network's name)"},
		{"ip", "", "", "IPv4 address on the network of --network"},
		{"volume-driver", "", "", "volume driver of the container's named volumes"},
	}
	createArrays = [][4]string{
		{"env", "e", "", "set environment variables (KEY=value, or KEY to pass the client's value)"},
		{"group-add", "", "", "add additional groups to join"},
		{"cap-add", "", "", "add Linux capabilities"},
		{"cap-drop", "", "", "drop Linux capabilities"},
		{"security-opt", "", "", "security options (no-new-privileges)"},
		{"ulimit", "", "", "ulimit options (nofile=1024:2048)"},
		{"publish", "p", "", "publish a container's port(s) to the host ([hostip:][hostport:]port[/proto])"},
		{"expose", "", "", "expose a port or a range of ports"},
		{"network-alias", "", "alias", "add a network-scoped alias for the container"},
		{"volume", "v", "", "bind mount a volume ([name|/host/path:]/container/path[:ro])"},
		{"mount", "", "", "attach a filesystem mount to the container (type=volume|bind|tmpfs,src=,dst=,...)"},
		{"tmpfs", "", "", "mount a tmpfs directory (/path[:options])"},
		{"volumes-from", "", "", "mount volumes from the specified container(s) (CONTAINER[:ro])"},
	}
	createBools = [][4]string{
		{"rm", "", "", "automatically remove the container when it exits"},
		{"tty", "t", "", "allocate a pseudo-TTY"},
		{"interactive", "i", "stdin", "keep STDIN open even if not attached"},
		{"privileged", "", "", "give extended privileges to this container"},
		{"read-only", "", "", "mount the container's root filesystem as read only"},
		{"publish-all", "P", "", "publish all exposed ports to random ports"},
	}
)

func (f *createFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.SetInterspersed(false) // flags after the image belong to the container's command
	f.strs, f.arrays, f.bools = map[string]*string{}, map[string]*[]string{}, map[string]*bool{}
	for _, d := range createStrings {
		f.strs[d[0]] = fl.StringP(d[0], d[1], "", d[3])
	}
	for _, d := range createArrays {
		f.arrays[d[0]] = fl.StringArrayP(d[0], d[1], nil, d[3])
	}
	for _, d := range createBools {
		f.bools[d[0]] = fl.BoolP(d[0], d[1], false, d[3])
	}
	fl.Bool("help", false, "help for "+cmd.Name()) // keep -h for --hostname, as docker does
}

func key(d [4]string) string {
	if d[2] != "" {
		return d[2]
	}
	return d[0]
}

// line builds the create command for the container's ctl.
func (f *createFlags) line(cmd *cobra.Command, image string, argv []string) ctl.Command {
	c := ctl.Command{Verb: "create", Opts: []ctl.Opt{{Key: "image", Value: image}}}
	opt := func(k, v string) { c.Opts = append(c.Opts, ctl.Opt{Key: k, Value: v}) }
	for _, d := range createStrings {
		if cmd.Flags().Changed(d[0]) {
			opt(key(d), *f.strs[d[0]])
		}
	}
	for _, d := range createArrays {
		for _, v := range *f.arrays[d[0]] {
			if d[0] == "env" && !strings.Contains(v, "=") {
				val, ok := os.LookupEnv(v)
				if !ok {
					continue
				}
				v += "=" + val
			}
			switch d[0] {
			case "volume":
				v = absVolume(v)
			case "mount":
				v = absMount(v)
			}
			opt(key(d), v)
		}
	}
	for _, d := range createBools {
		if *f.bools[d[0]] {
			opt(key(d), "true")
		}
	}
	if *f.bools["interactive"] {
		opt("stdin-once", "true") // as docker run -i: the client's EOF closes the container's stdin
	}
	if len(argv) > 0 {
		c.Argv = argv
	}
	return c
}

// create makes a container through containers/clone and returns its id and
// the clone handle, which acts as the container's ctl until closed.
func (c *cli) create(ctx context.Context, line ctl.Command) (string, fs.Handle, error) {
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
	if _, err := fs.WriteCommand(ctx, h, line.String()); err != nil {
		h.Close()
		return "", nil, err
	}
	if net, _ := line.Get("network"); net == "host" && len(line.All("publish")) > 0 {
		// dockerd's warning, which the docker CLI prints: the
		// container is made, and publishes nothing.
		fmt.Fprintln(os.Stderr, "WARNING: Published ports are discarded when using host network mode")
	}
	return id, h, nil
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
	fields, err := csv.NewReader(strings.NewReader(v)).Read()
	if err != nil {
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
