package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/go-units"
	"github.com/spf13/cobra"
)

// listEntry is an element of containers/list: docker's container summary,
// with the exit code and health status the filters need.
type listEntry struct {
	container.Summary
	ExitCode int
	// Health is the health status, "none" without a health check.
	Health string
}

// defaultPsFormat is docker ps's table.
const defaultPsFormat = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"

// psHeader names the columns of ps --format table, as docker's.
var psHeader = map[string]string{
	"ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
	"RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE",
	"Labels": "LABELS", "Label": "LABEL", "Mounts": "MOUNTS", "LocalVolumes": "LOCAL VOLUMES",
	"Networks": "NETWORKS", "HealthStatus": "HEALTH STATUS",
}

// psFilters are docker ps's filters.
var psFilters = map[string]bool{"status": true, "name": true, "id": true, "label": true, "ancestor": true, "exited": true,
	"health": true, "network": true, "volume": true, "before": true, "since": true, "publish": true, "expose": true}

func (c *cli) psCmd() *cobra.Command {
	var all, quiet, noTrunc, size, latest bool
	var last int
	var filterFlags []string
	var formatFlag string
	cmd := &cobra.Command{
		Use:   "ps [OPTIONS]",
		Short: "List containers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := parseFilters(filterFlags)
			if err != nil {
				return err
			}
			if err := f.Validate(psFilters); err != nil {
				return err
			}
			for _, st := range f.Get("status") {
				switch st {
				case "created", "restarting", "running", "removing", "paused", "exited", "dead":
				default:
					return fmt.Errorf("invalid filter 'status=%s'", st)
				}
			}
			for _, h := range f.Get("health") {
				if err := container.ValidateHealthStatus(container.HealthStatus(h)); err != nil {
					return fmt.Errorf("Unrecognised filter value for health: %s", h)
				}
			}
			if latest && last == -1 {
				last = 1
			}
			src := formatFlag
			if quiet && (src == "" || !strings.HasPrefix(src, tableKey)) {
				src = "{{.ID}}"
			}
			form, err := parseFormat(src, defaultPsFormat)
			if err != nil {
				return err
			}
			if size && (formatFlag == "" || formatFlag == tableKey) && !quiet {
				form, _ = parseFormat(defaultPsFormat+`\t{{.Size}}`, "")
			}
			if !cmd.Flags().Changed("size") && form.uses("Size") {
				size = true
			}
			var list []listEntry
			if err := c.readJSON(cmd.Context(), "containers/list", &list); err != nil {
				return err
			}
			selected, err := psSelect(list, f, all || last > 0, last)
			if err != nil {
				return err
			}
			var rows []any
			for _, e := range selected {
				if size {
					var sz struct{ SizeRw, SizeRootFs int64 }
					if err := c.readJSON(cmd.Context(), "containers/"+e.ID+"/size", &sz); err != nil {
						continue // removed meanwhile
					}
					e.SizeRw, e.SizeRootFs = sz.SizeRw, sz.SizeRootFs
				}
				rows = append(rows, &psRow{c: e.Summary, trunc: !noTrunc})
			}
			return form.write(os.Stdout, psHeader, rows)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&all, "all", "a", false, "show all containers (default shows just running)")
	fl.BoolVarP(&quiet, "quiet", "q", false, "only display container IDs")
	fl.BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")
	fl.BoolVarP(&size, "size", "s", false, "display total file sizes")
	fl.BoolVarP(&latest, "latest", "l", false, "show the latest created container (includes all states)")
	fl.IntVarP(&last, "last", "n", -1, "show n last created containers (includes all states)")
	fl.StringArrayVarP(&filterFlags, "filter", "f", nil, "filter output based on conditions provided")
	fl.StringVar(&formatFlag, "format", "", "format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
	return cmd
}

// parseFilters reads --filter name=value flags as docker's CLI does.
func parseFilters(flags []string) (filters.Args, error) {
	f := filters.NewArgs()
	for _, v := range flags {
		k, val, ok := strings.Cut(v, "=")
		if !ok {
			return f, fmt.Errorf("invalid argument %q for \"-f, --filter\" flag: bad format of filter (expected name=value)", v)
		}
		f.Add(strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(val))
	}
	return f, nil
}

// psSelect is what docker ps shows of list: newest first, the running
// ones unless all (or a status filter), those matching f, at most last
// (-1: no limit). A before= or since= naming no container is an error, as
// docker's.
func psSelect(list []listEntry, f filters.Args, all bool, last int) ([]listEntry, error) {
	list = slices.Clone(list)
	slices.Reverse(list) // the tree lists in creation order; Created is in seconds
	sort.SliceStable(list, func(i, j int) bool { return list[i].Created > list[j].Created })
	var before, since *listEntry
	for _, key := range []string{"before", "since"} {
		for _, ref := range f.Get(key) {
			found := false
			for i := range list {
				if list[i].ID == ref || strings.HasPrefix(list[i].ID, ref) || slices.Contains(list[i].Names, "/"+ref) {
					if key == "before" {
						before = &list[i]
					} else {
						since = &list[i]
					}
					found = true
					break
				}
			}
			if !found {
				return nil, fmt.Errorf("No such container: %s", ref)
			}
		}
	}
	var out []listEntry
	for _, c := range list {
		st := string(c.State)
		if !all && st != "running" && st != "paused" && st != "restarting" && !f.Contains("status") {
			continue
		}
		if before != nil && c.Created >= before.Created || since != nil && c.Created <= since.Created {
			continue
		}
		if !psMatch(f, c) {
			continue
		}
		out = append(out, c)
		if last > 0 && len(out) == last {
			break
		}
	}
	return out, nil
}

// psMatch applies docker ps's filters to one container.
func psMatch(f filters.Args, c listEntry) bool {
	if f.Contains("status") && !f.ExactMatch("status", string(c.State)) {
		return false
	}
	health := c.Health
	if health == "" {
		health = string(container.NoHealthcheck)
	}
	if f.Contains("health") && !f.ExactMatch("health", health) {
		return false
	}
	if f.Contains("id") && !f.Match("id", c.ID) {
		return false
	}
	if f.Contains("name") && !slices.ContainsFunc(c.Names, func(n string) bool {
		return f.Match("name", n) || f.Match("name", strings.TrimPrefix(n, "/"))
	}) {
		return false
	}
	if f.Contains("label") && !f.MatchKVList("label", c.Labels) {
		return false
	}
	if f.Contains("exited") && (c.State != "exited" || !f.ExactMatch("exited", strconv.Itoa(c.ExitCode))) {
		return false
	}
	if f.Contains("ancestor") && !slices.ContainsFunc(f.Get("ancestor"), func(a string) bool {
		return sameImageRef(a, c.Image) || len(a) >= 4 && strings.HasPrefix(strings.TrimPrefix(c.ImageID, "sha256:"), strings.TrimPrefix(a, "sha256:"))
	}) {
		return false
	}
	if f.Contains("network") {
		ok := false
		if c.NetworkSettings != nil {
			for name, ep := range c.NetworkSettings.Networks {
				ok = ok || f.ExactMatch("network", name) || ep != nil && ep.NetworkID != "" && f.Match("network", ep.NetworkID)
			}
		}
		if !ok {
			return false
		}
	}
	if f.Contains("volume") && !slices.ContainsFunc(c.Mounts, func(m container.MountPoint) bool {
		return f.ExactMatch("volume", m.Name) || f.ExactMatch("volume", m.Destination) || f.ExactMatch("volume", m.Source)
	}) {
		return false
	}
	if f.Contains("publish") && !matchPorts(f, "publish", c.Ports, true) {
		return false
	}
	if f.Contains("expose") && !matchPorts(f, "expose", c.Ports, false) {
		return false
	}
	return true
}

// matchPorts reports whether one of the container's ports (published ones
// only when published) is named by a PORT[/PROTO] value of the filter key,
// as docker's publish= and expose= name the container's side.
func matchPorts(f filters.Args, key string, ports []container.Port, published bool) bool {
	for _, want := range f.Get(key) {
		port, proto, _ := strings.Cut(want, "/")
		if proto == "" {
			proto = "tcp"
		}
		for _, p := range ports {
			if (!published || p.PublicPort != 0) && strconv.Itoa(int(p.PrivatePort)) == port && p.Type == proto {
				return true
			}
		}
	}
	return false
}

// sameImageRef reports whether ref names image: equal, or equal once
// ":latest" and docker.io's prefixes are added.
func sameImageRef(ref, image string) bool {
	norm := func(s string) string {
		s = strings.TrimPrefix(strings.TrimPrefix(s, "docker.io/"), "library/")
		if i := strings.LastIndex(s, ":"); i < 0 || strings.Contains(s[i:], "/") {
			s += ":latest"
		}
		return s
	}
	return ref != "" && image != "" && (ref == image || norm(ref) == norm(image))
}

// psRow is one container as ps --format sees it: the fields of docker's
// formatter.ContainerContext.
type psRow struct {
	c     container.Summary
	trunc bool
}

// ID is the container's id, 12 characters unless --no-trunc.
func (r *psRow) ID() string {
	if r.trunc {
		return truncID(r.c.ID)
	}
	return r.c.ID
}

// truncID cuts an id (sha256: dropped) to docker's 12 characters.
func truncID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}

