//go:build linux

package runtimetest

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/enginefs/enginefs/internal/testenv"
	"github.com/enginefs/enginefs/runtime"
)

// System-call filtering: docker's default profile, as runtime.Spec sets it.

// DockerDenied are the answers a default docker container gets from
// tests/sysprobe (docker 28's default profile, default capabilities): what a
// container of runtime.Spec's default must get too.
var DockerDenied = map[string]string{
	"unshare-user":      "EPERM",
	"clone-newuser":     "EPERM",
	"add_key":           "EPERM",
	"keyctl":            "EPERM",
	"request_key":       "EPERM",
	"clone3":            "ENOSYS",
	"personality-exec":  "EPERM",
	"userfaultfd":       "EPERM",
	"open_by_handle_at": "EPERM",
	"perf_event_open":   "EPERM",
	"bpf":               "EPERM",
	"kexec_load":        "EPERM",
	"init_module":       "EPERM",
	"settimeofday":      "EPERM",
	"getpid":            "ok",
}

// probeMount builds tests/sysprobe (static; the build cache makes the
// second build a link) and returns the read-only bind mount that puts it at
// /probe/sysprobe.
func probeMount(t *testing.T) specs.Mount {
	t.Helper()
	dir := t.TempDir()
	out, err := testenv.GoBuild(context.Background(), filepath.Join(dir, "sysprobe"), "github.com/enginefs/enginefs/tests/sysprobe", true).CombinedOutput()
	if err != nil {
		t.Fatalf("building tests/sysprobe: %v\n%s", err, out)
	}
	return specs.Mount{Destination: "/probe", Type: "bind", Source: dir, Options: []string{"rbind", "ro"}}
}

// probeAnswers parses sysprobe's output.
func probeAnswers(out string) map[string]string {
	m := map[string]string{}
	for _, l := range lines(out) {
		if f := strings.Fields(l); len(f) == 2 {
			m[f[0]] = f[1]
		}
	}
	return m
}

// testSeccompDefault: a default container has a filter (Seccomp: 2 in its
// status) and gets docker's answers: no user namespace, no keyring, ENOSYS
// for clone3; busybox's own unshare -U fails too.
func testSeccompDefault(t *testing.T, h *harness) {
	opts := sh("grep '^Seccomp:' /proc/self/status; unshare -U true && echo unshare-ok; /probe/sysprobe")
	opts.Mounts = []specs.Mount{probeMount(t)}
	out, st := h.run(opts, nil)
	wantStatus(t, st, 0, 0)
	if !strings.Contains(out, "Seccomp:\t2") {
		t.Errorf("no seccomp filter in a default container:\n%s", out)
	}
	if strings.Contains(out, "unshare-ok") {
		t.Errorf("unshare -U succeeded in a default container")
	}
	got := probeAnswers(out)
	for call, want := range DockerDenied {
		if got[call] != want {
			t.Errorf("%s: %q, docker answers %q", call, got[call], want)
		}
	}
}

// testSeccompUnconfined: seccomp=unconfined and privileged have no filter.
func testSeccompUnconfined(t *testing.T, h *harness) {
	for name, o := range map[string]runtime.SpecOptions{
		"unconfined": {Seccomp: "unconfined"},
		"privileged": {Privileged: true},
	} {
		t.Run(name, func(t *testing.T) {
			opts := sh("grep '^Seccomp:' /proc/self/status; /probe/sysprobe keyctl clone3")
			opts.Seccomp, opts.Privileged = o.Seccomp, o.Privileged
			opts.Mounts = []specs.Mount{probeMount(t)}
			out, st := (&harness{t: t, rt: h.rt}).run(opts, ownCapabilities)
			wantStatus(t, st, 0, 0)
			got := probeAnswers(out)
			if got["Seccomp:"] != "0" || got["keyctl"] == "EPERM" || got["clone3"] == "ENOSYS" {
				t.Errorf("%s: a filter is applied:\n%s", name, out)
			}
		})
	}
}

// testSeccompProfile: a user's profile (docker's JSON) is applied as given,
// with its errno, and under no_new_privs too.
func testSeccompProfile(t *testing.T, h *harness) {
	profile := `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}`
	for _, nnp := range []bool{false, true} {
		opts := sh("mkdir /tmp/x && echo made; echo end")
		opts.Seccomp, opts.NoNewPrivileges = profile, nnp
		out, st := (&harness{t: t, rt: h.rt}).run(opts, nil)
		wantStatus(t, st, 0, 0)
		if strings.Contains(out, "made") || !strings.Contains(out, "end") {
			t.Errorf("no_new_privs=%v: mkdir was not denied by the profile:\n%s", nnp, out)
		}
	}
}

// testSeccompExec: an exec'd process gets the container's filter.
func testSeccompExec(t *testing.T, h *harness) {
	c, feed := h.waiting(runtime.SpecOptions{})
	p, out, err := c.exec(c.execProcess("sh", "-c", "grep '^Seccomp:' /proc/self/status; unshare -U true && echo unshare-ok"), nil)
	if err != nil {
		t.Fatalf("Exec: %v", err)
	}
	wantStatus(t, wait(t, p), 1, 0)
	got := readFile(t, out.Name())
	if !strings.Contains(got, "Seccomp:\t2") || strings.Contains(got, "unshare-ok") {
		t.Errorf("exec'd process not filtered:\n%s", got)
	}
	feed.Close()
	wantStatus(t, c.wait(), 0, 0)
}

// ownCapabilities keeps of the spec's capabilities those this process has
// in its bounding set: a VM may withhold some (this kind lacks
// CAP_SYS_RESOURCE), and runc refuses to give what it cannot.
func ownCapabilities(s *specs.Spec) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil || s.Process.Capabilities == nil {
		return
	}
	var bnd uint64
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "CapBnd:"); ok {
			bnd, _ = strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	keep := func(caps []string) []string {
		var out []string
		for _, c := range caps {
			if bit, ok := runtime.CapabilityNumber(c); !ok || bnd&(1<<bit) != 0 {
				out = append(out, c)
			}
		}
		return out
	}
	c := s.Process.Capabilities
	c.Bounding, c.Effective, c.Permitted = keep(c.Bounding), keep(c.Effective), keep(c.Permitted)
}
