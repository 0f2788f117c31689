//go:build linux

package builtin

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime"
	"github.com/enginefs/enginefs/runtime/builtin/nsinit"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// These tests need neither root nor a container.

func TestParseMountOptions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		options []string
		want    mountOptions
	}{
		{"none", nil, mountOptions{}},
		{"dev tmpfs", []string{"nosuid", "strictatime", "mode=755", "size=65536k"},
			mountOptions{flags: unix.MS_NOSUID | unix.MS_STRICTATIME, data: "mode=755,size=65536k"}},
		{"rw clears ro", []string{"ro", "nodev", "rw"}, mountOptions{flags: unix.MS_NODEV}},
		{"rbind with propagation", []string{"rbind", "ro", "rprivate"},
			mountOptions{flags: unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY, propagation: []uintptr{unix.MS_PRIVATE | unix.MS_REC}}},
		{"devpts data", []string{"newinstance", "ptmxmode=0666", "gid=5"}, mountOptions{data: "newinstance,ptmxmode=0666,gid=5"}},
		{"exec and suid clear", []string{"noexec", "nosuid", "exec", "suid"}, mountOptions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseMountOptions(tc.options); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parseMountOptions(%q) = %+v, want %+v", tc.options, got, tc.want)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ws     syscall.WaitStatus
		code   int
		signal syscall.Signal
	}{
		{"exit 0", 0, 0, 0},
		{"exit 3", 3 << 8, 3, 0},
		{"killed", syscall.WaitStatus(syscall.SIGKILL), 137, syscall.SIGKILL},
		{"terminated with core", syscall.WaitStatus(syscall.SIGSEGV) | 0x80, 139, syscall.SIGSEGV},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, sig := exitCode(tc.ws)
			if code != tc.code || sig != tc.signal {
				t.Errorf("exitCode(%#x) = %d, %v; want %d, %v", uint32(tc.ws), code, sig, tc.code, tc.signal)
			}
		})
	}
}

func TestCgroupPath(t *testing.T) {
	for _, tc := range []struct {
		path, want string
		err        bool
	}{
		{"", "/enginefs/c1", false},
		{"/enginefs/c1", "/enginefs/c1", false},
		{"custom/x", "/custom/x", false},
		{"/a/../../b", "/b", false},
		{"/", "", true},
		{"system.slice:enginefs:c1", "", true},
	} {
		t.Run(tc.path, func(t *testing.T) {
			got, err := cgroupPath("c1", &specs.Spec{Linux: &specs.Linux{CgroupsPath: tc.path}})
			if tc.err != (err != nil) || got != tc.want {
				t.Errorf("cgroupPath(%q) = %q, %v; want %q", tc.path, got, err, tc.want)
			}
			if err != nil && !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
		})
	}
}

