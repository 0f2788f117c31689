package runtime

import (
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// withModes applies the namespace modes and the init of opts to s: the
// namespaces of the host's kinds are dropped (the process stays in the
// runtime's, which is the host's), a container in the host's UTS
// namespace sets no hostname (runc refuses one there), and an init runs
// the command after "--".
func withModes(s *specs.Spec, opts SpecOptions) {
	host := map[specs.LinuxNamespaceType]bool{
		specs.PIDNamespace: opts.HostPID,
		specs.UTSNamespace: opts.HostUTS,
		specs.IPCNamespace: opts.HostIPC,
	}
	s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return host[ns.Type] })
	if opts.HostUTS {
		s.Hostname = ""
	}
	if opts.Init != "" {
		s.Process.Args = append([]string{InitPath, "--"}, s.Process.Args...)
	}
}

// namespaceMounts changes the default mounts for the modes of opts: the
// host's /dev/shm, bound, in the host's IPC namespace (as docker's --ipc
// host), none with NoShm (--ipc none), and the init bound read-only at
// InitPath.
func namespaceMounts(mounts []specs.Mount, opts SpecOptions) []specs.Mount {
	out := make([]specs.Mount, 0, len(mounts)+1)
	for _, m := range mounts {
		if m.Destination == "/dev/shm" {
			switch {
			case opts.NoShm:
				continue
			case opts.HostIPC:
				m = specs.Mount{Destination: "/dev/shm", Type: "bind", Source: "/dev/shm", Options: []string{"rbind", "rprivate"}}
			}
		}
		out = append(out, m)
	}
	if opts.Init != "" {
		out = append(out, specs.Mount{Destination: InitPath, Type: "bind", Source: opts.Init, Options: []string{"bind", "ro"}})
	}
	return out
}

// Device is a device node of the container (docker's --device): its node
// and the access the device cgroup allows it ("rwm" or part of it).
type Device struct {
	specs.LinuxDevice
	Access string
}

// withDevices adds the devices of opts to the spec's nodes and the
// device cgroup, then its rules, and the cgroup namespace of CgroupNS.
func withDevices(s *specs.Spec, opts SpecOptions) {
	for _, d := range opts.Devices {
		major, minor := d.Major, d.Minor
		s.Linux.Devices = slices.DeleteFunc(s.Linux.Devices, func(o specs.LinuxDevice) bool { return o.Path == d.Path })
		s.Linux.Devices = append(s.Linux.Devices, d.LinuxDevice)
		s.Linux.Resources.Devices = append(s.Linux.Resources.Devices,
			specs.LinuxDeviceCgroup{Allow: true, Type: d.Type, Major: &major, Minor: &minor, Access: d.Access})
	}
	s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, opts.DeviceRules...)
	if opts.CgroupNS {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	}
}
