package main

import (
	"fmt"
	"net"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

// portBinding is a host side of a published port in inspect's
// NetworkSettings.Ports.
type portBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string `json:"HostPort"`
}

func (c *cli) portCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings or a specific mapping for the container",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := containerDir(args[0])
			if err != nil {
				return err
			}
			var doc struct {
				NetworkSettings struct{ Ports map[string][]portBinding }
			}
			if err := c.readJSON(cmd.Context(), dir+"inspect", &doc); err != nil {
				return notFound(err, args[0])
			}
			ports := doc.NetworkSettings.Ports
			var out []string
			if len(args) == 2 {
				port, proto, _ := strings.Cut(args[1], "/")
				if proto == "" {
					proto = "tcp"
				}
				key := port + "/" + proto
				if _, err := parsePortRange(port); err != nil {
					return fmt.Errorf("invalid port %q: %w", port, err)
				}
				if len(ports[key]) == 0 {
					return fmt.Errorf("no public port '%s' published for %s", key, args[0])
				}
				for _, b := range ports[key] {
					out = append(out, net.JoinHostPort(b.HostIP, b.HostPort))
				}
			} else {
				for from, bs := range ports {
					for _, b := range bs {
						out = append(out, from+" -> "+net.JoinHostPort(b.HostIP, b.HostPort))
					}
				}
			}
			sort.Slice(out, func(i, j int) bool { return naturalLess(out[i], out[j]) })
			for _, l := range out {
				fmt.Println(l)
			}
			return nil
		},
	}
}

// parsePortRange checks a port number (or START-END) as docker's nat does.
func parsePortRange(p string) (int, error) {
	start, end, _ := strings.Cut(p, "-")
	var n int
	for _, s := range []string{start, end} {
		if s == "" && s == end {
			continue
		}
		v := 0
		if s == "" || len(s) > 5 {
			return 0, fmt.Errorf("invalid port number")
		}
		for _, r := range s {
			if r < '0' || r > '9' {
				return 0, fmt.Errorf("invalid port number")
			}
			v = v*10 + int(r-'0')
		}
		if v > 65535 {
			return 0, fmt.Errorf("port %d out of range", v)
		}
		n = v
	}
	return n, nil
}

// naturalLess orders strings as docker port sorts its lines: runs of
// digits by their value, the rest byte by byte.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

// digits is the length of the run of ASCII digits s starts with.
func digits(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}
