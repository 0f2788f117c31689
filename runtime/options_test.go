package runtime

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/enginefs/enginefs/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestSpecCapabilities(t *testing.T) {
	defaults := DefaultCapabilities()
	without := func(drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(defaults), func(c string) bool { return slices.Contains(drop, c) })
	}
	for _, tc := range []struct {
		name      string
		opts      SpecOptions
		bounding  []string
		effective []string // and permitted
	}{
		{"root defaults", SpecOptions{}, defaults, defaults},
		{"non-root keeps the bounding set only", SpecOptions{User: "1000:1000"}, defaults, nil},
		{"add, any case, with or without CAP_", SpecOptions{CapAdd: []string{"sys_admin", "CAP_NET_ADMIN", "Sys_Admin"}},
			append(slices.Clone(defaults), "CAP_SYS_ADMIN", "CAP_NET_ADMIN"), nil},
		{"drop", SpecOptions{CapDrop: []string{"chown", "CAP_KILL"}}, without("CAP_CHOWN", "CAP_KILL"), nil},
		{"add a default again", SpecOptions{CapAdd: []string{"KILL"}}, defaults, nil},
		{"add ALL", SpecOptions{CapAdd: []string{"all"}}, AllCapabilities(), nil},
		{"add ALL drop one", SpecOptions{CapAdd: []string{"ALL"}, CapDrop: []string{"SYS_ADMIN"}},
			slices.DeleteFunc(AllCapabilities(), func(c string) bool { return c == "CAP_SYS_ADMIN" }), nil},
		{"drop ALL", SpecOptions{CapDrop: []string{"ALL"}}, nil, nil},
		{"drop ALL add one", SpecOptions{CapDrop: []string{"ALL"}, CapAdd: []string{"NET_BIND_SERVICE"}}, []string{"CAP_NET_BIND_SERVICE"}, nil},
		{"privileged", SpecOptions{Privileged: true, CapDrop: []string{"CHOWN"}}, AllCapabilities(), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.ID, tc.opts.Args = "c1", []string{"true"}
			s, err := Spec(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			c := s.Process.Capabilities
			if c == nil {
				t.Fatal("no capabilities")
			}
			if tc.effective == nil && s.Process.User.UID == 0 {
				tc.effective = tc.bounding
			}
			if !slices.Equal(c.Bounding, tc.bounding) {
				t.Errorf("bounding = %v, want %v", c.Bounding, tc.bounding)
			}
			if !slices.Equal(c.Effective, tc.effective) || !slices.Equal(c.Permitted, tc.effective) {
				t.Errorf("effective = %v, permitted = %v, want %v", c.Effective, c.Permitted, tc.effective)
			}
			if len(c.Inheritable) != 0 || len(c.Ambient) != 0 {
				t.Errorf("inheritable %v, ambient %v; want none", c.Inheritable, c.Ambient)
			}
		})
	}
}

