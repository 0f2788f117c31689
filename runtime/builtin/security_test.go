//go:build linux

package builtin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime"
	"github.com/enginefs/enginefs/runtime/builtin/nsinit"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// capMask is the mask of the named capabilities that the running kernel
// knows and the test process may have (its bounding set: a VM may lack
// CAP_SYS_RESOURCE).
func capMask(tb testing.TB, names []string) uint64 {
	tb.Helper()
	var m uint64
	for _, n := range names {
		i, ok := runtime.CapabilityNumber(n)
		if !ok {
			tb.Fatalf("unknown capability %s", n)
		}
		if i <= nsinit.LastCap() {
			m |= 1 << i
		}
	}
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	return m & statusCaps(tb, string(data))["CapBnd"]
}

// statusCaps reads the Cap* and NoNewPrivs lines of a /proc/self/status
// printed by a container.
func statusCaps(tb testing.TB, out string) map[string]uint64 {
	tb.Helper()
	got := map[string]uint64{}
	for _, l := range lines(out) {
		k, v, ok := strings.Cut(l, ":")
		if !ok || !(strings.HasPrefix(k, "Cap") || k == "NoNewPrivs") {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			tb.Fatalf("status line %q: %v", l, err)
		}
		got[k] = n
	}
	if len(got) < 5 {
		tb.Fatalf("status lacks capability lines:\n%s", out)
	}
	return got
}

func TestCapabilities(t *testing.T) {
	r := newRuntime(t)
	all := runtime.AllCapabilities()
	defaults := runtime.DefaultCapabilities()
	for _, tc := range []struct {
		name              string
		opts              runtime.SpecOptions
		edit              func(*specs.Spec)
		bnd, eff, inh, am []string
	}{
		{name: "root, Docker's defaults", bnd: defaults, eff: defaults},
		{name: "non-root", opts: runtime.SpecOptions{User: "1000:1000"}, bnd: defaults},
		{name: "cap-add", opts: runtime.SpecOptions{CapAdd: []string{"sys_admin"}},
			bnd: slices.Concat(defaults, []string{"CAP_SYS_ADMIN"}), eff: slices.Concat(defaults, []string{"CAP_SYS_ADMIN"})},
		{name: "cap-drop", opts: runtime.SpecOptions{CapDrop: []string{"CHOWN", "cap_kill"}},
			bnd: withoutCaps(defaults, "CAP_CHOWN", "CAP_KILL"), eff: withoutCaps(defaults, "CAP_CHOWN", "CAP_KILL")},
		{name: "cap-add ALL", opts: runtime.SpecOptions{CapAdd: []string{"ALL"}}, bnd: all, eff: all},
		{name: "cap-drop ALL", opts: runtime.SpecOptions{CapDrop: []string{"ALL"}}},
		{name: "privileged", opts: runtime.SpecOptions{Privileged: true}, bnd: all, eff: all},
		{name: "non-root with ambient", opts: runtime.SpecOptions{User: "1000:1000"}, edit: func(s *specs.Spec) {
			s.Process.Capabilities.Inheritable = []string{"CAP_NET_BIND_SERVICE"}
			s.Process.Capabilities.Ambient = []string{"CAP_NET_BIND_SERVICE"}
		}, bnd: defaults, eff: []string{"CAP_NET_BIND_SERVICE"}, inh: []string{"CAP_NET_BIND_SERVICE"}, am: []string{"CAP_NET_BIND_SERVICE"}},
		{name: "spec without capabilities", edit: func(s *specs.Spec) { s.Process.Capabilities = nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.Args = []string{"cat", "/proc/self/status"}
			out, st := run(t, r, opts, tc.edit)
			if st.Code != 0 {
				t.Fatalf("status %+v: %s", st, out)
			}
			got := statusCaps(t, out)
			want := map[string]uint64{
				"CapBnd": capMask(t, tc.bnd), "CapEff": capMask(t, tc.eff), "CapPrm": capMask(t, tc.eff),
				"CapInh": capMask(t, tc.inh), "CapAmb": capMask(t, tc.am), "NoNewPrivs": 0,
			}
			for k, w := range want {
				if got[k] != w {
					t.Errorf("%s = %016x, want %016x", k, got[k], w)
				}
			}
		})
	}
}

func TestCapabilitiesEnforced(t *testing.T) {
	r := newRuntime(t)
	script := "chown 1 /tmp 2>/dev/null && echo chown ok; hostname x 2>/dev/null && echo hostname ok; true"
	for _, tc := range []struct {
		name string
		opts runtime.SpecOptions
		out  string
	}{
		{"defaults", runtime.SpecOptions{}, "chown ok\n"},
		{"drop chown", runtime.SpecOptions{CapDrop: []string{"CHOWN"}}, ""},
		{"add sys_admin", runtime.SpecOptions{CapAdd: []string{"SYS_ADMIN"}}, "chown ok\nhostname ok\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.Args = []string{"sh", "-c", script}
			if out, _ := run(t, r, opts, nil); out != tc.out {
				t.Errorf("output %q, want %q", out, tc.out)
			}
		})
	}
}

