package engine

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

// etcFiles writes the container's /etc/hostname, /etc/hosts and
// /etc/resolv.conf into its directory and returns the bind mounts that put
// them in place, as docker does. resolv.conf is the host's without loopback
// nameservers, which do not answer inside the container's network namespace.
func etcFiles(dir, hostname string) ([]specs.Mount, error) {
	hosts := fmt.Sprintf(`127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
fe00::0	ip6-localnet
ff00::0	ip6-mcastprefix
ff02::1	ip6-allnodes
ff02::2	ip6-allrouters
127.0.1.1	%s
`, hostname)
	files := []struct {
		name, dest string
		data       []byte
	}{
		{"hostname", "/etc/hostname", []byte(hostname + "\n")},
		{"hosts", "/etc/hosts", []byte(hosts)},
		{"resolv.conf", "/etc/resolv.conf", hostResolvConf()},
	}
	var mounts []specs.Mount
	for _, f := range files {
		path := filepath.Join(dir, f.name)
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
