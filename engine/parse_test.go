//go:build linux

package engine

import (
	"errors"
	"reflect"
	"testing"

	"github.com/docker/docker/api/types/mount"

	"github.com/enginefs/enginefs/errdefs"
)

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