func TestBPFDeviceRules(t *testing.T) {
	s, err := runtime.Spec(runtime.SpecOptions{ID: "c1", Args: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	rules := bpfDeviceRules(s.Linux.Resources.Devices)
	for i, r := range rules {
		if r.Type == "" || r.Major == nil || r.Minor == nil {
			t.Errorf("rule %d: %+v still implicit", i, r)
		}
	}
	if rules[0].Type != "a" || *rules[0].Major != -1 || *rules[0].Minor != -1 || rules[0].Allow {
		t.Errorf("deny-all became %+v", rules[0])
	}
	if s.Linux.Resources.Devices[0].Type != "" {
		t.Error("bpfDeviceRules changed the spec")
	}
}

func TestNewInitConfig(t *testing.T) {
	bundle := t.TempDir()
	if err := os.Mkdir(filepath.Join(bundle, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	newSpec := func(edit func(*specs.Spec)) *specs.Spec {
		s, err := runtime.Spec(runtime.SpecOptions{ID: "c1", Args: []string{"true"}, User: "5:6"})
		if err != nil {
			t.Fatal(err)
		}
		edit(s)
		return s
	}

	t.Run("default spec", func(t *testing.T) {
		cfg, flags, err := newInitConfig(bundle, newSpec(func(*specs.Spec) {}))
		if err != nil {
			t.Fatal(err)
		}
		if want := uintptr(unix.CLONE_NEWPID | unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWNET); flags != want {
			t.Errorf("clone flags %#x, want %#x", flags, want)
		}
		if cfg.Rootfs != filepath.Join(bundle, "rootfs") || cfg.Cwd != "/" || cfg.UID != 5 || cfg.GID != 6 ||
			cfg.Umask != 0o022 || !cfg.NewNet || !cfg.NewUTS || !cfg.SetupDev || !cfg.Devpts || cfg.Hostname != "c1" {
			t.Errorf("config %+v", cfg)
		}
		dev := cfg.Mounts[1]
		if dev.Dest != "/dev" || dev.Kind != nsinit.KindMount || dev.Flags != unix.MS_NOSUID|unix.MS_STRICTATIME || dev.Data != "mode=755,size=65536k" {
			t.Errorf("/dev mount %+v", dev)
		}
		if cfg.Mounts[4].Kind != nsinit.KindCgroup || cfg.Mounts[4].Flags&unix.MS_RDONLY == 0 {
			t.Errorf("cgroup mount %+v", cfg.Mounts[4])
		}
		null := cfg.Devices[0]
		if null.Path != "/dev/null" || null.Mode != unix.S_IFCHR|0o666 || null.Dev != unix.Mkdev(1, 3) || null.UID != 0 {
			t.Errorf("/dev/null %+v", null)
		}
	})

	for _, tc := range []struct {
		name  string
		edit  func(*specs.Spec)
		class error
		check func(*nsinit.InitConfig) bool
	}{
		{"relative cwd", func(s *specs.Spec) { s.Process.Cwd = "srv" }, errdefs.ErrInvalid, nil},
		{"no args", func(s *specs.Spec) { s.Process.Args = nil }, errdefs.ErrInvalid, nil},
		{"unknown rlimit", func(s *specs.Spec) { s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_FOO"}} }, errdefs.ErrInvalid, nil},
		{"rlimit", func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1, Hard: 2}}
		}, nil, func(c *nsinit.InitConfig) bool {
			return c.Rlimits[0] == nsinit.Rlimit{Resource: unix.RLIMIT_NOFILE, Soft: 1, Hard: 2}
		}},
		{"missing rootfs", func(s *specs.Spec) { s.Root.Path = "nosuch" }, errdefs.ErrNotFound, nil},
		{"bind source missing", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "bind", Source: "/nosuch"})
		}, errdefs.ErrInvalid, nil},
		{"relative bind source, a file", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x/", Source: "file", Options: []string{"rbind", "ro"}})
		}, nil, func(c *nsinit.InitConfig) bool {
			m := c.Mounts[len(c.Mounts)-1]
			return m.Kind == nsinit.KindBind && m.File && m.Source == filepath.Join(bundle, "file") && m.Dest == "/x"
		}},
		{"host /dev", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/dev", Type: "bind", Source: "/dev", Options: []string{"rbind"}})
		}, nil, func(c *nsinit.InitConfig) bool { return !c.SetupDev }},
		{"mount on /", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/", Type: "tmpfs", Source: "tmpfs"})
		}, errdefs.ErrInvalid, nil},
		{"bad device type", func(s *specs.Spec) { s.Linux.Devices[0].Type = "x" }, errdefs.ErrInvalid, nil},
		{"bad sysctl", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"net..x": "1"} }, errdefs.ErrInvalid, nil},
		{"sysctls", func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1", "kernel.msgmax": "9"}
		}, nil, func(c *nsinit.InitConfig) bool {
			return reflect.DeepEqual(c.Sysctls, []nsinit.Sysctl{{Path: "kernel/msgmax", Value: "9"}, {Path: "net/ipv4/ip_forward", Value: "1"}})
		}},
		{"bad propagation", func(s *specs.Spec) { s.Linux.RootfsPropagation = "sideways" }, errdefs.ErrInvalid, nil},
		{"join a network namespace", func(s *specs.Spec) {
			s.Linux.Namespaces[4] = specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/run/netns/x"}
		}, nil, func(c *nsinit.InitConfig) bool {
			return !c.NewNet && len(c.Join) == 1 && c.Join[0] == nsinit.Namespace{Flag: unix.CLONE_NEWNET, Path: "/run/netns/x"}
		}},
		{"join a pid namespace", func(s *specs.Spec) { s.Linux.Namespaces[0].Path = "/proc/1/ns/pid" }, errdefs.ErrUnavailable, nil},
		{"no mount namespace", func(s *specs.Spec) { s.Linux.Namespaces = s.Linux.Namespaces[:1] }, errdefs.ErrInvalid, nil},
		{"user namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		}, errdefs.ErrUnavailable, nil},
		{"cgroup namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
		}, nil, func(c *nsinit.InitConfig) bool { return c.CgroupNS }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, err := newInitConfig(bundle, newSpec(tc.edit))
			if errdefs.Class(err) != tc.class {
				t.Fatalf("newInitConfig = %v, want class %v", err, tc.class)
			}
			if tc.check != nil && !tc.check(cfg) {
				t.Errorf("config %+v", cfg)
			}
		})
	}
}

