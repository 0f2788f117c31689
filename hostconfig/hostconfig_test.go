package hostconfig

import (
	"errors"
	"testing"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/go-connections/nat"

	"github.com/enginefs/enginefs/errdefs"
)

func TestCheckMount(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    mount.Mount
		ok   bool
	}{
		{"volume", mount.Mount{Type: mount.TypeVolume, Source: "data", Target: "/data"}, true},
		{"anonymous volume", mount.Mount{Type: mount.TypeVolume, Target: "/data"}, true},
		{"bind", mount.Mount{Type: mount.TypeBind, Source: "/srv", Target: "/srv", BindOptions: &mount.BindOptions{Propagation: mount.PropagationRSlave}}, true},
		{"tmpfs", mount.Mount{Type: mount.TypeTmpfs, Target: "/t", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1 << 20}}, true},
		{"relative target", mount.Mount{Type: mount.TypeVolume, Target: "data"}, false},
		{"target /", mount.Mount{Type: mount.TypeVolume, Target: "/"}, false},
		{"bind over /proc", mount.Mount{Type: mount.TypeBind, Source: "/tmp", Target: "/proc"}, false},
		{"bind over /proc, unclean", mount.Mount{Type: mount.TypeBind, Source: "/tmp", Target: "/x/../proc/"}, false},
		{"bind inside /proc", mount.Mount{Type: mount.TypeBind, Source: "/tmp/f", Target: "/proc/sys/kernel/core_pattern"}, false},
		{"tmpfs over /proc/sys", mount.Mount{Type: mount.TypeTmpfs, Target: "/proc/sys"}, false},
		{"bind over /sys", mount.Mount{Type: mount.TypeBind, Source: "/tmp", Target: "/sys"}, false},
		{"bind over /dev", mount.Mount{Type: mount.TypeBind, Source: "/tmp", Target: "/dev"}, false},
		{"lxcfs meminfo", mount.Mount{Type: mount.TypeBind, Source: "/var/lib/lxcfs/proc/meminfo", Target: "/proc/meminfo"}, true},
		{"a device dir", mount.Mount{Type: mount.TypeBind, Source: "/dev/snd", Target: "/dev/snd"}, true},
		{"cgroups below /sys", mount.Mount{Type: mount.TypeBind, Source: "/sys/fs/cgroup", Target: "/sys/fs/cgroup"}, true},
		{"a name like /proc", mount.Mount{Type: mount.TypeBind, Source: "/srv", Target: "/procedures"}, true},
		{"relative bind source", mount.Mount{Type: mount.TypeBind, Source: "srv", Target: "/srv"}, false},
		{"bad propagation", mount.Mount{Type: mount.TypeBind, Source: "/srv", Target: "/srv", BindOptions: &mount.BindOptions{Propagation: "sideways"}}, false},
		{"tmpfs with source", mount.Mount{Type: mount.TypeTmpfs, Source: "x", Target: "/t"}, false},
		{"volume with bind options", mount.Mount{Type: mount.TypeVolume, Target: "/d", BindOptions: &mount.BindOptions{}}, false},
		{"bad volume name", mount.Mount{Type: mount.TypeVolume, Source: "../x", Target: "/d"}, false},
		{"npipe", mount.Mount{Type: mount.TypeNamedPipe, Target: "/p"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckMount(tc.m)
			if tc.ok && err != nil || !tc.ok && !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("CheckMount(%+v) = %v, want ok %v (or ErrInvalid)", tc.m, err, tc.ok)
			}
		})
	}
}

func TestCheckPorts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		exposed  nat.PortSet
		bindings nat.PortMap
		ok       bool
	}{
		{"tcp and udp", nat.PortSet{"80/tcp": {}, "53/udp": {}}, nat.PortMap{"80/tcp": {{HostIP: "127.0.0.1", HostPort: "8080-8081"}}}, true},
		{"sctp", nat.PortSet{"80/sctp": {}}, nil, false},
		{"port 0", nat.PortSet{"0/tcp": {}}, nil, false},
		{"ipv6 host", nil, nat.PortMap{"80/tcp": {{HostIP: "::1"}}}, false},
		{"bad host port", nil, nat.PortMap{"80/tcp": {{HostPort: "9-1"}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckPorts(tc.exposed, tc.bindings)
			if tc.ok && err != nil || !tc.ok && !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("CheckPorts = %v, want ok %v (or ErrInvalid)", err, tc.ok)
			}
		})
	}
}
