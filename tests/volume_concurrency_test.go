//go:build linux

package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enginefs/enginefs/voldrv/voldrvtest"
)

// TestVolumeConcurrentFirstUse: eight containers run at once with the same
// new volume name get one volume, made once by its driver and filled from
// the image once: every run succeeds and sees the image's files.
func TestVolumeConcurrentFirstUse(t *testing.T) {
	plugins := t.TempDir()
	p := voldrvtest.ServePlugin(t, plugins, "testplug")
	d := startDaemon(t, "--plugin-dir", plugins)
	for _, args := range [][]string{
		{"-v", "together:/etc"},
		{"--volume-driver", "testplug", "-v", "ptogether:/etc"},
	} {
		var wg sync.WaitGroup
		errs := make([]string, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				run := append(append([]string{"run", "--rm"}, args...), "busybox", "sh", "-c", "head -1 /etc/enginefs-fixture; ls /etc | wc -l")
				out, errOut, code := d.dctl(run...)
				if code != 0 || !strings.HasPrefix(out, "enginefs busybox fixture\n") {
					errs[i] = fmt.Sprintf("run %d: exit %d, %q, %q", i, code, out, errOut)
				}
			}()
		}
		wg.Wait()
		for _, e := range errs {
			if e != "" {
				t.Errorf("%v: %s", args, e)
			}
		}
	}
	if n := p.Calls("/VolumeDriver.Create"); n != 1 {
		t.Errorf("the plugin was asked to create %d times, want once", n)
	}
	if ls := d.mustDctl("volume", "ls", "-q"); ls != "ptogether\ntogether\n" {
		t.Errorf("volumes: %q", ls)
	}
	// Filled from the image's /etc (the runs above succeeding shows a
	// second fill did not fail on the first's files).
	if !exists(filepath.Join(d.mnt, "volumes/together/data/passwd")) {
		t.Error("the volume was not filled from the image's /etc")
	}
}

// TestVolumePluginSlowCreate: while a plugin's Create hangs, other
// containers, volumes and networks are created and removed; the slow
// create finishes once the plugin answers. A plugin's volume is found where
// its Mount says at each start, not where it was before.
func TestVolumePluginSlowCreate(t *testing.T) {
	plugins := t.TempDir()
	p := voldrvtest.ServePlugin(t, plugins, "testplug")
	d := startDaemon(t, "--plugin-dir", plugins)
	release := p.HoldCreate("slowvol")
	t.Cleanup(release)
	slow := make(chan string, 1)
	go func() {
		_, errOut, code := d.dctl("create", "--name", "slow", "--volume-driver", "testplug", "-v", "slowvol:/data", "busybox", "true")
		slow <- fmt.Sprintf("exit %d %s", code, errOut)
	}()
	for deadline := time.Now().Add(20 * time.Second); p.Calls("/VolumeDriver.Create") == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the plugin's Create was never called")
		}
	}
	others := make(chan error, 1)
	go func() {
		for _, args := range [][]string{
			{"create", "--name", "other", "-v", "othervol:/data", "busybox", "true"},
			{"volume", "create", "quick"},
			{"volume", "rm", "quick"},
			{"volume", "ls"},
			{"network", "create", "slownet"},
			{"network", "rm", "slownet"},
			{"run", "--rm", "-v", "othervol:/data", "busybox", "true"},
		} {
			if _, errOut, code := d.dctl(args...); code != 0 {
				others <- fmt.Errorf("dctl %v: exit %d, %s", args, code, errOut)
				return
			}
		}
		others <- nil
	}()
	select {
	case err := <-others:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(30 * time.Second):
		t.Error("creates and removals wait for the plugin's slow Create")
	}
	select {
	case res := <-slow:
		t.Fatalf("the slow create finished before the plugin answered: %s", res)
	default:
	}
	release()
	select {
	case res := <-slow:
		if res != "exit 0 " {
			t.Errorf("the slow create: %s", res)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the slow create did not finish once the plugin answered")
	}

	// The plugin moves the volume: the next start uses the new place.
	d.mustDctl("run", "--rm", "--volume-driver", "testplug", "-v", "moving:/data", "busybox", "sh", "-c", "echo first > /data/f")
	moved := t.TempDir()
	mustWrite(t, filepath.Join(moved, "f"), "moved\n")
	p.SetMountpoint("moving", moved)
	if got := d.mustDctl("run", "--rm", "-v", "moving:/data", "busybox", "cat", "/data/f"); got != "moved\n" {
		t.Errorf("after the plugin moved the volume a container reads %q", got)
	}
	if b, err := os.ReadFile(filepath.Join(d.mnt, "volumes/moving/data/f")); err != nil || string(b) != "moved\n" {
		t.Errorf("volumes/moving/data/f after the move: %q, %v", b, err)
	}
	d.mustDctl("rm", "slow", "other")
}