// Names are the container's names without their "/"; truncated, only its
// own (not those through links), as docker shows them.
func (r *psRow) Names() string {
	var names []string
	for _, n := range r.c.Names {
		n = strings.TrimPrefix(n, "/")
		if r.trunc {
			if !strings.Contains(n, "/") {
				return n
			}
			continue
		}
		names = append(names, n)
	}
	return strings.Join(names, ",")
}

// Image is the image as the container was made from it.
func (r *psRow) Image() string {
	if r.c.Image == "" {
		return "<no image>"
	}
	if r.trunc && truncID(r.c.ImageID) == truncID(r.c.Image) {
		return truncID(r.c.Image)
	}
	return r.c.Image
}

// Command is the quoted command line, cut to 20 characters unless --no-trunc.
func (r *psRow) Command() string {
	if r.trunc {
		return strconv.Quote(ellipsis(r.c.Command, 20))
	}
	return strconv.Quote(r.c.Command)
}

// CreatedAt is the creation time in Go's default layout, as docker's.
func (r *psRow) CreatedAt() string { return time.Unix(r.c.Created, 0).String() }

// RunningFor is how long ago the container was made.
func (r *psRow) RunningFor() string {
	return units.HumanDuration(time.Now().UTC().Sub(time.Unix(r.c.Created, 0))) + " ago"
}

