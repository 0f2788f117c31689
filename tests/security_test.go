package tests

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enginefs/enginefs/internal/testenv"
	"github.com/enginefs/enginefs/runtime/runtimetest"
)

// buildProbe builds tests/sysprobe, static, into a directory to bind-mount.
func buildProbe(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := testenv.GoBuild(context.Background(), filepath.Join(dir, "sysprobe"), "github.com/enginefs/enginefs/tests/sysprobe", true)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building sysprobe: %v\n%s", err, out)
	}
	return dir
}

// answers parses sysprobe's lines.
func answers(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 2 {
			m[f[0]] = f[1]
		}
	}
	return m
}

// TestSeccomp: what the confinement issue found, through dctl and under
// each runtime: a default container gets docker's answers (no user
// namespace even with every capability dropped, no keyring), unconfined and
// privileged ones get none, a profile file is applied as given, and an
// exec'd process carries the container's filter.
func TestSeccomp(t *testing.T) {
	d := startDaemon(t)
	probe := buildProbe(t)
	vol := probe + ":/probe:ro"
	for _, rt := range []string{"builtin", "runc"} {
		t.Run(rt, func(t *testing.T) {
			out := d.mustDctl("run", "--rm", "--runtime", rt, "-v", vol, "busybox", "/probe/sysprobe")
			got := answers(out)
			for call, want := range runtimetest.DockerDenied {
				if got[call] != want {
					t.Errorf("%s: %q, docker answers %q", call, got[call], want)
				}
			}
			// The finding: --cap-drop ALL --user 1000 no-new-privileges
			// still let a container unshare -Urn.
			out, _, code := d.dctl("run", "--rm", "--runtime", rt, "--cap-drop", "ALL", "--user", "1000",
				"--security-opt", "no-new-privileges", "busybox", "sh", "-c", "grep Seccomp: /proc/self/status; unshare -Urn true && echo unshared || echo denied")
			if code != 0 || !strings.Contains(out, "Seccomp:\t2") || !strings.Contains(out, "denied") {
				t.Errorf("cap-drop ALL, user 1000, no-new-privileges (exit %d):\n%s", code, out)
			}
			for _, opt := range [][]string{{"--security-opt", "seccomp=unconfined"}, {"--privileged"}} {
				if opt[0] == "--privileged" && rt == "runc" {
					continue // runc refuses every capability on this VM (no CAP_SYS_RESOURCE to give)
				}
				args := append(append([]string{"run", "--rm", "--runtime", rt}, opt...), "-v", vol, "busybox", "/probe/sysprobe", "keyctl", "unshare-user")
				got := answers(d.mustDctl(args...))
				if got["keyctl"] != "ok" || got["unshare-user"] == "EPERM" {
					t.Errorf("%v: filtered: %v", opt, got)
				}
			}
		})
	}

	prof := filepath.Join(t.TempDir(), "no-mkdir.json")
	if err := os.WriteFile(prof, []byte(`{
	"defaultAction": "SCMP_ACT_ALLOW",
	"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, _ := d.dctl("run", "--rm", "--security-opt", "seccomp="+prof, "busybox", "sh", "-c", "mkdir /tmp/x 2>&1; echo end")
	if !strings.Contains(out, "Operation not permitted") || !strings.Contains(out, "end") {
		t.Errorf("profile file not applied:\n%s", out)
	}

	d.mustDctl("run", "-d", "--name", "ex", "busybox", "sleep", "60")
	out, _, code := d.dctl("exec", "ex", "sh", "-c", "grep Seccomp: /proc/self/status; unshare -U true && echo unshared")
	if code == 0 || !strings.Contains(out, "Seccomp:\t2") || strings.Contains(out, "unshared") {
		t.Errorf("exec (exit %d) not filtered:\n%s", code, out)
	}
	d.mustDctl("rm", "-f", "ex")
}

// TestSecurityOptions: the bridge applies what docker's CLI sends and
// refuses what it cannot, as dockerd does on a host without AppArmor and
// SELinux: sysctls, systempaths=unconfined, apparmor= and label= (no
// effect), an unknown option and a bind over /proc (refused, nothing made).
func TestSecurityOptions(t *testing.T) {
	d := startDockerd(t)
	out := d.mustDocker("run", "--rm", "--sysctl", "net.ipv4.ip_forward=1", "--sysctl", "kernel.shmmax=123456",
		"busybox", "sh", "-c", "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax")
	if strings.Fields(out)[0] != "1" || strings.Fields(out)[1] != "123456" {
		t.Errorf("sysctls not applied: %q", out)
	}
	if _, stderr, code := d.docker("run", "--rm", "--sysctl", "kernel.hostname=x", "busybox", "true"); code == 0 || !strings.Contains(stderr, "kernel.hostname") {
		t.Errorf("a host sysctl: exit %d, %s", code, stderr)
	}
	masked := "grep -c -E ' /proc/(kcore|keys|timer_list|sched_debug|acpi|scsi) ' /proc/self/mounts; grep -c ' /proc/sys ' /proc/self/mounts"
	if out := d.mustDocker("run", "--rm", "busybox", "sh", "-c", masked); strings.Fields(out)[0] == "0" {
		t.Errorf("/proc's kernel files not masked by default: %q", out)
	}
	if out, _, _ := d.docker("run", "--rm", "--security-opt", "systempaths=unconfined", "busybox", "sh", "-c", masked); strings.Join(strings.Fields(out), " ") != "0 0" {
		t.Errorf("systempaths=unconfined: still masked or read-only: %q", out)
	}
	id := strings.TrimSpace(d.mustDocker("create", "--security-opt", "apparmor=docker-default", "--security-opt", "label=disable", "busybox", "true"))
	var insp []struct {
		HostConfig struct {
			SecurityOpt []string
			MaskedPaths []string
			Sysctls     map[string]string
		}
	}
	if err := json.Unmarshal([]byte(d.mustDocker("inspect", id)), &insp); err != nil || len(insp) != 1 {
		t.Fatalf("inspect: %v", err)
	}
	if h := insp[0].HostConfig; len(h.SecurityOpt) != 2 || len(h.MaskedPaths) == 0 {
		t.Errorf("inspect HostConfig: %+v", h)
	}
	d.mustDocker("rm", id)

	before := d.mustDocker("ps", "-aq")
	for _, args := range [][]string{
		{"--security-opt", "sideways=1"},
		{"-v", "/tmp:/proc"},
		{"-v", "/tmp:/proc/sys/kernel"},
		{"--mount", "type=bind,src=/tmp,dst=/sys"},
		{"--tmpfs", "/dev"},
	} {
		_, stderr, code := d.docker(append(append([]string{"create"}, args...), "busybox", "true")...)
		if code == 0 || !strings.Contains(stderr, "invalid") {
			t.Errorf("%v: exit %d, %q; want refused", args, code, stderr)
		}
	}
	if after := d.mustDocker("ps", "-aq"); after != before {
		t.Errorf("refused creates left containers: %q", after)
	}
}

// TestRefusedLogged: refused input is logged once by the daemon with the
// client and the reason: a bad line through the mount, a bad create over
// 9P (dctl), a create the bridge refuses.
func TestRefusedLogged(t *testing.T) {
	d := startDockerd(t)
	if _, _, err := d.trySh("echo 'frobnicate now' > " + d.mnt + "/containers/ctl"); err == nil {
		t.Errorf("a bad ctl line was taken")
	}
	if _, _, code := d.dctl("create", "--security-opt", "sideways=1", "busybox", "true"); code == 0 {
		t.Errorf("a bad security option was taken over 9P")
	}
	if _, _, code := d.docker("create", "--security-opt", "sideways=2", "busybox", "true"); code == 0 {
		t.Errorf("a bad security option was taken by the bridge")
	}
	log := d.out.String()
	for _, want := range []string{
		`refused ctl line from fuse pid `,
		`frobnicate`,
		`refused ctl line from 9P unix pid `,
		`"sideways=1"`,
		`refused ctl line from in-process: `,
		`"sideways=2"`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the daemon's log has no %q:\n%s", want, log)
		}
	}
	if n := strings.Count(log, "sideways=1"); n != 1 {
		t.Errorf("the refusal over 9P was logged %d times, want once:\n%s", n, log)
	}
}
