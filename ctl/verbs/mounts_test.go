package verbs

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/mount"

	"github.com/enginefs/enginefs/errdefs"
)

func TestParseBind(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want Bind
	}{
		{"/data", Bind{Type: mount.TypeVolume, Destination: "/data", RW: true, Anonymous: true}},
		{"vol:/data", Bind{Type: mount.TypeVolume, Name: "vol", Destination: "/data", RW: true}},
		{"vol:/data:ro,nocopy", Bind{Type: mount.TypeVolume, Name: "vol", Destination: "/data", Mode: "ro,nocopy", NoCopy: true}},
		{"/srv/x/:/x:rw,rslave", Bind{Type: mount.TypeBind, Source: "/srv/x", Destination: "/x", Mode: "rw,rslave", RW: true, Propagation: mount.PropagationRSlave}},
		{"/srv:/srv:Z", Bind{Type: mount.TypeBind, Source: "/srv", Destination: "/srv", Mode: "Z", RW: true}},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := ParseBind(tc.spec)
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseBind = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "rel", "vol:rel", "vol:/", "x:/data", "a:/b:c:d", "vol:/data:ro,rw", "vol:/data:rslave", "/h:/c:nocopy", "vol:/data:bogus"} {
		if _, err := ParseBind(bad); !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), `"`+bad+`"`) {
			t.Errorf("ParseBind(%q): %v, want invalid naming it", bad, err)
		}
	}
}

var mounts = []struct {
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
}

func TestParseMount(t *testing.T) {
	for _, tc := range mounts {
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
		"type=volume,dst=/x,readonly=maybe", "type=bind,src=/s,dst=/d,volume-nocopy", `dst=/x,"unterminated`,
	} {
		if _, err := ParseMount(bad); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("ParseMount(%q): %v, want invalid", bad, err)
		}
	}
}

// TestFormatMount: what FormatMount writes, ParseMount reads back.
func TestFormatMount(t *testing.T) {
	ms := []mount.Mount{{Type: mount.TypeTmpfs, Target: "/t", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1 << 20, Mode: 0o750}}}
	for _, tc := range mounts {
		ms = append(ms, tc.want)
	}
	for _, want := range ms {
		s, err := FormatMount(want)
		if err != nil {
			t.Fatalf("FormatMount(%+v): %v", want, err)
		}
		if got, err := ParseMount(s); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseMount(FormatMount(m)) = %+v, %v (%q); want %+v", got, err, s, want)
		}
	}
	m := mount.Mount{Type: mount.TypeVolume, Source: "v,1", Target: "/m", ReadOnly: true, VolumeOptions: &mount.VolumeOptions{NoCopy: true}}
	if s, err := FormatMount(m); err != nil || s != `type=volume,dst=/m,"src=v,1",readonly,volume-nocopy` {
		t.Errorf("FormatMount = %q, %v", s, err)
	}
	for _, bad := range []mount.Mount{
		{Type: mount.TypeNamedPipe, Target: "/x"},
		{Type: mount.TypeVolume, Target: "/x", VolumeOptions: &mount.VolumeOptions{Subpath: "a"}},
	} {
		if _, err := FormatMount(bad); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("FormatMount(%+v): %v, want invalid", bad, err)
		}
	}
}
