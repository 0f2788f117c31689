package network

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/netdrv/ipam"
)

// EtcFiles writes the starting container's /etc/hosts and /etc/resolv.conf
// into its directory and returns the bind mounts that put them in place,
// as docker does. In the host's namespace they are the host's. Otherwise
// /etc/hosts names the container's own addresses under hostname, and
// resolv.conf is the embedded DNS's on a user-defined network, else the
// host's without loopback nameservers, which do not answer inside the
// container's network namespace. The container's --add-host entries are
// added to /etc/hosts, its --dns, --dns-search and --dns-option replace
// those of resolv.conf (withDNS).
func (sb *Sandbox) EtcFiles(hostname string) ([]specs.Mount, error) {
	self := "127.0.1.1\t" + hostname + "\n"
	if len(sb.addrs) > 0 {
		self = ""
		for _, a := range sb.addrs {
			self += a.String() + "\t" + hostname + "\n"
		}
	}
	hosts := []byte(`127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
fe00::0	ip6-localnet
ff00::0	ip6-mcastprefix
ff02::1	ip6-allnodes
ff02::2	ip6-allrouters
`)
	resolv := hostResolvConf()
	switch {
	case sb.Host():
		hosts, _ = os.ReadFile("/etc/hosts")
		resolv, _ = os.ReadFile("/etc/resolv.conf")
	case sb.dns:
		resolv = embeddedResolvConf(sb.c.Settings)
	}
	extra, err := sb.m.extraHosts(sb.c.ExtraHosts)
	if err != nil {
		return nil, err
	}
	hosts = append(hosts, extra...)
	for _, l := range sb.links {
		hosts = append(hosts, l.hostsLine()...)
	}
	if !sb.Host() {
		hosts = append(hosts, self...)
	}
	if !sb.dns {
		resolv = withDNS(resolv, sb.c.Settings, false)
	}
	files := []struct {
		name, dest string
		data       []byte
	}{
		{"hosts", "/etc/hosts", hosts},
		{"resolv.conf", "/etc/resolv.conf", resolv},
	}
	var mounts []specs.Mount
	for _, f := range files {
		path := filepath.Join(sb.c.Dir, f.name)
		if err := os.WriteFile(path, f.data, 0o644); err != nil {
			return nil, fmt.Errorf("writing %s: %w", f.name, err)
		}
		mounts = append(mounts, specs.Mount{
			Destination: f.dest,
			Type:        "bind",
			Source:      path,
			Options:     []string{"rbind", "rprivate"},
		})
	}
	return mounts, nil
}

// hostResolvConf returns the host's /etc/resolv.conf without the nameservers
// on loopback addresses.
func hostResolvConf() []byte {
	data, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return nil
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "nameserver" {
			if ip, err := netip.ParseAddr(f[1]); err == nil && ip.IsLoopback() {
				continue
			}
		}
		out.WriteString(line + "\n")
	}
	return out.Bytes()
}

// embeddedResolvConf points at the embedded DNS, keeping the host's search
// domains and options (or the container's: c.DNSSearch, c.DNSOptions), as
// docker does on user-defined networks; the container's DNS are the
// embedded DNS's upstreams (resolver.Upstreams), not in the file.
func embeddedResolvConf(c Settings) []byte {
	var out bytes.Buffer
	out.WriteString("nameserver 127.0.0.11\n")
	data, _ := os.ReadFile("/etc/resolv.conf")
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 0 && (f[0] == "search" || f[0] == "domain" || f[0] == "options") {
			out.WriteString(line + "\n")
		}
	}
	return withDNS(out.Bytes(), c, true)
}

// withDNS replaces, in the resolv.conf data, the nameservers by c.DNS
// (unless embedded: the embedded DNS stays the nameserver), the search
// domains by c.DNSSearch ("." alone: none) and the options by
// c.DNSOptions, as docker's --dns, --dns-search and --dns-option do; an
// empty list keeps the file's lines. Behind the embedded DNS, options get
// ndots:0 unless they set ndots.
func withDNS(data []byte, c Settings, embedded bool) []byte {
	drop := map[string]bool{
		"nameserver": len(c.DNS) > 0 && !embedded,
		"search":     len(c.DNSSearch) > 0, "domain": len(c.DNSSearch) > 0,
		"options": len(c.DNSOptions) > 0,
	}
	var out bytes.Buffer
	for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		if f := strings.Fields(line); line == "" || (len(f) > 0 && drop[f[0]]) {
			continue
		}
		out.WriteString(line + "\n")
	}
	if !embedded {
		for _, ns := range c.DNS {
			out.WriteString("nameserver " + ns + "\n")
		}
	}
	if len(c.DNSSearch) > 0 && !(len(c.DNSSearch) == 1 && c.DNSSearch[0] == ".") {
		out.WriteString("search " + strings.Join(c.DNSSearch, " ") + "\n")
	}
	if len(c.DNSOptions) > 0 {
		out.WriteString("options " + strings.Join(c.DNSOptions, " ") + "\n")
	}
	if embedded && !slices.ContainsFunc(c.DNSOptions, func(o string) bool { return strings.HasPrefix(o, "ndots:") }) {
		out.WriteString("options ndots:0\n")
	}
	return out.Bytes()
}

// extraHosts are the /etc/hosts lines of docker's --add-host entries
// (HOST:IP); IP host-gateway is the default bridge's gateway, as dockerd's
// default --host-gateway-ip.
func (m *Manager) extraHosts(entries []string) ([]byte, error) {
	var out bytes.Buffer
	for _, e := range entries {
		host, ip, _ := strings.Cut(e, ":")
		if ip == hostGateway {
			if !m.cfg.BridgeSubnet.IsValid() {
				return nil, errdefs.Invalid("unable to derive the IP value for host-gateway")
			}
			ip = ipam.FirstHost(m.cfg.BridgeSubnet).String()
		}
		out.WriteString(ip + "\t" + host + "\n")
	}
	return out.Bytes(), nil
}

// hostGateway is the IP of an --add-host entry that stands for the
// default bridge's gateway.
const hostGateway = "host-gateway"