func TestNoNewPrivileges(t *testing.T) {
	r := newRuntime(t)
	for _, nnp := range []bool{false, true} {
		t.Run(fmt.Sprint(nnp), func(t *testing.T) {
			out, _ := run(t, r, runtime.SpecOptions{Args: []string{"cat", "/proc/self/status"}, NoNewPrivileges: nnp}, nil)
			if got := statusCaps(t, out)["NoNewPrivs"]; got != map[bool]uint64{false: 0, true: 1}[nnp] {
				t.Errorf("NoNewPrivs: %d", got)
			}
		})
	}
}

func TestRlimits(t *testing.T) {
	r := newRuntime(t)
	var host unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &host); err != nil {
		t.Fatal(err)
	}
	opts := runtime.SpecOptions{
		Args:    []string{"sh", "-c", "ulimit -n; ulimit -Hn; ulimit -Hu"},
		Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200}, {Type: "RLIMIT_NPROC", Soft: 50, Hard: 60}},
	}
	if out, _ := run(t, r, opts, nil); out != "100\n200\n60\n" {
		t.Errorf("limits %q, want 100 200 60", out)
	}

	// Above the hard limit of the host: only with CAP_SYS_RESOURCE.
	above := host.Max + 1
	if host.Max == unix.RLIM_INFINITY {
		t.Skip("the host's RLIMIT_NOFILE has no hard limit to exceed")
	}
	id, bundle := newBundle(t, runtime.SpecOptions{Args: []string{"true"},
		Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: above, Hard: above}}}, nil)
	cleanupCgroup(t, r, runtime.CgroupParent+"/"+id)
	p, err := r.Start(context.Background(), runtime.Container{ID: id, Bundle: bundle})
	if err == nil {
		wait(t, p)
		if capMask(t, []string{"CAP_SYS_RESOURCE"})&capEffective(t) == 0 {
			t.Error("a hard limit above the host's was accepted without CAP_SYS_RESOURCE")
		}
		return
	}
	if !errors.Is(err, errdefs.ErrPermission) && !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("Start = %v, want ErrPermission", err)
	}
}

// withoutCaps returns caps without drop.
func withoutCaps(caps []string, drop ...string) []string {
	return slices.DeleteFunc(slices.Clone(caps), func(c string) bool { return slices.Contains(drop, c) })
}

// capEffective is the effective set of the test process.
func capEffective(tb testing.TB) uint64 {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		tb.Fatal(err)
	}
	return uint64(data[0].Effective) | uint64(data[1].Effective)<<32
}

func TestSysctlsAndShm(t *testing.T) {
	r := newRuntime(t)
	opts := runtime.SpecOptions{
		Args:    []string{"sh", "-c", "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni; grep ' /dev/shm ' /proc/mounts | grep -o 'size=[0-9]*k'"},
		Sysctls: map[string]string{"net.ipv4.ip_forward": "1", "kernel.shmmni": "1000"},
		ShmSize: 8 << 20,
	}
	if out, _ := run(t, r, opts, nil); out != "1\n1000\nsize=8192k\n" {
		t.Errorf("output %q", out)
	}
	if data, _ := os.ReadFile("/proc/sys/kernel/shmmni"); string(data) == "1000\n" {
		t.Error("the host's kernel.shmmni changed")
	}
}

func TestEngineMounts(t *testing.T) {
	r := newRuntime(t)
	dir := t.TempDir()
	hosts := dir + "/hosts"
	if err := os.WriteFile(hosts, []byte("127.0.0.1 localhost box\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := runtime.SpecOptions{
		Args:           []string{"sh", "-c", "cat /etc/hosts; touch /x 2>/dev/null || echo ro; echo more >> /etc/hosts && echo hosts rw"},
		ReadonlyRootfs: true,
		Mounts: []specs.Mount{
			{Destination: "/etc/hosts", Type: "bind", Source: hosts, Options: []string{"rbind", "rprivate"}},
		},
	}
	if out, _ := run(t, r, opts, nil); out != "127.0.0.1 localhost box\nro\nhosts rw\n" {
		t.Errorf("output %q", out)
	}
	if data, _ := os.ReadFile(hosts); string(data) != "127.0.0.1 localhost box\nmore\n" {
		t.Errorf("hosts on the host: %q", data)
	}
}
