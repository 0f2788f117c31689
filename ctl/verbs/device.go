package verbs

import (
	"strings"

	"github.com/docker/docker/api/types/container"

	"github.com/enginefs/enginefs/errdefs"
)

// ParseDevice reads a device= value as docker run's --device:
// HOST[:CONTAINER][:PERMISSIONS], the container's path defaulting to the
// host's and the permissions to rwm.
func ParseDevice(v string) (container.DeviceMapping, error) {
	d := container.DeviceMapping{CgroupPermissions: "rwm"}
	parts := strings.Split(v, ":")
	switch len(parts) {
	case 3:
		d.CgroupPermissions = parts[2]
		fallthrough
	case 2:
		if validDevicePerms(parts[1]) && len(parts) == 2 {
			d.CgroupPermissions = parts[1]
		} else {
			d.PathInContainer = parts[1]
		}
		fallthrough
	case 1:
		d.PathOnHost = parts[0]
	default:
		return d, errdefs.Invalid("invalid device specification: %s", v)
	}
	if d.PathInContainer == "" {
		d.PathInContainer = d.PathOnHost
	}
	if !strings.HasPrefix(d.PathOnHost, "/") || !strings.HasPrefix(d.PathInContainer, "/") {
		return d, errdefs.Invalid("invalid device specification: %s: paths must be absolute", v)
	}
	if !validDevicePerms(d.CgroupPermissions) {
		return d, errdefs.Invalid("invalid device mode: %s", d.CgroupPermissions)
	}
	return d, nil
}

// FormatDevice writes d as ParseDevice reads it.
func FormatDevice(d container.DeviceMapping) string {
	s := d.PathOnHost
	if d.PathInContainer != "" && d.PathInContainer != d.PathOnHost {
		s += ":" + d.PathInContainer
	}
	if p := d.CgroupPermissions; p != "" && p != "rwm" {
		s += ":" + p
	}
	return s
}

// validDevicePerms: one to three of r, w and m, each once.
func validDevicePerms(p string) bool {
	if p == "" || len(p) > 3 {
		return false
	}
	for i, c := range p {
		if !strings.ContainsRune("rwm", c) || strings.ContainsRune(p[i+1:], c) {
			return false
		}
	}
	return true
}
