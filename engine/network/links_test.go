package network

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/docker/go-connections/nat"
)

// TestLinkEnv: docker's variables of a link, a run of consecutive ports
// included (ToEnv of moby's links package, read for the names and order).
func TestLinkEnv(t *testing.T) {
	l := link{alias: "db-1", name: "db", hostname: "0123456789ab", ip: netip.MustParseAddr("172.17.0.5"),
		ports: []nat.Port{"53/tcp", "53/udp", "54/tcp"}, env: []string{"PATH=/bin", "HOME=/root", "A=b=c", "bare"}}
	want := []string{
		"DB_1_PORT=tcp://172.17.0.5:53",
		"DB_1_PORT_53_TCP_START=tcp://172.17.0.5:53",
		"DB_1_PORT_53_TCP_ADDR=172.17.0.5",
		"DB_1_PORT_53_TCP_PROTO=tcp",
		"DB_1_PORT_53_TCP_PORT_START=53",
		"DB_1_PORT_53_TCP_END=tcp://172.17.0.5:54",
		"DB_1_PORT_53_TCP_PORT_END=54",
		"DB_1_PORT_53_TCP=tcp://172.17.0.5:53", "DB_1_PORT_53_TCP_ADDR=172.17.0.5", "DB_1_PORT_53_TCP_PORT=53", "DB_1_PORT_53_TCP_PROTO=tcp",
		"DB_1_PORT_53_UDP=udp://172.17.0.5:53", "DB_1_PORT_53_UDP_ADDR=172.17.0.5", "DB_1_PORT_53_UDP_PORT=53", "DB_1_PORT_53_UDP_PROTO=udp",
		"DB_1_PORT_54_TCP=tcp://172.17.0.5:54", "DB_1_PORT_54_TCP_ADDR=172.17.0.5", "DB_1_PORT_54_TCP_PORT=54", "DB_1_PORT_54_TCP_PROTO=tcp",
		"DB_1_NAME=/app/db-1",
		"DB_1_ENV_A=b=c",
	}
	if got := l.linkEnv("app"); !reflect.DeepEqual(got, want) {
		t.Errorf("linkEnv:\n got %q\nwant %q", got, want)
	}
	if got, want := l.hostsLine(), "172.17.0.5\tdb-1 0123456789ab db\n"; got != want {
		t.Errorf("hostsLine %q, want %q", got, want)
	}
}

func TestParseLink(t *testing.T) {
	for _, tc := range []struct{ in, name, alias string }{
		{"web", "web", "web"}, {"web:w", "web", "w"}, {"/web:/client/w", "web", "w"},
	} {
		name, alias, err := ParseLink(tc.in)
		if err != nil || name != tc.name || alias != tc.alias {
			t.Errorf("ParseLink(%q) = %q, %q, %v; want %q, %q", tc.in, name, alias, err, tc.name, tc.alias)
		}
	}
	for _, bad := range []string{"", ":x", "web:bad alias", "web:-x"} {
		if _, _, err := ParseLink(bad); err == nil {
			t.Errorf("ParseLink(%q) took it", bad)
		}
	}
}
