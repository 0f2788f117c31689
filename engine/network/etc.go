package network

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// EtcFiles writes the starting container's /etc/hosts and /etc/resolv.conf
// into its directory and returns the bind mounts that put them in place,
// as docker does. In the host's namespace they are the host's. Otherwise
// /etc/hosts names the container's own addresses under hostname, and
// resolv.conf is the embedded DNS's on a user-defined network, else the
// host's without loopback nameservers, which do not answer inside the
// container's network namespace.
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
` + self)
	resolv := hostResolvConf()
	switch {
	case sb.Host():
		hosts, _ = os.ReadFile("/etc/hosts")
		resolv, _ = os.ReadFile("/etc/resolv.conf")
	case sb.dns:
		resolv = embeddedResolvConf()
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
// domains and options, as docker does on user-defined networks.
func embeddedResolvConf() []byte {
	var out bytes.Buffer
	out.WriteString("nameserver 127.0.0.11\n")
	data, _ := os.ReadFile("/etc/resolv.conf")
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 0 && (f[0] == "search" || f[0] == "domain" || f[0] == "options") {
			out.WriteString(line + "\n")
		}
	}
	out.WriteString("options ndots:0\n")
	return out.Bytes()
}
