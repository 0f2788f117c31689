//go:build linux

package runtimetest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/enginefs/enginefs/runtime"
)

// Confinement: capabilities, masked and read-only paths, devices, rlimits.

// DockerDefaultCapabilities is the capability set Docker gives a container
// by default (moby's oci/caps/defaults.go): the bounding set of every
// process, and the effective set of one running as root.
var DockerDefaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// capBits numbers the capabilities of DockerDefaultCapabilities.
var capBits = map[string]uint{
	"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_FOWNER": 3, "CAP_FSETID": 4,
	"CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8,
	"CAP_NET_BIND_SERVICE": 10, "CAP_NET_RAW": 13, "CAP_SYS_CHROOT": 18,
	"CAP_MKNOD": 27, "CAP_AUDIT_WRITE": 29, "CAP_SETFCAP": 31,
}

// capMask is the /proc/<pid>/status mask of names.
func capMask(names []string) (uint64, error) {
	var m uint64
	for _, n := range names {
		bit, ok := capBits[n]
		if !ok {
			return 0, fmt.Errorf("capability %s is not in Docker's default set", n)
		}
		m |= 1 << bit
	}
	return m, nil
}

// procCaps runs grep Cap /proc/self/status in a container of opts and
// returns the masks by field (CapEff, CapBnd...).
func procCaps(t *testing.T, h *harness, opts runtime.SpecOptions) map[string]uint64 {
	t.Helper()
	c := h.bundle(opts, nil)
	if c.spec.Process.Capabilities == nil {
		t.Fatal("runtime.Spec sets no process.capabilities: a container would get whatever the runtime does with none, not Docker's default set")
	}
	want, _ := capMask(DockerDefaultCapabilities)
	if got, err := capMask(c.spec.Process.Capabilities.Bounding); err != nil || got != want {
		t.Errorf("runtime.Spec's bounding set %v is not Docker's default %v (%v)", c.spec.Process.Capabilities.Bounding, DockerDefaultCapabilities, err)
	}
	c.start(nil)
	wantStatus(t, c.wait(), 0, 0)
	out := map[string]uint64{}
	for _, l := range lines(c.out()) {
		k, v, _ := strings.Cut(l, ":")
		n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			t.Fatalf("bad line %q in /proc/self/status", l)
		}
		out[k] = n
	}
	if len(out) < 5 {
		t.Fatalf("capability lines of /proc/self/status: %q", c.out())
	}
	return out
}

var capsScript = sh("grep '^Cap' /proc/self/status")

func testCapabilitiesRoot(t *testing.T, h *harness) {
	caps := procCaps(t, h, capsScript)
	want, _ := capMask(DockerDefaultCapabilities)
	for _, k := range []string{"CapEff", "CapPrm", "CapBnd"} {
		if caps[k] != want {
			t.Errorf("%s = %016x, want Docker's default %016x", k, caps[k], want)
		}
	}
	if caps["CapInh"] != 0 || caps["CapAmb"] != 0 {
		t.Errorf("CapInh = %016x, CapAmb = %016x, want none", caps["CapInh"], caps["CapAmb"])
	}
}

// testCapabilitiesUser: a process of another user keeps the bounding set
// but, without file capabilities, has no effective or permitted one.
func testCapabilitiesUser(t *testing.T, h *harness) {
	opts := capsScript
	opts.User = "1000:1000"
	caps := procCaps(t, h, opts)
	want, _ := capMask(DockerDefaultCapabilities)
	if caps["CapBnd"] != want {
		t.Errorf("CapBnd = %016x, want Docker's default %016x", caps["CapBnd"], want)
	}
	for _, k := range []string{"CapEff", "CapPrm", "CapInh", "CapAmb"} {
		if caps[k] != 0 {
			t.Errorf("%s = %016x, want none for uid 1000", k, caps[k])
		}
	}
}

// testMaskedPaths: the masked paths of the spec (the kernel's memory
// image, its timers, keys, firmware...) that exist on the host are empty
// in the container, and /proc/sys cannot be written.
func testMaskedPaths(t *testing.T, h *harness) {
	c := h.bundle(sh("true"), func(s *specs.Spec) { s.Hostname = "masked" })
	var script strings.Builder
	var checked []string
	for _, p := range c.spec.Linux.MaskedPaths {
		if _, err := os.Stat(p); err != nil {
			t.Logf("%s: not on this host, not checked", p)
			continue
		}
		checked = append(checked, p)
		// A directory lists nothing, a file reads nothing (or cannot
		// be read).
		fmt.Fprintf(&script, "if [ -d %[1]s ]; then echo %[1]s $(ls -A %[1]s | wc -l); else echo %[1]s $(cat %[1]s 2>/dev/null | wc -c); fi\n", p)
	}
	script.WriteString("if echo probe > /proc/sys/kernel/hostname 2>/dev/null; then echo proc-sys-writable; else echo proc-sys-readonly; fi\nhostname\n")
	c.spec.Process.Args = []string{"sh", "-c", script.String()}
	if err := runtime.WriteBundle(c.bundle, c.spec); err != nil {
		t.Fatal(err)
	}
	c.start(nil)
	wantStatus(t, c.wait(), 0, 0)
	var want []string
	for _, p := range checked {
		want = append(want, p+" 0")
	}
	wantLines(t, c.out(), append(want, "proc-sys-readonly", "masked")...)
}

