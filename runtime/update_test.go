//go:build linux

package runtime

import "testing"

func TestCgroupWrites(t *testing.T) {
	values := func(ws []cgroupWrite) map[string]string {
		m := map[string]string{}
		for _, w := range ws {
			m[w.file] = w.value
		}
		return m
	}
	w := cgroupWrites(Resources{Memory: 64 << 20, NanoCPUs: 5e8, PidsLimit: 50, CPUShares: 512})
	v1, v2 := values(w.v1), values(w.v2)
	for k, want := range map[string]string{
		"memory.limit_in_bytes": "67108864", "memory.memsw.limit_in_bytes": "134217728", "memory.soft_limit_in_bytes": "-1",
		"cpu.cfs_quota_us": "50000", "cpu.cfs_period_us": "100000", "cpu.shares": "512", "pids.max": "50",
	} {
		if v1[k] != want {
			t.Errorf("v1 %s = %q, want %q", k, v1[k], want)
		}
	}
	for k, want := range map[string]string{
		"memory.max": "67108864", "memory.swap.max": "67108864", "memory.low": "0", "cpu.max": "50000 100000", "pids.max": "50",
	} {
		if v2[k] != want {
			t.Errorf("v2 %s = %q, want %q", k, v2[k], want)
		}
	}
	// No limits: every one lifted.
	v1, v2 = values(cgroupWrites(Resources{}).v1), values(cgroupWrites(Resources{}).v2)
	if v1["memory.limit_in_bytes"] != "-1" || v1["cpu.cfs_quota_us"] != "-1" || v1["pids.max"] != "max" || v1["cpu.shares"] != "1024" {
		t.Errorf("v1 without limits: %v", v1)
	}
	if v2["memory.max"] != "max" || v2["memory.swap.max"] != "max" || v2["cpu.max"] != "max 100000" || v2["pids.max"] != "max" {
		t.Errorf("v2 without limits: %v", v2)
	}
	if _, ok := v1["cpuset.cpus"]; ok {
		t.Errorf("cpuset.cpus written without a cpuset")
	}
}
