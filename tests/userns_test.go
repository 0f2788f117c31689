package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/enginefs/enginefs/netdrv/netdrvtest"
)

// remapFiles writes subordinate-id files giving root 65536 ids from
// 200000 (the host's own /etc/subuid is left alone) and returns the
// daemon's flags for them.
func remapFiles(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"subuid", "subgid"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("# test ranges\nroot:200000:65536\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return []string{"--userns-remap", "root", "--subuid-file", filepath.Join(dir, "subuid"), "--subgid-file", filepath.Join(dir, "subgid")}
}

// TestUsernsRemap: with --userns-remap a container's root is not the
// host's (its processes and the files it makes are 200000 on the host),
// while it owns its image's files and its volumes inside; userns=host keeps
// a container out; a commit holds the ids the container saw; what cannot
// run in a user namespace is refused as dockerd refuses it.
func TestUsernsRemap(t *testing.T) {
	needDaemon(t)
	// The built-in runtime cannot yet: the daemon says so at start.
	base := t.TempDir()
	out, code := runDaemonOnce(t, append(remapFiles(t), "--state", filepath.Join(base, "state"), "--run", filepath.Join(base, "run"),
		"--mount", "", "--docker", "", "--bridge-name", netdrvtest.UniqueName("efsb"), "--firewall=false")...)
	if code == 0 || !strings.Contains(out, "--default-runtime runc") {
		t.Errorf("--userns-remap with the built-in default runtime: exit %d:\n%s", code, out)
	}

	// A state directory the remapped root cannot reach is refused.
	out, code = runDaemonOnce(t, append(remapFiles(t), "--default-runtime", "runc", "--state", filepath.Join(base, "state"), "--run", filepath.Join(base, "run"),
		"--mount", "", "--docker", "", "--bridge-name", netdrvtest.UniqueName("efsb"), "--firewall=false")...)
	if code == 0 || !strings.Contains(out, "cannot be searched by others") {
		t.Errorf("--userns-remap with a state dir in a 0700 directory: exit %d:\n%s", code, out)
	}

	// The test's temporary directories are 0700: open the daemon's way
	// to its state, as a user of --userns-remap would (dockerd's root
	// needs the same).
	d := newDaemon(t)
	for p := filepath.Dir(d.state); p != os.TempDir() && p != "/"; p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	d.start(append(remapFiles(t), "--default-runtime", "runc")...)
	t.Cleanup(d.teardown)
	d.sh("echo load " + bins.busybox + " > " + d.mnt + "/images/ctl")
	d.mustDctl("run", "-d", "--name", "u", "-v", "data:/data", "busybox", "sleep", "60")
	var insp []struct {
		ID    string `json:"Id"`
		State struct{ Pid int }
	}
	if err := json.Unmarshal([]byte(d.mustDctl("inspect", "u")), &insp); err != nil || len(insp) != 1 || insp[0].State.Pid == 0 {
		t.Fatalf("inspect u: %v %+v", err, insp)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", insp[0].State.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(status), "\nUid:\t200000\t200000\t200000\t200000\n") {
		t.Errorf("the container's root on the host:\n%s", status)
	}
	out = d.mustDctl("exec", "u", "sh", "-c", "cat /proc/self/uid_map; stat -c '%u:%g' /bin/busybox /etc /data; touch /made && echo x > /data/f && stat -c '%u:%g' /made /data/f")
	want := []string{"0 200000 65536", "0:0", "0:0", "0:0", "0:0", "0:0"}
	if got := strings.Fields(strings.ReplaceAll(out, "\n", " ")); strings.Join(got, " ") != strings.Join(strings.Fields(strings.Join(want, " ")), " ") {
		t.Errorf("inside the remapped container:\n%s\nwant %q", out, want)
	}
	id := insp[0].ID
	if fi, err := os.Lstat(filepath.Join(d.state, "containers", id, "upper", "made")); err != nil {
		t.Errorf("the made file in the container's upper dir: %v", err)
	} else if st := fi.Sys().(*syscall.Stat_t); st.Uid != 200000 || st.Gid != 200000 {
		t.Errorf("a file the container's root made is %d:%d on the host, want 200000:200000", st.Uid, st.Gid)
	}
	// A commit keeps what the container saw: root's file is root's.
	d.mustDctl("commit", "u", "remapped:1")
	if out := d.mustDctl("run", "--rm", "--userns", "host", "remapped:1", "stat", "-c", "%u:%g", "/made"); strings.TrimSpace(out) != "0:0" {
		t.Errorf("the committed /made is %q outside the user namespace, want 0:0", out)
	}
	if out := d.mustDctl("run", "--rm", "--userns", "host", "busybox", "cat", "/proc/self/uid_map"); strings.Join(strings.Fields(out), " ") != "0 0 4294967295" {
		t.Errorf("userns=host: uid_map %q", out)
	}
	for _, args := range [][]string{
		{"--runtime", "builtin"},
		{"--privileged"},
		{"--network", "host"},
		{"--userns", "private"},
	} {
		_, stderr, code := d.dctl(append(append([]string{"create"}, args...), "busybox", "true")...)
		if code == 0 || stderr == "" {
			t.Errorf("create %v with --userns-remap: exit %d, %q; want refused", args, code, stderr)
		}
	}
	d.mustDctl("rm", "-f", "u")
}
