//go:build linux

package runtimetest

import (
	"os"
	"strings"
	"testing"

	"github.com/enginefs/enginefs/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Namespace modes and devices: docker's --pid/--uts/--ipc host,
// --cgroupns private, --device, --device-cgroup-rule.

// testHostNamespaces: with HostPID, HostUTS and HostIPC the process is in
// the host's pid, uts and ipc namespaces (those of the test), and in its
// own mount and network ones; without them in new ones of each kind.
func testHostNamespaces(t *testing.T, h *harness) {
	kinds := []string{"pid", "uts", "ipc", "mnt", "net"}
	self := map[string]string{}
	for _, k := range kinds {
		l, err := os.Readlink("/proc/self/ns/" + k)
		if err != nil {
			t.Skipf("no /proc/self/ns/%s: %v", k, err)
		}
		self[k] = l
	}
	script := "for k in " + strings.Join(kinds, " ") + "; do readlink /proc/self/ns/$k; done; hostname"
	for _, host := range []bool{false, true} {
		opts := sh(script)
		opts.HostPID, opts.HostUTS, opts.HostIPC = host, host, host
		out, st := (&harness{t: t, rt: h.rt}).run(opts, nil)
		wantStatus(t, st, 0, 0)
		got := lines(out)
		if len(got) != len(kinds)+1 {
			t.Fatalf("host=%v: output %q, want %d namespaces and the hostname", host, got, len(kinds))
		}
		for i, k := range kinds {
			shared := k != "mnt" && k != "net" && host
			if (got[i] == self[k]) != shared {
				t.Errorf("host=%v: %s namespace %s (the test's: %s), shared with the host: %v, want %v", host, k, got[i], self[k], got[i] == self[k], shared)
			}
		}
		if name, _ := os.Hostname(); host && got[len(kinds)] != name {
			t.Errorf("HostUTS: hostname %q, want the host's %q", got[len(kinds)], name)
		}
	}
}

// testCgroupNamespace: CgroupNS gives the process a cgroup namespace of
// its own; without it, it has the host's.
func testCgroupNamespace(t *testing.T, h *harness) {
	self, err := os.Readlink("/proc/self/ns/cgroup")
	if err != nil {
		t.Skipf("no cgroup namespaces: %v", err)
	}
	for _, private := range []bool{false, true} {
		opts := sh("readlink /proc/self/ns/cgroup")
		opts.CgroupNS = private
		out, st := (&harness{t: t, rt: h.rt}).run(opts, nil)
		wantStatus(t, st, 0, 0)
		if got := strings.TrimSpace(out); (got != self) != private {
			t.Errorf("CgroupNS=%v: cgroup namespace %s, the test's %s", private, got, self)
		}
	}
}

// testCustomDevices: a device of Devices is made at its path with the
// host's numbers and opens with its access only; without it a node made
// with mknod does not open, and a rule of DeviceRules lets it open. /dev/loop-control (10:237) is none of
// the default devices, and reading it fails with EINVAL once open.
func testCustomDevices(t *testing.T, h *harness) {
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		t.Skipf("no /dev/loop-control: %v", err)
	}
	mode := os.FileMode(0o600)
	var zero uint32
	opts := sh(`stat -c '%t:%T' /dev/xlc; cat /dev/xlc 2>&1; (echo x > /dev/xlc) 2>&1; true`)
	opts.Devices = []runtime.Device{{Access: "r", LinuxDevice: specs.LinuxDevice{Path: "/dev/xlc", Type: "c", Major: 10, Minor: 237,
		FileMode: &mode, UID: &zero, GID: &zero}}}
	out, st := h.run(opts, nil)
	wantStatus(t, st, 0, 0)
	got := lines(out)
	if len(got) != 3 || got[0] != "a:ed" || !strings.Contains(got[1], "Invalid argument") || !strings.Contains(got[2], "not permitted") {
		t.Fatalf("output %q: want the node a:ed, readable (EINVAL), not writable (EPERM)", got)
	}
	script := "mknod /tmp/t c 10 237; cat /tmp/t 2>&1; true"
	if out, _ := (&harness{t: t, rt: h.rt}).run(sh(script), nil); !strings.Contains(out, "not permitted") {
		t.Errorf("without a rule, a node c 10:237 opens: %q", out)
	}
	major, minor := int64(10), int64(237)
	opts = sh(script)
	opts.DeviceRules = []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: &major, Minor: &minor, Access: "r"}}
	out, st = (&harness{t: t, rt: h.rt}).run(opts, nil)
	wantStatus(t, st, 0, 0)
	if !strings.Contains(out, "Invalid argument") {
		t.Errorf("with the rule c 10:237 r, the node does not open: %q", out)
	}
}
