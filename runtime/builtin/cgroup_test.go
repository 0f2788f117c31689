//go:build linux

package builtin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/containerd/cgroups/v3"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestCgroupLifecycle(t *testing.T) {
	r := newRuntime(t)
	limit := int64(42)
	id, bundle := newBundle(t, runtime.SpecOptions{Args: []string{"sleep", "1000"}}, func(s *specs.Spec) {
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &limit}
	})
	p, _ := start(t, r, id, bundle, nil)
	cg := runtime.CgroupParent + "/" + id

	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", p.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines(string(data)) {
		parts := strings.SplitN(l, ":", 3)
		// On a hybrid host the v2 tree (hierarchy 0) is not managed.
		if r.cg.v2 == "" && parts[0] == "0" {
			continue
		}
		if parts[2] != cg {
			t.Errorf("/proc/%d/cgroup: %s, want %s", p.Pid(), l, cg)
		}
	}
	for _, d := range cgroupDirs(r, cg) {
		procs, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(lines(string(procs)), strconv.Itoa(p.Pid())) {
			t.Errorf("%s/cgroup.procs = %q, lacks %d", d, procs, p.Pid())
		}
		if max, err := os.ReadFile(filepath.Join(d, "pids.max")); err == nil && strings.TrimSpace(string(max)) != "42" {
			t.Errorf("%s/pids.max = %q, want 42", d, max)
		}
	}

	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wait(t, p)
	for _, d := range cgroupDirs(r, cg) {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("cgroup %s still there after Wait", d)
		}
	}
}

func TestCgroupMountAndDevices(t *testing.T) {
	r := newRuntime(t)
	checkCgroupMountAndDevices(t, r)
}

func checkCgroupMountAndDevices(t *testing.T, r *Runtime) {
	t.Helper()
	// The container sees its own cgroup (holding its pid 1), read-only; a
	// disk it creates cannot be opened (the device cgroup), /dev/null and
	// /dev/zero can.
	out, _ := run(t, r, sh(`cat /sys/fs/cgroup/cgroup.procs /sys/fs/cgroup/*/cgroup.procs 2>/dev/null | grep -q '^1$' && echo cgroup ok
grep ' /sys/fs/cgroup' /proc/self/mountinfo | grep -vc ' ro,'
mkdir /sys/fs/cgroup/x 2>/dev/null || echo cgroup ro
head -c 4 /dev/zero | wc -c
echo x > /dev/null && echo null ok
mknod /dev/disk0 b 254 0 && head -c 1 /dev/disk0 >/dev/null 2>&1 || echo disk denied`), nil)
	if want := "cgroup ok\n0\ncgroup ro\n4\nnull ok\ndisk denied\n"; out != want {
		t.Errorf("output %q, want %q", out, want)
	}
}

func TestCgroupNamespace(t *testing.T) {
	r := newRuntime(t)
	runtimes := map[string]*Runtime{"host": r}
	if cgroups.Mode() == cgroups.Hybrid {
		runtimes["v2 on hybrid"] = &Runtime{bin: r.bin, cg: &cgroupHost{v2: "/sys/fs/cgroup/unified"}}
	}
	for name, r := range runtimes {
		t.Run(name, func(t *testing.T) {
			out, _ := run(t, r, runtime.SpecOptions{Args: []string{"cat", "/proc/self/cgroup"}}, func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
			})
			l := lines(out)
			for _, line := range l {
				// The hybrid's v2 tree is not managed by the v1 code.
				if !strings.HasSuffix(line, ":/") && !(name == "host" && r.cg.v2 == "" && strings.HasPrefix(line, "0::")) {
					t.Errorf("in a cgroup namespace, /proc/self/cgroup says %s", line)
				}
			}
			if len(l) == 0 {
				t.Error("no /proc/self/cgroup")
			}
		})
	}
}

func TestCgroupV2OnHybrid(t *testing.T) {
	r := newRuntime(t)
	if cgroups.Mode() != cgroups.Hybrid {
		t.Skip("needs a hybrid cgroup host (on a unified one the other tests run the v2 code)")
	}
	r2 := &Runtime{bin: r.bin, cg: &cgroupHost{v2: "/sys/fs/cgroup/unified"}}
	checkCgroupMountAndDevices(t, r2)

	id, bundle := newBundle(t, runtime.SpecOptions{Args: []string{"sleep", "1000"}}, nil)
	p, _ := start(t, r2, id, bundle, nil)
	cg := runtime.CgroupParent + "/" + id
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", p.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(lines(string(data)), "0::"+cg) {
		t.Errorf("/proc/%d/cgroup:\n%s\nlacks 0::%s", p.Pid(), data, cg)
	}
	p.Signal(syscall.SIGKILL)
	if st := wait(t, p); st.Code != 137 {
		t.Errorf("status %+v", st)
	}
	if _, err := os.Stat("/sys/fs/cgroup/unified" + cg); !os.IsNotExist(err) {
		t.Errorf("cgroup v2 %s still there: %v", cg, err)
	}
}

func TestOOMKilled(t *testing.T) {
	r := newRuntime(t)
	limit := int64(16 << 20)
	_, st := run(t, r, runtime.SpecOptions{Args: []string{"dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"}}, func(s *specs.Spec) {
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit, Swap: &limit}
	})
	if !st.OOMKilled || st.Code != 137 {
		t.Errorf("status %+v, want OOMKilled with code 137", st)
	}
}

func TestCgroupInUse(t *testing.T) {
	r := newRuntime(t)
	shared := runtime.CgroupParent + "/" + newID()
	useShared := func(s *specs.Spec) { s.Linux.CgroupsPath = shared }
	id, bundle := newBundle(t, runtime.SpecOptions{Args: []string{"sleep", "1000"}}, useShared)
	start(t, r, id, bundle, nil)
	id2, bundle2 := newBundle(t, runtime.SpecOptions{Args: []string{"true"}}, useShared)
	p, err := r.Start(context.Background(), runtime.Container{ID: id2, Bundle: bundle2})
	if err == nil {
		p.Signal(syscall.SIGKILL)
		p.Wait(context.Background())
	}
	if !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Errorf("Start in a busy cgroup = %v, want ErrAlreadyExists", err)
	}
}
