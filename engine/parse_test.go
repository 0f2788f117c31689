//go:build linux

package engine

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/mount"
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
	if ports, err := ParseExpose([]string{"8000-8002/udp"}); err != nil || len(ports) != 3 {
		t.Errorf("ParseExpose of a range: %v, %v", ports, err)
	}
}

func TestParseBind(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want MountPoint
	}{
		{"/data", MountPoint{Type: mount.TypeVolume, Destination: "/data", RW: true, Anonymous: true}},
		{"vol:/data", MountPoint{Type: mount.TypeVolume, Name: "vol", Destination: "/data", RW: true}},
		{"vol:/data:ro,nocopy", MountPoint{Type: mount.TypeVolume, Name: "vol", Destination: "/data", Mode: "ro,nocopy", NoCopy: true}},
		{"/srv/x/:/x:rw,rslave", MountPoint{Type: mount.TypeBind, Source: "/srv/x", Destination: "/x", Mode: "rw,rslave", RW: true, Propagation: mount.PropagationRSlave}},
		{"/srv:/srv:Z", MountPoint{Type: mount.TypeBind, Source: "/srv", Destination: "/srv", Mode: "Z", RW: true}},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := ParseBind(tc.spec)
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseBind = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "rel", "vol:rel", "vol:/", "x:/data", "a:/b:c:d", "vol:/data:ro,rw", "vol:/data:rslave", "/h:/c:nocopy", "vol:/data:bogus"} {
		if _, err := ParseBind(bad); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("ParseBind(%q): %v, want invalid", bad, err)
		}
	}
}

func TestParseMount(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want mount.Mount
	}{
		{"type=bind,src=/srv,dst=/data,readonly,bind-propagation=rshared",
			mount.Mount{Type: mount.TypeBind, Source: "/srv", Target: "/data", ReadOnly: true, BindOptions: &mount.BindOptions{Propagation: mount.PropagationRShared}}},
		{"source=vol,target=/data,volume-driver=plug,volume-opt=size=1g,volume-nocopy,volume-label=a=b",
			mount.Mount{Type: mount.TypeVolume, Source: "vol", Target: "/data",
				VolumeOptions: &mount.VolumeOptions{NoCopy: true, Labels: map[string]string{"a": "b"}, DriverConfig: &mount.Driver{Name: "plug", Options: map[string]string{"size": "1g"}}}}},
		{"type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770",
			mount.Mount{Type: mount.TypeTmpfs, Target: "/t", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 64 << 20, Mode: os.FileMode(0o1770)}}},
		{`type=volume,dst=/data,"volume-opt=o=size=1m,uid=1000",ro=false`,
			mount.Mount{Type: mount.TypeVolume, Target: "/data", VolumeOptions: &mount.VolumeOptions{DriverConfig: &mount.Driver{Options: map[string]string{"o": "size=1m,uid=1000"}}}}},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := ParseMount(tc.spec)
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseMount = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	for _, bad := range []string{
		"type=bind,dst=/x", "type=bind,src=rel,dst=/x", "type=tmpfs,src=x,dst=/t", "type=nfs,dst=/x",
		"dst=relative", "type=volume,src=vol", "type=tmpfs,dst=/t,tmpfs-size=lots", "nosuchkey=1,dst=/x",
		"type=volume,dst=/x,readonly=maybe", "type=bind,src=/s,dst=/d,volume-nocopy",
	} {
		if _, err := ParseMount(bad); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("ParseMount(%q): %v, want invalid", bad, err)
		}
	}
}
