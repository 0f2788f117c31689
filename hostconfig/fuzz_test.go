package hostconfig

import (
	"errors"
	"net/netip"
	"path"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/go-connections/nat"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/voldrv"
)

// FuzzCheckMount: CheckMount refuses with errdefs.ErrInvalid, and a mount
// it takes (from the REST bridge's JSON as much as from --mount) has an
// absolute target other than / without NUL, a bind's absolute source, a
// volume's valid name or none, no source on a tmpfs, a known propagation.
func FuzzCheckMount(f *testing.F) {
	for _, s := range [][4]string{
		{"bind", "/srv", "/data", "rshared"}, {"volume", "vol", "/data", ""}, {"tmpfs", "", "/tmp", ""},
		{"bind", "rel", "/x", ""}, {"volume", "../x", "/d", ""}, {"bind", "/a", "/..", ""}, {"npipe", "", "/p", ""},
		{"bind", "/a", "/b\x00", "private"}, {"volume", "", "b", ""}, {"bind", "/a", "/b", "sideways"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, typ, src, dst, prop string) {
		m := mount.Mount{Type: mount.Type(typ), Source: src, Target: dst}
		if prop != "" && m.Type == mount.TypeBind {
			m.BindOptions = &mount.BindOptions{Propagation: mount.Propagation(prop)}
		}
		err := CheckMount(m)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Fatalf("CheckMount(%+v): %v is not ErrInvalid", m, err)
			}
			return
		}
		if !path.IsAbs(dst) || path.Clean(dst) == "/" || strings.ContainsRune(dst, 0) {
			t.Fatalf("CheckMount took target %q", dst)
		}
		switch m.Type {
		case mount.TypeBind:
			if !path.IsAbs(src) || strings.ContainsRune(src, 0) || CheckPropagation(prop) != nil {
				t.Fatalf("CheckMount took bind %q propagation %q", src, prop)
			}
		case mount.TypeVolume:
			if src != "" && voldrv.CheckName(src) != nil {
				t.Fatalf("CheckMount took volume %q", src)
			}
		case mount.TypeTmpfs:
			if src != "" {
				t.Fatalf("CheckMount took tmpfs source %q", src)
			}
		default:
			t.Fatalf("CheckMount took type %q", typ)
		}
	})
}

// FuzzCheckPorts: CheckPorts refuses with errdefs.ErrInvalid, and a port
// it takes (the REST bridge hands it docker's JSON as it came) is tcp or
// udp in 1..65535, bound on an IPv4 address or none, on a host port or
// range in 0..65535.
func FuzzCheckPorts(f *testing.F) {
	for _, s := range [][3]string{
		{"80/tcp", "127.0.0.1", "8080"}, {"53/udp", "", ""}, {"80/tcp", "", "8080-8081"}, {"0/tcp", "", ""},
		{"80/sctp", "", ""}, {"80/tcp", "::1", "80"}, {"80/tcp", "", "9-1"}, {"80", "", ""}, {"65536/tcp", "", ""},
		{"80/tcp/x", "", ""}, {"-1/tcp", "", ""}, {"80/tcp", "0.0.0.0", "-5"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, port, hostIP, hostPort string) {
		p := nat.Port(port)
		bindings := nat.PortMap{p: {{HostIP: hostIP, HostPort: hostPort}}}
		err := CheckPorts(nat.PortSet{p: {}}, bindings)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Fatalf("CheckPorts(%q, %q, %q): %v is not ErrInvalid", port, hostIP, hostPort, err)
			}
			return
		}
		if v := p.Int(); v < 1 || v > 65535 || p.Proto() != "tcp" && p.Proto() != "udp" {
			t.Fatalf("CheckPorts took port %q", port)
		}
		if hostIP != "" {
			if a, err := netip.ParseAddr(hostIP); err != nil || !a.Is4() {
				t.Fatalf("CheckPorts took host IP %q", hostIP)
			}
		}
		if lo, hi, err := nat.ParsePortRangeToInt(hostPort); err != nil || lo < 0 || hi > 65535 || lo > hi {
			t.Fatalf("CheckPorts took host port %q", hostPort)
		}
	})
}