func TestSpecPrivileged(t *testing.T) {
	s, err := Spec(SpecOptions{ID: "c1", Args: []string{"true"}, Privileged: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Linux.MaskedPaths) != 0 || len(s.Linux.ReadonlyPaths) != 0 {
		t.Errorf("masked %v, read-only %v; want none", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	if want := []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}; !reflect.DeepEqual(s.Linux.Resources.Devices, want) {
		t.Errorf("device rules %+v, want allow all", s.Linux.Resources.Devices)
	}
	for _, m := range s.Mounts {
		if (m.Destination == "/sys" || m.Destination == "/sys/fs/cgroup") && slices.Contains(m.Options, "ro") {
			t.Errorf("%s is read-only", m.Destination)
		}
	}
	s, _ = Spec(SpecOptions{ID: "c1", Args: []string{"true"}})
	if len(s.Linux.MaskedPaths) == 0 || !slices.Contains(s.Linux.ReadonlyPaths, "/proc/sys") {
		t.Errorf("an unprivileged container lost its masked paths")
	}
}

func TestSpecOptionsInvalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts SpecOptions
		want string
	}{
		{"unknown capability", SpecOptions{CapAdd: []string{"NOSUCH"}}, `unknown capability: "NOSUCH"`},
		{"unknown capability dropped", SpecOptions{CapDrop: []string{"CAP_FOO"}}, `unknown capability: "CAP_FOO"`},
		{"unknown rlimit", SpecOptions{Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_FOO", Soft: 1, Hard: 1}}}, `unknown rlimit "RLIMIT_FOO"`},
		{"soft above hard", SpecOptions{Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 2, Hard: 1}}}, "above the hard limit"},
		{"negative shm", SpecOptions{ShmSize: -1}, "negative"},
		{"relative mount", SpecOptions{Mounts: []specs.Mount{{Destination: "data", Type: "tmpfs"}}}, "not an absolute path"},
		{"relative bind source", SpecOptions{Mounts: []specs.Mount{{Destination: "/data", Type: "bind", Source: "x"}}}, `source "x"`},
		{"mount on /", SpecOptions{Mounts: []specs.Mount{{Destination: "/", Type: "tmpfs"}}}, "on /"},
		{"duplicate mount", SpecOptions{Mounts: []specs.Mount{{Destination: "/a", Type: "tmpfs"}, {Destination: "/a/", Type: "tmpfs"}}}, "duplicate mount point: /a"},
		{"host sysctl", SpecOptions{Sysctls: map[string]string{"kernel.panic": "1"}}, `sysctl "kernel.panic" is not allowed`},
		{"memory too small", SpecOptions{Resources: Resources{Memory: 1 << 20}}, "Minimum memory limit allowed is 6MB"},
		{"swap without memory", SpecOptions{Resources: Resources{MemorySwap: 1 << 30}}, "always set the Memory limit"},
		{"swap below memory", SpecOptions{Resources: Resources{Memory: 64 << 20, MemorySwap: 32 << 20}}, "memoryswap limit should be larger"},
		{"reservation above memory", SpecOptions{Resources: Resources{Memory: 64 << 20, MemoryReservation: 128 << 20}}, "memory reservation"},
		{"nano cpus and quota", SpecOptions{Resources: Resources{NanoCPUs: 1e9, CPUQuota: 50000}}, "Nano CPUs and CPU Quota"},
		{"nano cpus and period", SpecOptions{Resources: Resources{NanoCPUs: 1e9, CPUPeriod: 50000}}, "Nano CPUs and CPU Period"},
		{"short period", SpecOptions{Resources: Resources{CPUPeriod: 10}}, "CPU cfs period"},
		{"short quota", SpecOptions{Resources: Resources{CPUQuota: 10}}, "CPU cfs quota"},
		{"negative shares", SpecOptions{Resources: Resources{CPUShares: -1}}, "shares"},
		{"bad cpuset", SpecOptions{Resources: Resources{CpusetCpus: "0-x"}}, "cpuset"},
		{"backwards cpuset", SpecOptions{Resources: Resources{CpusetMems: "3-1"}}, "cpuset"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.ID, tc.opts.Args = "c1", []string{"true"}
			_, err := Spec(tc.opts)
			if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Spec = %v; want ErrInvalid saying %s", err, tc.want)
			}
		})
	}
}

func TestSpecResources(t *testing.T) {
	ptr := func(v int64) *int64 { return &v }
	uptr := func(v uint64) *uint64 { return &v }
	for _, tc := range []struct {
		name   string
		res    Resources
		memory *specs.LinuxMemory
		cpu    *specs.LinuxCPU
		pids   *specs.LinuxPids
	}{
		{name: "none"},
		{name: "memory doubles for swap, like docker", res: Resources{Memory: 64 << 20},
			memory: &specs.LinuxMemory{Limit: ptr(64 << 20), Swap: ptr(128 << 20)}},
		{name: "memory and swap", res: Resources{Memory: 64 << 20, MemorySwap: 100 << 20, MemoryReservation: 32 << 20},
			memory: &specs.LinuxMemory{Limit: ptr(64 << 20), Swap: ptr(100 << 20), Reservation: ptr(32 << 20)}},
		{name: "unlimited swap", res: Resources{Memory: 64 << 20, MemorySwap: -1},
			memory: &specs.LinuxMemory{Limit: ptr(64 << 20), Swap: ptr(-1)}},
		{name: "reservation alone", res: Resources{MemoryReservation: 32 << 20},
			memory: &specs.LinuxMemory{Reservation: ptr(32 << 20)}},
		{name: "cpus 1.5", res: Resources{NanoCPUs: 1.5e9},
			cpu: &specs.LinuxCPU{Quota: ptr(150000), Period: uptr(100000)}},
		{name: "quota period shares cpuset", res: Resources{CPUQuota: 20000, CPUPeriod: 50000, CPUShares: 512, CpusetCpus: "0-1", CpusetMems: "0"},
			cpu: &specs.LinuxCPU{Shares: uptr(512), Quota: ptr(20000), Period: uptr(50000), Cpus: "0-1", Mems: "0"}},
		{name: "pids", res: Resources{PidsLimit: 100}, pids: &specs.LinuxPids{Limit: ptr(100)}},
		{name: "pids unlimited", res: Resources{PidsLimit: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Spec(SpecOptions{ID: "c1", Args: []string{"true"}, Resources: tc.res})
			if err != nil {
				t.Fatal(err)
			}
			r := s.Linux.Resources
			if !reflect.DeepEqual(r.Memory, tc.memory) || !reflect.DeepEqual(r.CPU, tc.cpu) || !reflect.DeepEqual(r.Pids, tc.pids) {
				t.Errorf("memory %+v cpu %+v pids %+v; want %+v %+v %+v", r.Memory, r.CPU, r.Pids, tc.memory, tc.cpu, tc.pids)
			}
			if len(r.Devices) == 0 || r.Devices[0].Allow {
				t.Error("the device rules are gone")
			}
		})
	}
}

