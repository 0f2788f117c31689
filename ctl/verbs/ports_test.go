package verbs

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/docker/go-connections/nat"

	"github.com/enginefs/enginefs/errdefs"
)

func TestParsePublish(t *testing.T) {
	for _, tc := range []struct {
		spec string
		port nat.Port
		want []nat.PortBinding
	}{
		{"80", "80/tcp", []nat.PortBinding{{}}},
		{"8080:80", "80/tcp", []nat.PortBinding{{HostPort: "8080"}}},
		{"127.0.0.1:8080:80/udp", "80/udp", []nat.PortBinding{{HostIP: "127.0.0.1", HostPort: "8080"}}},
		{"127.0.0.1::53/udp", "53/udp", []nat.PortBinding{{HostIP: "127.0.0.1"}}},
		{"8080-8081:80-81", "81/tcp", []nat.PortBinding{{HostPort: "8081"}}},
		{"127.0.0.1:9000-9001:9000-9001/udp", "9000/udp", []nat.PortBinding{{HostIP: "127.0.0.1", HostPort: "9000"}}},
		{"80-81", "80/tcp", []nat.PortBinding{{}}},
		{"8080-8081:80", "80/tcp", []nat.PortBinding{{HostPort: "8080-8081"}}},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			exposed, bindings, err := ParsePublish([]string{tc.spec})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := exposed[tc.port]; !ok {
				t.Errorf("exposed %v, want %s", exposed, tc.port)
			}
			if got := bindings[tc.port]; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("bindings %v, want %v", got, tc.want)
			}
		})
	}
	for _, bad := range []string{"http", "70000:80", "80/sctp", "::80:1", "1.2.3:80:80", "fe80::1:80:80", "8080-8082:80-81", "81-80"} {
		if _, _, err := ParsePublish([]string{"80", bad}); !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), `"`+bad+`"`) {
			t.Errorf("ParsePublish(%q): %v, want invalid naming it", bad, err)
		}
	}
	if exposed, bindings, err := ParsePublish([]string{"8000-8002:80-82", "127.0.0.1:9000:80"}); err != nil || len(exposed) != 3 || len(bindings["80/tcp"]) != 2 {
		t.Errorf("ParsePublish of a range and another binding of its port: %v %v %v", exposed, bindings, err)
	}
}

func TestParseExpose(t *testing.T) {
	if ports, err := ParseExpose([]string{"8000-8002/udp", "80"}); err != nil || len(ports) != 4 {
		t.Errorf("ParseExpose of a range: %v, %v", ports, err)
	}
	for _, bad := range []string{"x", "80/sctp", "0", "90-80"} {
		if _, err := ParseExpose([]string{bad}); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("ParseExpose(%q): %v, want invalid", bad, err)
		}
	}
}

// TestFormatPublish: what FormatPublish writes, ParsePublish reads back.
func TestFormatPublish(t *testing.T) {
	for _, tc := range []struct {
		port nat.Port
		b    nat.PortBinding
		want string
	}{
		{"80/tcp", nat.PortBinding{}, "80/tcp"},
		{"80/tcp", nat.PortBinding{HostPort: "8080"}, "8080:80/tcp"},
		{"53/udp", nat.PortBinding{HostIP: "127.0.0.1"}, "127.0.0.1::53/udp"},
		{"53/udp", nat.PortBinding{HostIP: "127.0.0.1", HostPort: "5353"}, "127.0.0.1:5353:53/udp"},
		{"80/tcp", nat.PortBinding{HostPort: "8080-8081"}, "8080-8081:80/tcp"},
	} {
		spec := FormatPublish(tc.port, tc.b)
		if spec != tc.want {
			t.Errorf("FormatPublish(%s, %+v) = %q, want %q", tc.port, tc.b, spec, tc.want)
		}
		exposed, bindings, err := ParsePublish([]string{spec})
		if _, ok := exposed[tc.port]; err != nil || !ok || !reflect.DeepEqual(bindings[tc.port], []nat.PortBinding{tc.b}) {
			t.Errorf("ParsePublish(%q) = %v %v %v", spec, exposed, bindings, err)
		}
	}
	if got := FormatPublish("80/tcp", nat.PortBinding{HostIP: "::1", HostPort: "80"}); got != "[::1]:80:80/tcp" {
		t.Errorf("an IPv6 host address: %q", got)
	}
}
