package verbs

import (
	"errors"
	"testing"

	"github.com/docker/docker/api/types/container"

	"github.com/enginefs/enginefs/errdefs"
)

func TestParseDevice(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want container.DeviceMapping
	}{
		{"/dev/fuse", container.DeviceMapping{PathOnHost: "/dev/fuse", PathInContainer: "/dev/fuse", CgroupPermissions: "rwm"}},
		{"/dev/fuse:r", container.DeviceMapping{PathOnHost: "/dev/fuse", PathInContainer: "/dev/fuse", CgroupPermissions: "r"}},
		{"/dev/fuse:/dev/f", container.DeviceMapping{PathOnHost: "/dev/fuse", PathInContainer: "/dev/f", CgroupPermissions: "rwm"}},
		{"/dev/fuse:/dev/f:rw", container.DeviceMapping{PathOnHost: "/dev/fuse", PathInContainer: "/dev/f", CgroupPermissions: "rw"}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseDevice(tc.in)
			if err != nil || got != tc.want {
				t.Fatalf("ParseDevice(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
			if back, err := ParseDevice(FormatDevice(got)); err != nil || back != got {
				t.Errorf("round trip through %q: %+v, %v", FormatDevice(got), back, err)
			}
		})
	}
	for _, bad := range []string{"", "dev/fuse", "/dev/fuse:/dev/f:rx", "/dev/fuse:/dev/f:rr", "/a:/b:r:w", "/dev/fuse:f:rw"} {
		if _, err := ParseDevice(bad); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("ParseDevice(%q): %v, want an invalid-argument error", bad, err)
		}
	}
}