func TestSpecOptionsApplied(t *testing.T) {
	hosts := specs.Mount{Destination: "/etc/hosts", Type: "bind", Source: "/var/lib/x/hosts", Options: []string{"rbind", "rprivate"}}
	shm := specs.Mount{Destination: "/dev/shm/", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}}
	s, err := Spec(SpecOptions{
		ID: "c1", Args: []string{"true"},
		NoNewPrivileges: true,
		Rlimits: []specs.POSIXRlimit{
			{Type: "RLIMIT_NOFILE", Soft: 10, Hard: 20},
			{Type: "RLIMIT_NPROC", Soft: 5, Hard: 5},
			{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200},
		},
		ShmSize: 1 << 30,
		Mounts:  []specs.Mount{hosts},
		Sysctls: map[string]string{"net.ipv4.ip_forward": "1", "kernel.shmmax": "4096", "fs.mqueue.msg_max": "20"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Process.NoNewPrivileges {
		t.Error("noNewPrivileges not set")
	}
	wantLimits := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200}, {Type: "RLIMIT_NPROC", Soft: 5, Hard: 5}}
	if !reflect.DeepEqual(s.Process.Rlimits, wantLimits) {
		t.Errorf("rlimits %+v, want %+v", s.Process.Rlimits, wantLimits)
	}
	if last := s.Mounts[len(s.Mounts)-1]; !reflect.DeepEqual(last, hosts) || len(s.Mounts) != 8 {
		t.Errorf("mounts end with %+v (%d mounts), want %+v", last, len(s.Mounts), hosts)
	}
	for _, m := range s.Mounts {
		if m.Destination == "/dev/shm" && !slices.Contains(m.Options, "size=1048576k") {
			t.Errorf("/dev/shm options %v, want size=1048576k", m.Options)
		}
	}
	if len(s.Linux.Sysctl) != 3 || s.Linux.Sysctl["net.ipv4.ip_forward"] != "1" {
		t.Errorf("sysctls %v", s.Linux.Sysctl)
	}

	// A mount on /dev/shm replaces the default one, in its place.
	s, err = Spec(SpecOptions{ID: "c1", Args: []string{"true"}, Mounts: []specs.Mount{shm}})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Mounts) != 7 || s.Mounts[6].Destination != "/dev/shm" || !slices.Equal(s.Mounts[6].Options, []string{"size=1m"}) {
		t.Errorf("mounts %+v", s.Mounts)
	}
	if s.Process.Rlimits != nil || s.Linux.Sysctl != nil || s.Process.NoNewPrivileges {
		t.Error("defaults set rlimits, sysctls or no_new_privs")
	}
}

func TestNormalizeCaps(t *testing.T) {
	got, err := normalizeCaps([]string{" net_raw", "CAP_NET_RAW", "all", "Chown"})
	if err != nil || !slices.Equal(got, []string{"CAP_NET_RAW", "ALL", "CAP_CHOWN"}) {
		t.Errorf("normalizeCaps = %v, %v", got, err)
	}
	for i, name := range capabilityNames {
		if n, ok := CapabilityNumber(name); !ok || n != i {
			t.Errorf("CapabilityNumber(%s) = %d, %v", name, n, ok)
		}
	}
	if n, _ := CapabilityNumber("CAP_SYS_ADMIN"); n != 21 {
		t.Errorf("CAP_SYS_ADMIN is %d, want 21", n)
	}
	if n, _ := CapabilityNumber("CAP_CHECKPOINT_RESTORE"); n != 40 {
		t.Errorf("CAP_CHECKPOINT_RESTORE is %d, want 40", n)
	}
}