// Ports are the published and exposed ports.
func (r *psRow) Ports() string { return portsColumn(r.c.Ports) }

// State is created, running, exited...
func (r *psRow) State() string { return string(r.c.State) }

// Status is the human status line: "Up 2 minutes", "Exited (0) ...".
func (r *psRow) Status() string { return r.c.Status }

// Size is the size of the container's changes, and with its image's.
func (r *psRow) Size() string {
	srw := units.HumanSizeWithPrecision(float64(r.c.SizeRw), 3)
	if r.c.SizeRootFs > 0 {
		return fmt.Sprintf("%s (virtual %s)", srw, units.HumanSizeWithPrecision(float64(r.c.SizeRootFs), 3))
	}
	return srw
}

// Labels are the labels as k=v, sorted, joined by commas.
func (r *psRow) Labels() string {
	kv := make([]string, 0, len(r.c.Labels))
	for k, v := range r.c.Labels {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

// Label is the value of one label.
func (r *psRow) Label(name string) string { return r.c.Labels[name] }

// Mounts are the names (or sources) of the container's mounts.
func (r *psRow) Mounts() string {
	out := make([]string, 0, len(r.c.Mounts))
	for _, m := range r.c.Mounts {
		name := m.Name
		if name == "" {
			name = m.Source
		}
		if r.trunc {
			name = ellipsis(name, 15)
		}
		out = append(out, name)
	}
	return strings.Join(out, ",")
}

// LocalVolumes counts the mounts of local volumes.
func (r *psRow) LocalVolumes() string {
	n := 0
	for _, m := range r.c.Mounts {
		if m.Driver == "local" {
			n++
		}
	}
	return strconv.Itoa(n)
}

// Networks are the names of the container's networks.
func (r *psRow) Networks() string {
	if r.c.NetworkSettings == nil {
		return ""
	}
	names := make([]string, 0, len(r.c.NetworkSettings.Networks))
	for k := range r.c.NetworkSettings.Networks {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

// HealthStatus is starting, healthy or unhealthy, from the status line.
func (r *psRow) HealthStatus() string {
	_, h, ok := strings.Cut(r.c.Status, "(")
	if !ok || !strings.HasSuffix(h, ")") {
		return ""
	}
	switch h = strings.TrimPrefix(strings.TrimSuffix(h, ")"), "health: "); container.HealthStatus(h) {
	case container.Healthy, container.Unhealthy, container.Starting:
		return h
	}
	return ""
}

// MarshalJSON is the row as {{json .}} prints it: every field by name.
func (r *psRow) MarshalJSON() ([]byte, error) {
	m := map[string]string{
		"ID": r.ID(), "Names": r.Names(), "Image": r.Image(), "Command": r.Command(), "CreatedAt": r.CreatedAt(),
		"RunningFor": r.RunningFor(), "Ports": r.Ports(), "State": r.State(), "Status": r.Status(), "Size": r.Size(),
		"Labels": r.Labels(), "Mounts": r.Mounts(), "LocalVolumes": r.LocalVolumes(), "Networks": r.Networks(),
	}
	return json.Marshal(m)
}

// portsColumn formats the PORTS column as docker does: 0.0.0.0:8080->80/tcp.
func portsColumn(ps []container.Port) string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		if p.PublicPort == 0 {
			out = append(out, fmt.Sprintf("%d/%s", p.PrivatePort, p.Type))
			continue
		}
		ip := p.IP
		if strings.Contains(ip, ":") {
			ip = "[" + ip + "]"
		}
		out = append(out, fmt.Sprintf("%s:%d->%d/%s", ip, p.PublicPort, p.PrivatePort, p.Type))
	}
	return strings.Join(out, ", ")
}
