//go:build linux

package builtin

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime"
)

// cgroupFile reads a file of the container's cgroup in the hierarchy
// named hier (v1), skipping the test where there is none.
func cgroupFile(t *testing.T, r *Runtime, id, hier, file string) string {
	t.Helper()
	for _, d := range r.cg.dirs(runtime.CgroupParent + "/" + id) {
		if d.Name == hier {
			data, err := os.ReadFile(filepath.Join(d.Source, file))
			if err != nil {
				t.Fatal(err)
			}
			return strings.TrimSpace(string(data))
		}
	}
	t.Skipf("needs a cgroup v1 %s hierarchy", hier)
	return ""
}

func TestResources(t *testing.T) {
	r := newRuntime(t)
	if r.cg.v2 != "" {
		t.Skip("checks cgroup v1 files")
	}
	res := runtime.Resources{Memory: 64 << 20, MemoryReservation: 32 << 20, PidsLimit: 50,
		NanoCPUs: 5e8, CPUShares: 512, CpusetCpus: "0"}
	id, _, _ := sleeper(t, r, runtime.SpecOptions{Resources: res})
	for _, tc := range []struct{ hier, file, want string }{
		{"memory", "memory.limit_in_bytes", "67108864"},
		{"memory", "memory.soft_limit_in_bytes", "33554432"},
		{"pids", "pids.max", "50"},
		{"cpu", "cpu.cfs_quota_us", "50000"},
		{"cpu", "cpu.cfs_period_us", "100000"},
		{"cpu", "cpu.shares", "512"},
		{"cpuset", "cpuset.cpus", "0"},
	} {
		if got := cgroupFile(t, r, id, tc.hier, tc.file); got != tc.want {
			t.Errorf("%s = %s, want %s", tc.file, got, tc.want)
		}
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"); err == nil {
		if got := cgroupFile(t, r, id, "memory", "memory.memsw.limit_in_bytes"); got != "134217728" {
			t.Errorf("memsw = %s, want twice the memory", got)
		}
	}
}

func TestSwapWithoutAccounting(t *testing.T) {
	r := newRuntime(t)
	if r.cg.v2 != "" {
		t.Skip("checks cgroup v1 files")
	}
	// The host pretends not to account swap: the memory limit holds, the
	// swap limit is left out, and the process says so.
	noSwap := &Runtime{bin: r.bin, cg: &cgroupHost{v1: r.cg.v1, noSwapAccounting: true}}
	id, bundle := newBundle(t, runtime.SpecOptions{Args: []string{"sleep", "1000"},
		Resources: runtime.Resources{Memory: 64 << 20, MemorySwap: 96 << 20}}, nil)
	p, _ := start(t, noSwap, id, bundle, nil)
	if w := runtime.Warnings(p); !slices.Equal(w, []string{runtime.SwapLimitWarning}) {
		t.Errorf("warnings %q", w)
	}
	if got := cgroupFile(t, r, id, "memory", "memory.limit_in_bytes"); got != "67108864" {
		t.Errorf("memory limit %s", got)
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"); err == nil {
		if got := cgroupFile(t, r, id, "memory", "memory.memsw.limit_in_bytes"); got == "100663296" {
			t.Error("the swap limit was applied")
		}
	}
	// With accounting, no warning.
	id2, bundle2 := newBundle(t, runtime.SpecOptions{Args: []string{"true"}, Resources: runtime.Resources{Memory: 64 << 20}}, nil)
	p2, _ := start(t, r, id2, bundle2, nil)
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"); err == nil && runtime.Warnings(p2) != nil {
		t.Errorf("warnings on a host with swap accounting: %q", runtime.Warnings(p2))
	}
}

func TestOOMKilledThroughSpec(t *testing.T) {
	r := newRuntime(t)
	_, st := run(t, r, runtime.SpecOptions{Args: []string{"dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"},
		Resources: runtime.Resources{Memory: 16 << 20}}, nil)
	if !st.OOMKilled || st.Code != 137 {
		t.Errorf("status %+v, want OOMKilled with code 137", st)
	}
}

func TestReadStats(t *testing.T) {
	r := newRuntime(t)
	ctx := context.Background()
	id, bundle, init := sleeper(t, r, runtime.SpecOptions{Resources: runtime.Resources{Memory: 64 << 20, PidsLimit: 50}})
	ping, out := execIn(t, r, id, runtime.ExecProcess{Bundle: bundle, Pid: init.Pid(),
		Process: execSpec(t, bundle, "sh", "-c", "ping -c 2 -i 0.1 127.0.0.1 && i=0 && while [ $i -lt 30000 ]; do i=$((i+1)); done")})
	if st := wait(t, ping); st.Code != 0 {
		t.Fatalf("ping: %+v %s", st, out())
	}
	s, err := runtime.ReadStats(ctx, id, init.Pid())
	if err != nil {
		t.Fatal(err)
	}
	if s.Memory.Limit != 64<<20 || s.Memory.Usage == 0 || len(s.Memory.Stats) == 0 {
		t.Errorf("memory %+v", s.Memory)
	}
	if s.Pids.Limit != 50 || s.Pids.Current < 1 {
		t.Errorf("pids %+v", s.Pids)
	}
	if s.CPU.TotalUsage == 0 || s.CPU.SystemUsage == 0 || s.CPU.OnlineCPUs == 0 || s.CPU.UsageInKernelmode+s.CPU.UsageInUsermode == 0 {
		t.Errorf("cpu %+v", s.CPU)
	}
	lo, ok := s.Networks["lo"]
	if !ok || lo.RxPackets < 2 || lo.TxBytes == 0 || len(s.Networks) != 1 {
		t.Errorf("networks %+v, want lo with the pings", s.Networks)
	}
	if s.Read.IsZero() {
		t.Error("no read time")
	}

	init.Signal(syscall.SIGKILL)
	wait(t, init)
	if _, err := runtime.ReadStats(ctx, id, init.Pid()); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("ReadStats after the end = %v, want ErrNotFound", err)
	}
	if _, err := runtime.Processes(ctx, id); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Processes after the end = %v, want ErrNotFound", err)
	}
}

func TestProcessesTerminal(t *testing.T) {
	r := newRuntime(t)
	id, bundle := newBundle(t, runtime.SpecOptions{Terminal: true, Args: []string{"sleep", "1000"}}, nil)
	p, _ := start(t, r, id, bundle, nil)
	defer p.Console().Close()
	infos, err := runtime.Processes(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].PID != p.Pid() || infos[0].TTY != "pts/0" || infos[0].CMD != "sleep 1000" || infos[0].UID != 0 {
		t.Errorf("Processes = %+v", infos)
	}
}
