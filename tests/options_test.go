//go:build linux

package tests

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestDockerOptionsApplied: the create options the bridge once took and
// dropped (issue 14) have their effect inside the container, through the
// docker CLI, under both runtimes.
func TestDockerOptionsApplied(t *testing.T) {
	d := startDockerd(t)
	hostUTS, _ := os.Hostname()
	for _, rt := range []string{"builtin", "runc"} {
		t.Run(rt, func(t *testing.T) {
			run := func(t *testing.T, args ...string) string {
				t.Helper()
				return d.mustDocker(append([]string{"run", "--rm", "--runtime", rt}, args...)...)
			}
			t.Run("add-host", func(t *testing.T) {
				out := run(t, "--add-host", "db.internal:10.1.2.3", "--add-host", "gw:host-gateway", "busybox", "cat", "/etc/hosts")
				if !strings.Contains(out, "10.1.2.3\tdb.internal\n") {
					t.Errorf("/etc/hosts has no db.internal entry:\n%s", out)
				}
				if !strings.Contains(out, "\tgw\n") || strings.Contains(out, "host-gateway") {
					t.Errorf("/etc/hosts: host-gateway is not the bridge's gateway:\n%s", out)
				}
			})
			t.Run("dns", func(t *testing.T) {
				out := run(t, "--dns", "192.0.2.53", "--dns-search", "corp.example", "--dns-option", "ndots:3", "busybox", "cat", "/etc/resolv.conf")
				for _, want := range []string{"nameserver 192.0.2.53\n", "search corp.example\n", "options ndots:3\n"} {
					if !strings.Contains(out, want) {
						t.Errorf("resolv.conf lacks %q:\n%s", want, out)
					}
				}
				if strings.Count(out, "nameserver") != 1 {
					t.Errorf("resolv.conf keeps other nameservers besides --dns:\n%s", out)
				}
			})
			t.Run("pid-host", func(t *testing.T) {
				out := run(t, "--pid", "host", "busybox", "sh", "-c", "echo $$; ls /proc | grep -c '^[0-9]'")
				f := strings.Fields(out)
				if len(f) != 2 || f[0] == "1" {
					t.Fatalf("--pid host: the shell is pid %q (want the host's pid namespace): %q", f, out)
				}
				if n, _ := strconv.Atoi(f[1]); n < 10 {
					t.Errorf("--pid host: /proc shows %d processes, not the host's", n)
				}
			})
			t.Run("uts-host", func(t *testing.T) {
				if out := strings.TrimSpace(run(t, "--uts", "host", "busybox", "hostname")); out != hostUTS {
					t.Errorf("--uts host: hostname %q, want the host's %q", out, hostUTS)
				}
			})
			t.Run("ipc-host", func(t *testing.T) {
				self, err := os.Readlink("/proc/self/ns/ipc")
				if err != nil {
					t.Skip(err)
				}
				out := strings.TrimSpace(run(t, "--ipc", "host", "busybox", "readlink", "/proc/self/ns/ipc"))
				if out != self {
					t.Errorf("--ipc host: ipc namespace %q, want the host's %q", out, self)
				}
				out = strings.TrimSpace(run(t, "--ipc", "private", "busybox", "readlink", "/proc/self/ns/ipc"))
				if out == self {
					t.Errorf("--ipc private: the container is in the host's ipc namespace %q", out)
				}
				if out := run(t, "--ipc", "none", "busybox", "sh", "-c", "grep -c ' /dev/shm ' /proc/mounts; true"); strings.TrimSpace(out) != "0" {
					t.Errorf("--ipc none: /dev/shm is mounted (%q mounts)", out)
				}
			})
			// /dev/loop-control (10:237) is not among docker's (nor runc's)
			// default devices; a read of it fails with EINVAL: the device
			// cgroup let the open through (else EPERM).
			t.Run("device", func(t *testing.T) {
				out := run(t, "--device", "/dev/loop-control:/dev/xlc:r", "busybox", "sh", "-c",
					"stat -c '%t:%T %F' /dev/xlc; cat /dev/xlc 2>&1; echo x 2>&1 > /dev/xlc || echo refused")
				if !strings.Contains(out, "a:ed character special file\n") || !strings.Contains(out, "Invalid argument") {
					t.Errorf("--device: /dev/xlc is not the host's /dev/loop-control, readable:\n%s", out)
				}
				if !strings.Contains(out, "refused") {
					t.Errorf("--device ...:r: the device opens for writing:\n%s", out)
				}
				_, errOut, code := d.docker("run", "--rm", "--runtime", rt, "--device", "/dev/nosuch", "busybox", "true")
				if code == 0 || !strings.Contains(errOut, `error gathering device information while adding custom device "/dev/nosuch"`) {
					t.Errorf("--device /dev/nosuch: exit %d, %q; want dockerd's error", code, errOut)
				}
			})
			t.Run("device-cgroup-rule", func(t *testing.T) {
				script := "mknod /tmp/t c 10 237; cat /tmp/t 2>&1; true"
				if out := run(t, "--device-cgroup-rule", "c 10:237 r", "busybox", "sh", "-c", script); !strings.Contains(out, "Invalid argument") {
					t.Errorf("--device-cgroup-rule 'c 10:237 r': the node does not open: %q", out)
				}
				if out, _, _ := d.docker("run", "--rm", "--runtime", rt, "busybox", "sh", "-c", script); !strings.Contains(out, "not permitted") {
					t.Errorf("without the rule, the node opens: %q", out)
				}
			})
			t.Run("cgroupns", func(t *testing.T) {
				self, err := os.Readlink("/proc/self/ns/cgroup")
				if err != nil {
					t.Skip(err)
				}
				if out := strings.TrimSpace(run(t, "--cgroupns", "private", "busybox", "readlink", "/proc/self/ns/cgroup")); out == self {
					t.Errorf("--cgroupns private: the container is in the host's cgroup namespace %q", out)
				}
				if out := strings.TrimSpace(run(t, "--cgroupns", "host", "busybox", "readlink", "/proc/self/ns/cgroup")); out != self {
					t.Errorf("--cgroupns host: cgroup namespace %q, want the host's %q", out, self)
				}
			})
			t.Run("init", func(t *testing.T) {
				out := run(t, "--init", "busybox", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$")
				lines := strings.Split(strings.TrimSpace(out), "\n")
				if len(lines) != 2 || !strings.HasPrefix(lines[0], "/sbin/docker-init -- sh") || lines[1] == "1" {
					t.Errorf("--init: pid 1 is not docker-init running the command:\n%s", out)
				}
			})
		})
	}
	// On this kernel (cgroup v1, CONFIG_RT_GROUP_SCHED) the budget reaches
	// the container's cgroup, which the kernel refuses as it refuses
	// dockerd's: the parent has no real-time budget of its own. Without
	// the files, dockerd's "kernel does not support" at create.
	t.Run("cpu-rt", func(t *testing.T) {
		_, errOut, code := d.docker("run", "--rm", "--cpu-rt-runtime", "950000", "busybox", "true")
		_, statErr := os.Stat("/sys/fs/cgroup/cpu/cpu.rt_period_us")
		switch {
		case code == 0:
			t.Errorf("--cpu-rt-runtime 950000 ran with no real-time budget in the parent cgroup")
		case statErr != nil && !strings.Contains(errOut, "kernel does not support CPU real-time scheduler"):
			t.Errorf("no real-time group scheduling: %q, want dockerd's error", errOut)
		case statErr == nil && !strings.Contains(errOut, "rt_runtime_us"):
			t.Errorf("--cpu-rt-runtime: %q, want the kernel's refusal of cpu.rt_runtime_us", errOut)
		}
	})
	t.Run("mac-address", func(t *testing.T) {
		out := d.mustDocker("run", "--rm", "--mac-address", "02:42:ac:11:00:99", "busybox", "cat", "/sys/class/net/eth0/address")
		if strings.TrimSpace(out) != "02:42:ac:11:00:99" {
			t.Errorf("--mac-address: eth0's address is %q", out)
		}
		d.mustDocker("network", "create", "macnet")
		defer d.docker("network", "rm", "macnet")
		id := strings.TrimSpace(d.mustDocker("create", "--network", "macnet", "--mac-address", "02:42:ac:11:00:9a", "busybox", "true"))
		defer d.docker("rm", "-f", id)
		if got := strings.TrimSpace(d.mustDocker("inspect", "-f", "{{.NetworkSettings.Networks.macnet.MacAddress}}", id)); got != "02:42:ac:11:00:9a" {
			t.Errorf("inspect: MacAddress %q, want the one asked for", got)
		}
	})
	t.Run("inspect", func(t *testing.T) {
		id := strings.TrimSpace(d.mustDocker("create", "--add-host", "db:10.1.2.3", "--dns", "192.0.2.53", "--init", "--pid", "host",
			"--ipc", "host", "--device", "/dev/loop-control", "busybox", "true"))
		defer d.docker("rm", "-f", id)
		got := strings.TrimSpace(d.mustDocker("inspect", "-f",
			"{{.HostConfig.ExtraHosts}} {{.HostConfig.Dns}} {{.HostConfig.Init}} {{.HostConfig.PidMode}} {{.HostConfig.IpcMode}} {{(index .HostConfig.Devices 0).PathOnHost}}", id))
		if want := "[db:10.1.2.3] [192.0.2.53] true host host /dev/loop-control"; got != want {
			t.Errorf("inspect shows %q, want %q", got, want)
		}
	})
	t.Run("mac-address-refused", func(t *testing.T) {
		if _, errOut, code := d.docker("create", "--mac-address", "01:00:5e:00:00:01", "busybox", "true"); code == 0 || !strings.Contains(errOut, "invalid MAC address") {
			t.Errorf("a multicast --mac-address: exit %d, %q", code, errOut)
		}
	})
	t.Run("user-network-dns", func(t *testing.T) {
		d.mustDocker("network", "create", "optsnet")
		defer d.docker("network", "rm", "optsnet")
		out := d.mustDocker("run", "--rm", "--network", "optsnet", "--dns", "192.0.2.53", "--dns-search", "corp.example",
			"busybox", "cat", "/etc/resolv.conf")
		if !strings.Contains(out, "nameserver 127.0.0.11\n") || strings.Contains(out, "192.0.2.53") || !strings.Contains(out, "search corp.example\n") {
			t.Errorf("on a user network, resolv.conf is not the embedded DNS's with the search domain:\n%s", out)
		}
	})
}

// TestDockerOptionsRefused: options the engine does not implement are
// refused with an error naming them, and bad values with dockerd's
// words, before any container is made.
func TestDockerOptionsRefused(t *testing.T) {
	d := startDockerd(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--cpu-rt-runtime", "950000", "--cpu-rt-period", "900000"}, "cpu real-time runtime cannot be higher than cpu real-time period"},
		{[]string{"--blkio-weight", "300"}, "HostConfig.BlkioWeight"},
		{[]string{"--oom-score-adj", "500"}, "HostConfig.OomScoreAdj"},
		{[]string{"--device-cgroup-rule", "c 1:3"}, "invalid device cgroup format 'c 1:3'"},
		{[]string{"--oom-kill-disable"}, "HostConfig.OomKillDisable"},
		{[]string{"--cgroup-parent", "/x"}, "HostConfig.CgroupParent"},
		{[]string{"--domainname", "example.org"}, "Config.Domainname"},
		{[]string{"--ipc", "nosuch"}, "invalid IPC mode: nosuch"},
		{[]string{"--uts", "host", "-h", "x"}, "conflicting options: hostname and the UTS mode"},
		{[]string{"--pid", "container:other"}, "PID mode container:other"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			args := append(append([]string{"create"}, tc.args...), "busybox", "true")
			out, errOut, code := d.docker(args...)
			if code == 0 || !strings.Contains(errOut, tc.want) {
				t.Errorf("docker %s: exit %d, stdout %q, stderr %q; want a refusal naming %q", strings.Join(args, " "), code, out, errOut, tc.want)
			}
		})
	}
	if out := d.mustDocker("ps", "-aq"); strings.TrimSpace(out) != "" {
		t.Errorf("refused creates left containers: %q", out)
	}
	t.Run("connect driver-opt", func(t *testing.T) {
		d.mustDocker("network", "create", "optnet")
		defer d.docker("network", "rm", "optnet")
		d.mustDocker("create", "--name", "conn1", "busybox", "true")
		defer d.docker("rm", "-f", "conn1")
		_, errOut, code := d.docker("network", "connect", "--driver-opt", "com.example.x=1", "optnet", "conn1")
		if code == 0 || !strings.Contains(errOut, "DriverOpts") {
			t.Errorf("network connect --driver-opt: exit %d, %q; want a refusal naming DriverOpts", code, errOut)
		}
		if out := d.mustDocker("inspect", "-f", "{{len .NetworkSettings.Networks}}", "conn1"); strings.TrimSpace(out) != "1" {
			t.Errorf("the refused connect connected: %s networks", out)
		}
	})
}

// TestDctlOptions: dctl's run takes the same flags, through the tree.
func TestDctlOptions(t *testing.T) {
	d := startDaemon(t)
	out := d.mustDctl("run", "--rm", "--add-host", "db.internal:10.1.2.3", "--dns", "192.0.2.53", "--init",
		"busybox", "sh", "-c", "grep -h -e db.internal -e 192.0.2.53 /etc/hosts /etc/resolv.conf; tr '\\0' ' ' < /proc/1/cmdline")
	for _, want := range []string{"10.1.2.3\tdb.internal", "nameserver 192.0.2.53", "/sbin/docker-init -- sh"} {
		if !strings.Contains(out, want) {
			t.Errorf("dctl run: %q missing from:\n%s", want, out)
		}
	}
}
