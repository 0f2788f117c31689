//go:build linux

package runtimetest

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/enginefs/enginefs/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Resource limits: the cgroup, pids, memory.

// testCgroup: the container's processes are in the cgroup of the spec's
// cgroupsPath in every v1 hierarchy (or the v2 one), as seen from inside
// (/proc/self/cgroup) and from the host (cgroup.procs).
func testCgroup(t *testing.T, h *harness) {
	c, feed := h.waiting(runtime.SpecOptions{Args: []string{"sh", "-c", "cat /proc/self/cgroup; echo ready; read x; exit 0"}})
	want := c.spec.Linux.CgroupsPath
	var host []string
	for _, d := range cgroupDirs(want) {
		data, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			t.Errorf("%s: %v", d, err)
			continue
		}
		host = append(host, d)
		if !slices.Contains(strings.Fields(string(data)), strconv.Itoa(c.p.Pid())) {
			t.Errorf("%s/cgroup.procs = %q lacks the container's pid %d", d, data, c.p.Pid())
		}
	}
	if len(host) == 0 {
		t.Errorf("no cgroup directory of %s on the host", want)
	}
	feed.Close()
	wantStatus(t, c.wait(), 0, 0)
	unified := true // a v2-only host
	for _, l := range lines(c.out()) {
		if l == "ready" {
			continue
		}
		// hierarchy-id:controllers:path. The v2 line of a hybrid host
		// ("0::...") is not checked: runc moves the process into the
		// v2 hierarchy's cgroup as well, the built-in runtime leaves
		// it at the root of that hierarchy, which has no controller.
		parts := strings.SplitN(l, ":", 3)
		if len(parts) != 3 {
			t.Fatalf("bad /proc/self/cgroup line %q", l)
		}
		if parts[0] == "0" && parts[1] == "" {
			continue
		}
		unified = false
		if parts[2] != want {
			t.Errorf("/proc/self/cgroup: %q, want the path %s", l, want)
		}
	}
	if unified {
		for _, l := range lines(c.out()) {
			if l != "ready" && l != "0::"+want && l != "0::/" {
				t.Errorf("/proc/self/cgroup: %q, want 0::%s or 0::/ in a cgroup namespace", l, want)
			}
		}
	}
}

// withResources returns an edit setting resource limits on the spec
// (runtime.SpecOptions has no field for them yet).
func withResources(f func(r *specs.LinuxResources)) func(*specs.Spec) {
	return func(s *specs.Spec) {
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		f(s.Linux.Resources)
	}
}

// testPidsLimit: a fork bomb is bounded: forking beyond the limit fails.
func testPidsLimit(t *testing.T, h *harness) {
	const limit = 8
	n := int64(limit)
	// Each background sleep holds a pid; the shell reports the forks
	// that fail and goes on.
	out, st := h.run(sh(`
i=0; ok=0
while [ $i -lt 20 ]; do
	if (sleep 10 &) 2>/dev/null; then ok=$((ok+1)); fi
	i=$((i+1))
done
echo started=$ok
cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max`),
		withResources(func(r *specs.LinuxResources) { r.Pids = &specs.LinuxPids{Limit: &n} }))
	wantStatus(t, st, 0, 0)
	t.Logf("output: %q", out)
	got := lines(out)
	if len(got) != 2 {
		t.Fatalf("output = %q, want the count of forks and pids.max", got)
	}
	started, err := strconv.Atoi(strings.TrimPrefix(got[0], "started="))
	if err != nil || started >= limit || started == 0 {
		t.Errorf("%s background processes, want fewer than the limit %d (and some)", got[0], limit)
	}
	if got[1] != strconv.Itoa(limit) {
		t.Errorf("pids.max in the container = %q, want %d", got[1], limit)
	}
}

// testMemoryLimit: the limit is the memory cgroup's, seen from the
// container and from the host.
func testMemoryLimit(t *testing.T, h *harness) {
	const limit = 64 << 20
	n := int64(limit)
	in, feed := pipe(t)
	c := h.bundle(sh(`cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; echo ready; read x; exit 0`),
		withResources(func(r *specs.LinuxResources) { r.Memory = &specs.LinuxMemory{Limit: &n} }))
	c.start(in)
	c.waitOutput("ready")
	var host []string
	for _, d := range cgroupDirs(c.spec.Linux.CgroupsPath) {
		for _, f := range []string{"memory.limit_in_bytes", "memory.max"} {
			if data, err := os.ReadFile(filepath.Join(d, f)); err == nil {
				host = append(host, strings.TrimSpace(string(data)))
			}
		}
	}
	feed.Close()
	wantStatus(t, c.wait(), 0, 0)
	wantLines(t, c.out(), strconv.Itoa(limit), "ready")
	if len(host) == 0 {
		t.Errorf("no memory cgroup of %s on the host", c.spec.Linux.CgroupsPath)
	}
	for _, v := range host {
		if v != strconv.Itoa(limit) {
			t.Errorf("host memory cgroup limit = %s, want %d", v, limit)
		}
	}
}

// testOOMKilled: a process killed by the OOM killer is reported as Docker
// does: 137 and OOMKilled.
func testOOMKilled(t *testing.T, h *harness) {
	n := int64(32 << 20)
	out, st := h.run(runtime.SpecOptions{Args: []string{"dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1"}},
		withResources(func(r *specs.LinuxResources) { r.Memory = &specs.LinuxMemory{Limit: &n} }))
	if st.Code != 137 || st.Signal != syscall.SIGKILL || !st.OOMKilled {
		t.Errorf("exit status = %+v (output %q), want 137 by SIGKILL and OOMKilled", st, out)
	}
}