func TestSupported(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*specs.Spec)
		want string
	}{
		{"default spec", func(*specs.Spec) {}, ""},
		{"capabilities", func(s *specs.Spec) { s.Process.Capabilities = &specs.LinuxCapabilities{} }, ""},
		{"selinux", func(s *specs.Spec) { s.Process.SelinuxLabel = "system_u:system_r:container_t:s0" }, "selinuxLabel"},
		{"seccomp", func(s *specs.Spec) { s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow} }, ""},
		{"apparmor", func(s *specs.Spec) { s.Process.ApparmorProfile = "docker-default" }, "apparmorProfile"},
		{"hooks", func(s *specs.Spec) { s.Hooks = &specs.Hooks{Poststart: []specs.Hook{{Path: "/x"}}} }, "hooks"},
		{"empty hooks", func(s *specs.Spec) { s.Hooks = &specs.Hooks{} }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := runtime.Spec(runtime.SpecOptions{ID: "c1", Args: []string{"true"}})
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(s)
			err = supported(s)
			if tc.want == "" {
				if err != nil {
					t.Errorf("supported = %v", err)
				}
				return
			}
			if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("supported = %v, want ErrUnavailable naming %s", err, tc.want)
			}
		})
	}
}

func TestNewCapSets(t *testing.T) {
	bit := func(names ...string) uint64 {
		var m uint64
		for _, n := range names {
			i, _ := runtime.CapabilityNumber(n)
			m |= 1 << i
		}
		return m
	}
	for _, tc := range []struct {
		name string
		caps *specs.LinuxCapabilities
		want nsinit.CapSets
		err  error
	}{
		{"none", nil, nsinit.CapSets{}, nil},
		{"sets", &specs.LinuxCapabilities{
			Bounding:    []string{"CAP_CHOWN", "CAP_KILL"},
			Effective:   []string{"CAP_CHOWN"},
			Inheritable: []string{"CAP_KILL"},
			Ambient:     []string{"CAP_KILL"},
		}, nsinit.CapSets{Bounding: bit("CAP_CHOWN", "CAP_KILL"), Inheritable: bit("CAP_KILL"), Ambient: bit("CAP_KILL")}, nil},
		{"unknown", &specs.LinuxCapabilities{Bounding: []string{"CAP_NOSUCH"}}, nsinit.CapSets{}, errdefs.ErrInvalid},
		{"unknown effective", &specs.LinuxCapabilities{Effective: []string{"chown"}}, nsinit.CapSets{}, errdefs.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := newCapSets(tc.caps)
			if errdefs.Class(err) != tc.err || (err == nil && got != tc.want) {
				t.Errorf("newCapSets = %+v, %v; want %+v, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestNewInitConfigSecurity(t *testing.T) {
	bundle := t.TempDir()
	if err := os.Mkdir(filepath.Join(bundle, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := runtime.Spec(runtime.SpecOptions{ID: "c1", Args: []string{"true"}, Terminal: true, NoNewPrivileges: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Process.ConsoleSize = &specs.Box{Height: 24, Width: 80}
	cfg, _, err := newInitConfig(bundle, s)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := newCapSets(&specs.LinuxCapabilities{Bounding: runtime.DefaultCapabilities()})
	if cfg.Caps != want || cfg.Caps.Bounding == 0 || !cfg.Console || *cfg.ConsoleSize != [2]uint16{24, 80} || !cfg.NoNewPrivs {
		t.Errorf("config %+v", cfg)
	}
	s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 3, Hard: 2}}
	if _, _, err := newInitConfig(bundle, s); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("soft above hard: %v", err)
	}
}

func TestNewExecConfig(t *testing.T) {
	umask := uint32(0o077)
	proc := &specs.Process{
		Args: []string{"sh"}, Env: []string{"A=1"}, Cwd: "/srv/",
		User:     specs.User{UID: 5, GID: 6, AdditionalGids: []uint32{7}, Umask: &umask},
		Terminal: true, NoNewPrivileges: true,
		Rlimits:      []specs.POSIXRlimit{{Type: "RLIMIT_NPROC", Soft: 1, Hard: 2}},
		Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}},
	}
	cfg, err := newExecConfig(runtime.ExecProcess{Pid: 42, Process: proc})
	if err != nil {
		t.Fatal(err)
	}
	want := &nsinit.ExecConfig{Args: []string{"sh"}, Env: []string{"A=1"}, Cwd: "/srv", UID: 5, GID: 6, Gids: []uint32{7}, Umask: 0o077,
		Rlimits: []nsinit.Rlimit{{Resource: unix.RLIMIT_NPROC, Soft: 1, Hard: 2}}, NoNewPrivs: true, Caps: nsinit.CapSets{Bounding: 1 << 5}, Pid: 42, Terminal: true}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("newExecConfig =\n%+v\nwant\n%+v", cfg, want)
	}
	for _, tc := range []struct {
		name string
		e    runtime.ExecProcess
	}{
		{"no process", runtime.ExecProcess{Pid: 1}},
		{"no pid", runtime.ExecProcess{Process: proc}},
		{"relative cwd", runtime.ExecProcess{Pid: 1, Process: &specs.Process{Args: []string{"x"}, Cwd: "srv"}}},
		{"bad rlimit", runtime.ExecProcess{Pid: 1, Process: &specs.Process{Args: []string{"x"}, Rlimits: []specs.POSIXRlimit{{Type: "X"}}}}},
	} {
		if _, err := newExecConfig(tc.e); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", tc.name, err)
		}
	}
}

func TestV2Resources(t *testing.T) {
	ptr := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		name      string
		mem       *specs.LinuxMemory
		max, swap *int64
	}{
		{"memory and swap", &specs.LinuxMemory{Limit: ptr(100), Swap: ptr(300)}, ptr(100), ptr(200)},
		{"unlimited swap", &specs.LinuxMemory{Limit: ptr(100), Swap: ptr(-1)}, ptr(100), nil},
		{"no memory limit", &specs.LinuxMemory{Limit: ptr(-1), Swap: ptr(-1)}, nil, nil},
		{"no swap", &specs.LinuxMemory{Limit: ptr(100), Swap: ptr(100)}, ptr(100), ptr(0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := v2Resources(&specs.LinuxResources{Memory: tc.mem})
			if !reflect.DeepEqual(r.Memory.Max, tc.max) || !reflect.DeepEqual(r.Memory.Swap, tc.swap) {
				t.Errorf("max %v swap %v", r.Memory.Max, r.Memory.Swap)
			}
		})
	}
}
