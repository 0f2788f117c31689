package verbs

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/mount"

	"github.com/enginefs/enginefs/errdefs"
)

// TestParseMountFindings are what FuzzParseMount found: a second CSV line
// dropped without a word, targets and sources not cleaned, options that
// set nothing that did not survive FormatMount, a tmpfs mode above 7777
// taken and its 1000 bit lost by FormatMount, a NUL in a target.
func TestParseMountFindings(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want mount.Mount
	}{
		{"type=bind,source=/a/../b/,target=/c/./d/", mount.Mount{Type: mount.TypeBind, Source: "/b", Target: "/c/d"}},
		{"type=volume,dst=/data,volume-nocopy=false", mount.Mount{Type: mount.TypeVolume, Target: "/data"}},
		{"type=bind,src=/a,dst=/b,bind-propagation=", mount.Mount{Type: mount.TypeBind, Source: "/a", Target: "/b"}},
		{"type=volume,dst=/v,volume-driver=", mount.Mount{Type: mount.TypeVolume, Target: "/v"}},
		{"type=tmpfs,dst=/tmp,tmpfs-mode=1777", mount.Mount{Type: mount.TypeTmpfs, Target: "/tmp", TmpfsOptions: &mount.TmpfsOptions{Mode: 0o1777}}},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := ParseMount(tc.spec)
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseMount = %+v, %v; want %+v", got, err, tc.want)
			}
			s, err := FormatMount(got)
			if back, err2 := ParseMount(s); err != nil || err2 != nil || !reflect.DeepEqual(back, got) {
				t.Errorf("ParseMount(FormatMount) = ParseMount(%q) = %+v, %v %v", s, back, err, err2)
			}
		})
	}
	for _, tc := range []struct{ spec, want string }{
		{"type=bind,src=/a,dst=/b\ntype=bind,src=/c,dst=/d", "more than one line"},
		{"type=tmpfs,dst=/t,tmpfs-mode=10000", "at most 7777"},
		{"dst=/x\x00y", "without NUL"},
		{"type=bind,src=/a\x00,dst=/b", "absolute source"},
		{"dst=/ /", "white space"}, // clean, "/ ", which FormatMount wrote as "dst=/ ", read back as "/"
		{"type=bind,src=/a /,dst=/b", "white space"},
	} {
		if _, err := ParseMount(tc.spec); !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseMount(%q) = %v, want invalid saying %q", tc.spec, err, tc.want)
		}
	}
}

// TestPortFindings: --expose reads the protocol as -p does (80/TCP), and
// the ports of one create are capped at MaxPorts, -p and --expose alike.
func TestPortFindings(t *testing.T) {
	if ports, err := ParseExpose([]string{"80/TCP", "53/Udp"}); err != nil || len(ports) != 2 {
		t.Errorf("ParseExpose of upper-case protocols: %v, %v", ports, err)
	}
	full := []string{"1-65535", "1-65535/udp"}
	if _, _, err := ParsePublish(full); err != nil {
		t.Errorf("ParsePublish(%q): %v", full, err)
	}
	if _, err := ParseExpose(full); err != nil {
		t.Errorf("ParseExpose(%q): %v", full, err)
	}
	over := append(full, "127.0.0.1::80")
	if _, _, err := ParsePublish(over); !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "MaxPorts") {
		t.Errorf("ParsePublish(%q) = %v, want invalid naming MaxPorts", over, err)
	}
	if _, err := ParseExpose(append(full, "80")); !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "MaxPorts") {
		t.Errorf("ParseExpose over MaxPorts = %v, want invalid naming MaxPorts", err)
	}
}