// testSysReadonly: /sys and every cgroup hierarchy under /sys/fs/cgroup
// are read-only, so the container cannot change its own limits. (The
// tmpfs holding the v1 hierarchies is not checked: runc leaves it
// writable, as Docker users see on v1 hosts, although the spec says ro.)
func testSysReadonly(t *testing.T, h *harness) {
	out, st := h.run(sh(`touch /sys/probe 2>/dev/null && echo sys-writable || echo sys-readonly
n=0
for d in /sys/fs/cgroup /sys/fs/cgroup/*; do
	[ -e "$d/cgroup.procs" ] || continue
	touch "$d/probe" 2>/dev/null && echo "$d writable"
	n=$((n+1))
done
echo hierarchies=$n`), nil)
	wantStatus(t, st, 0, 0)
	got := lines(out)
	if len(got) != 2 || got[0] != "sys-readonly" || got[1] == "hierarchies=0" {
		t.Errorf("output = %q, want sys-readonly and a count of read-only hierarchies", got)
	}
}

func testReadonlyRootfs(t *testing.T, h *harness) {
	script := sh(`
touch /probe 2>/dev/null && echo root-writable || echo root-readonly
touch /tmp/probe 2>/dev/null && echo tmp-writable || echo tmp-readonly
touch /dev/shm/probe && echo shm-writable`)
	for _, tc := range []struct {
		readonly bool
		want     []string
	}{
		{false, []string{"root-writable", "tmp-writable", "shm-writable"}},
		{true, []string{"root-readonly", "tmp-readonly", "shm-writable"}},
	} {
		t.Run(fmt.Sprintf("Readonly=%v", tc.readonly), func(t *testing.T) {
			opts := script
			opts.ReadonlyRootfs = tc.readonly
			out, st := (&harness{t: t, rt: h.rt}).run(opts, nil)
			wantStatus(t, st, 0, 0)
			wantLines(t, out, tc.want...)
		})
	}
}

// testDevices: /dev holds Docker's default nodes and links and nothing
// else; the device cgroup refuses a node that is not among them, even to
// root, who may make it (CAP_MKNOD).
func testDevices(t *testing.T, h *harness) {
	out, st := h.run(sh(`ls -A /dev
echo x > /dev/null && echo null-writable
mknod /tmp/blk b 7 0 && { head -c 1 /tmp/blk >/dev/null 2>&1 && echo blk-readable || echo blk-denied; }`), nil)
	wantStatus(t, st, 0, 0)
	required := []string{"fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero"}
	allowed := map[string]bool{"core": true, "console": true} // core when /proc/kcore exists
	for _, r := range required {
		allowed[r] = true
	}
	got := lines(out)
	if len(got) < 2 || got[len(got)-2] != "null-writable" || got[len(got)-1] != "blk-denied" {
		t.Fatalf("output = %q, want /dev's entries, null-writable and blk-denied", got)
	}
	entries := map[string]bool{}
	for _, e := range got[:len(got)-2] {
		entries[e] = true
		if !allowed[e] {
			t.Errorf("/dev/%s is not one of Docker's default devices", e)
		}
	}
	for _, r := range required {
		if !entries[r] {
			t.Errorf("/dev/%s is missing", r)
		}
	}
}

func testNoNewPrivileges(t *testing.T, h *harness) {
	for _, nnp := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoNewPrivileges=%v", nnp), func(t *testing.T) {
			out, st := (&harness{t: t, rt: h.rt}).run(sh("grep '^NoNewPrivs:' /proc/self/status"),
				func(s *specs.Spec) { s.Process.NoNewPrivileges = nnp })
			wantStatus(t, st, 0, 0)
			want := "0"
			if nnp {
				want = "1"
			}
			wantLines(t, strings.ReplaceAll(out, "\t", " "), "NoNewPrivs: "+want)
		})
	}
}

func testRlimits(t *testing.T, h *harness) {
	out, st := h.run(sh("ulimit -n; ulimit -Hn; ulimit -c; ulimit -Hc"), func(s *specs.Spec) {
		s.Process.Rlimits = []specs.POSIXRlimit{
			{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200},
			{Type: "RLIMIT_CORE", Soft: 0, Hard: 4096},
		}
	})
	wantStatus(t, st, 0, 0)
	// ash prints the core size in blocks of 512 bytes.
	wantLines(t, out, "100", "200", "0", "8")
}

// testUmask: the process starts with Docker's umask, 022, unless the spec
// sets one.
func testUmask(t *testing.T, h *harness) {
	for _, tc := range []struct {
		umask *uint32
		want  string
	}{{nil, "0022"}, {ptr(uint32(0o077)), "0077"}} {
		t.Run(tc.want, func(t *testing.T) {
			out, st := (&harness{t: t, rt: h.rt}).run(sh("umask"), func(s *specs.Spec) { s.Process.User.Umask = tc.umask })
			wantStatus(t, st, 0, 0)
			wantLines(t, out, tc.want)
		})
	}
}

func ptr[T any](v T) *T { return &v }