// TestVolumeTmpfs: a local volume with type=tmpfs device=tmpfs o=size=
// is a tmpfs of that size at the mount while containers use it, shared by
// the containers that use it at the same time and served live in
// volumes/<name>/data/; when none does, it is not mounted, its data is
// gone, and volumes/<name>/data/ says the data exists only while mounted.
func TestVolumeTmpfs(t *testing.T) {
	d := startDaemon(t)
	d.mustDctl("volume", "create", "--driver", "local", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "--opt", "o=size=64m", "tv")
	d.mustDctl("run", "-d", "--name", "holder", "-v", "tv:/data", "busybox", "sh", "-c", "echo from-holder > /data/f; sleep 300")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(d.mnt, "volumes/tv/data/f")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("volumes/tv/data/f never appeared: %s", d.sh("ls -la volumes/tv/data/ 2>&1 || true"))
		}
	}
	out := d.mustDctl("exec", "holder", "sh", "-c", "grep ' /data ' /proc/mounts | cut -d' ' -f1,3,4; df -k /data | tail -1 | tr -s ' ' | cut -d' ' -f2")
	if !strings.HasPrefix(out, "tmpfs tmpfs rw,") || !strings.Contains(out, "size=65536k") || !strings.HasSuffix(out, "\n65536\n") {
		t.Errorf("the volume's mount in the container:\n%s", out)
	}
	// A second container at the same time, and the tree, see the same files.
	if got := d.mustDctl("run", "--rm", "-v", "tv:/data", "busybox", "sh", "-c", "cat /data/f; echo from-second > /data/g"); got != "from-holder\n" {
		t.Errorf("a second container reads %q", got)
	}
	if got := d.sh("cat volumes/tv/data/f volumes/tv/data/g && echo from-tree > volumes/tv/data/h"); got != "from-holder\nfrom-second\n" {
		t.Errorf("volumes/tv/data reads %q", got)
	}
	if got := d.mustDctl("exec", "holder", "cat", "/data/h"); got != "from-tree\n" {
		t.Errorf("the holder reads %q from the file written in the tree", got)
	}
	var docs []struct{ Mountpoint string }
	if err := json.Unmarshal([]byte(d.mustDctl("volume", "inspect", "tv")), &docs); err != nil || len(docs) != 1 || docs[0].Mountpoint == "" {
		t.Fatalf("volume inspect tv: %+v, %v", docs, err)
	}
	if !isMounted(docs[0].Mountpoint) {
		t.Errorf("%s is not a mount point while a container uses it", docs[0].Mountpoint)
	}

	// No container uses it: unmounted, the data gone with the tmpfs, the
	// tree's data/ unavailable rather than an empty directory that a write
	// would fill under the next mount.
	d.mustDctl("rm", "-f", "holder")
	if isMounted(docs[0].Mountpoint) {
		t.Errorf("%s is still mounted with no container", docs[0].Mountpoint)
	}
	if _, errOut, err := d.trySh("ls volumes/tv/data/"); err == nil || !strings.Contains(errOut, "Resource temporarily unavailable") {
		t.Errorf("volumes/tv/data/ with no container: %v %q; want EAGAIN (the data exists only while mounted)", err, errOut)
	}
	if _, _, err := d.trySh("echo x > volumes/tv/data/lost"); err == nil {
		t.Error("a write into volumes/tv/data/ with no container succeeded")
	}
	if got := d.mustDctl("run", "--rm", "-v", "tv:/data", "busybox", "ls", "/data"); got != "" {
		t.Errorf("a new tmpfs holds %q", got)
	}
	d.mustDctl("volume", "rm", "tv")
}
