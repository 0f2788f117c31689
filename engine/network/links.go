package network

import (
	"cmp"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/docker/go-connections/nat"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/internal/ids"
)

// MaxLinks caps the legacy links of one container: each is a container
// looked up at every start and a block of environment variables.
const MaxLinks = 64

// link is a legacy link (docker's --link NAME[:ALIAS]) resolved when the
// linking container starts: the linked container's address on the default
// bridge, its names and its exposed ports.
type link struct {
	alias    string // ALIAS, or NAME
	name     string // the linked container's name
	hostname string // its hostname (its short id unless it has one)
	ip       netip.Addr
	ports    []nat.Port
	env      []string // its configured environment
}

// ParseLink splits docker's NAME[:ALIAS] (the API's "name:alias", either
// part perhaps with a leading '/'); the alias defaults to the name.
func ParseLink(s string) (name, alias string, err error) {
	name, alias, _ = strings.Cut(s, ":")
	name, alias = strings.TrimPrefix(name, "/"), strings.TrimPrefix(alias, "/")
	if i := strings.LastIndex(alias, "/"); i >= 0 {
		alias = alias[i+1:] // the API's /parent/alias
	}
	if alias == "" {
		alias = name
	}
	if name == "" || !validAlias.MatchString(alias) {
		return "", "", errdefs.Invalid("invalid link %q: want NAME[:ALIAS], an alias of [a-zA-Z0-9][a-zA-Z0-9_.-]*", s)
	}
	return name, alias, nil
}

// checkLinks refuses the links of c where docker does: anywhere but on the
// default bridge network (mode), more than MaxLinks, and a bad NAME:ALIAS.
func checkLinks(c Container, mode string) error {
	if len(c.Links) == 0 {
		return nil
	}
	switch {
	case mode == Host:
		return errdefs.Invalid("conflicting options: host type networking can't be used with links. This would result in undefined behavior")
	case mode != Bridge:
		return errdefs.Invalid("links are supported on the default bridge network only, not on %s (containers on a user-defined network find each other by name)", mode)
	case len(c.Links) > MaxLinks:
		return errdefs.Invalid("%d links, more than %d (MaxLinks)", len(c.Links), MaxLinks)
	}
	for _, l := range c.Links {
		if _, _, err := ParseLink(l); err != nil {
			return err
		}
	}
	return nil
}

// resolveLinks finds the containers c links to, which must be running on
// the default bridge, as docker requires when a container starts.
func (m *Manager) resolveLinks(c Container, mode string) ([]link, error) {
	if err := checkLinks(c, mode); err != nil {
		return nil, err
	}
	var out []link
	for _, l := range c.Links {
		name, alias, _ := ParseLink(l)
		child, err := m.ctrs.Get(name)
		if err != nil {
			return nil, fmt.Errorf("could not get container for %s: %w", name, err)
		}
		if child.ID == c.ID {
			return nil, errdefs.Invalid("cannot link container %s to itself", cmp.Or(c.Name, ids.Short(c.ID)))
		}
		ep := child.Endpoints[Bridge]
		if !child.Live || ep == nil || !ep.IPAddress.IsValid() {
			return nil, errdefs.Busy("Cannot link to a non running container: /%s AS /%s/%s", child.Name, c.Name, alias)
		}
		ports := map[nat.Port]bool{}
		for p := range child.ExposedPorts {
			ports[p] = true
		}
		for p := range child.Ports {
			ports[p] = true
		}
		lk := link{alias: alias, name: child.Name, hostname: cmp.Or(child.Hostname, ids.Short(child.ID)), ip: ep.IPAddress, env: child.Env}
		for p := range ports {
			lk.ports = append(lk.ports, p)
		}
		// By number, tcp first: docker's order.
		sort.Slice(lk.ports, func(i, j int) bool {
			a, b := lk.ports[i], lk.ports[j]
			if a.Int() != b.Int() {
				return a.Int() < b.Int()
			}
			return a.Proto() == "tcp" && b.Proto() != "tcp"
		})
		out = append(out, lk)
	}
	return out, nil
}

// hostsLine is the /etc/hosts line of l in the linking container: the
// alias, the hostname and, when it differs from the alias, the name.
func (l link) hostsLine() string {
	names := l.alias + " " + l.hostname
	if l.alias != l.name {
		names += " " + l.name
	}
	return l.ip.String() + "\t" + names + "\n"
}

// linkEnv is docker's environment of a link seen from the container
// parent: ALIAS_PORT, ALIAS_PORT_<port>_<PROTO>{,_ADDR,_PORT,_PROTO} (and
// _START/_END for a run of consecutive ports), ALIAS_NAME and ALIAS_ENV_<K>
// for the linked container's variables but HOME and PATH.
func (l link) linkEnv(parent string) []string {
	alias := strings.ReplaceAll(strings.ToUpper(l.alias), "-", "_")
	var env []string
	add := func(format string, args ...any) { env = append(env, alias+fmt.Sprintf(format, args...)) }
	ip := l.ip.String()
	if len(l.ports) > 0 {
		p := l.ports[0]
		add("_PORT=%s://%s:%s", p.Proto(), ip, p.Port())
	}
	for i := 0; i < len(l.ports); {
		// docker's run: each next port at most one above a counter
		// that goes up by one a port (so 53/tcp 53/udp 54/tcp is one).
		j, v := i, l.ports[i].Int()
		for k := i + 1; k < len(l.ports) && l.ports[k].Int() <= v+1; k++ {
			j, v = k, v+1
		}
		if j > i {
			p, q := l.ports[i], l.ports[j]
			P := strings.ToUpper(p.Proto())
			add("_PORT_%s_%s_START=%s://%s:%s", p.Port(), P, p.Proto(), ip, p.Port())
			add("_PORT_%s_%s_ADDR=%s", p.Port(), P, ip)
			add("_PORT_%s_%s_PROTO=%s", p.Port(), P, p.Proto())
			add("_PORT_%s_%s_PORT_START=%s", p.Port(), P, p.Port())
			add("_PORT_%s_%s_END=%s://%s:%s", p.Port(), strings.ToUpper(q.Proto()), q.Proto(), ip, q.Port())
			add("_PORT_%s_%s_PORT_END=%s", p.Port(), strings.ToUpper(q.Proto()), q.Port())
			i = j + 1
			continue
		}
		i++
	}
	for _, p := range l.ports {
		P := strings.ToUpper(p.Proto())
		add("_PORT_%s_%s=%s://%s:%s", p.Port(), P, p.Proto(), ip, p.Port())
		add("_PORT_%s_%s_ADDR=%s", p.Port(), P, ip)
		add("_PORT_%s_%s_PORT=%s", p.Port(), P, p.Port())
		add("_PORT_%s_%s_PROTO=%s", p.Port(), P, p.Proto())
	}
	add("_NAME=/%s/%s", parent, l.alias)
	for _, kv := range l.env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "HOME" || k == "PATH" {
			continue
		}
		add("_ENV_%s=%s", k, v)
	}
	return env
}

// LinkEnv returns env with the environment of the container's legacy links
// before it; a variable env sets wins over a link's, as in docker.
func (sb *Sandbox) LinkEnv(env []string) []string {
	if len(sb.links) == 0 {
		return env
	}
	set := map[string]bool{}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		set[k] = true
	}
	var out []string
	for _, l := range sb.links {
		for _, kv := range l.linkEnv(sb.c.Name) {
			if k, _, _ := strings.Cut(kv, "="); !set[k] {
				out = append(out, kv)
			}
		}
	}
	return append(out, env...)
}
