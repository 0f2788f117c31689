//go:build linux

package tests

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/enginefs/enginefs/fs"
	"github.com/enginefs/enginefs/fs/ninep"
	"github.com/enginefs/enginefs/voldrv/voldrvtest"
)

// mountsOf reads the Mounts of a container from inspect.
func (d *daemon) mountsOf(ref string) []struct {
	Type, Name, Source, Destination, Driver string
	RW                                      bool
} {
	d.t.Helper()
	var docs []struct {
		Mounts []struct {
			Type, Name, Source, Destination, Driver string
			RW                                      bool
		}
	}
	if err := json.Unmarshal([]byte(d.mustDctl("inspect", ref)), &docs); err != nil || len(docs) != 1 {
		d.t.Fatalf("inspect %s: %v", ref, err)
	}
	return docs[0].Mounts
}

// TestVolumeData: a volume's files are the tree's: written by a container,
// copied in and out with cp over FUSE, and with the Go 9P client over the
// socket (and read with Debian's diodcat); they survive the container's rm
// and a daemon killed with -9; a volume in use cannot be removed (EBUSY).
func TestVolumeData(t *testing.T) {
	d := startDaemon(t)
	d.mustDctl("volume", "create", "store")
	d.mustDctl("run", "--rm", "-v", "store:/data", "busybox", "sh", "-c", "mkdir /data/made && echo from-container > /data/made/by-container")
	data := filepath.Join(d.mnt, "volumes/store/data")
	if got := d.sh("cat volumes/store/data/made/by-container"); got != "from-container\n" {
		t.Errorf("through FUSE the container's file holds %q", got)
	}

	// cp -a a tree in over FUSE, read it in a container, cp -a it back out.
	src := t.TempDir()
	mustWrite(t, filepath.Join(src, "tree/a.txt"), "alpha\n")
	mustWrite(t, filepath.Join(src, "tree/sub/b.txt"), "beta\n")
	if err := os.Symlink("sub/b.txt", filepath.Join(src, "tree/link")); err != nil {
		t.Fatal(err)
	}
	d.sh("cp -a " + filepath.Join(src, "tree") + " volumes/store/data/ && chmod 600 volumes/store/data/tree/a.txt")
	out := d.mustDctl("run", "--rm", "-v", "store:/data", "busybox", "sh", "-c", "cat /data/tree/a.txt /data/tree/link; stat -c %a /data/tree/a.txt; readlink /data/tree/link")
	if out != "alpha\nbeta\n600\nsub/b.txt\n" {
		t.Errorf("the container sees the copied tree as %q", out)
	}
	back := t.TempDir()
	d.sh("cp -a volumes/store/data/tree volumes/store/data/made " + back + "/")
	if b, err := os.ReadFile(filepath.Join(back, "made/by-container")); err != nil || string(b) != "from-container\n" {
		t.Errorf("copied out: %q, %v", b, err)
	}
	if l, err := os.Readlink(filepath.Join(back, "tree/link")); err != nil || l != "sub/b.txt" {
		t.Errorf("the link copied out: %q, %v", l, err)
	}
	d.sh("mv volumes/store/data/tree/sub volumes/store/data/moved && rm volumes/store/data/tree/link && ls volumes/store/data/moved/b.txt")

	// The same over 9P with the Go client: a file in, a file out.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := ninep.Dial(ctx, d.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w := c.(fs.WriteClient)
	if err := copyIn(ctx, w, src, "volumes/store/data/over9p"); err != nil {
		t.Fatalf("copying in over 9P: %v", err)
	}
	if got := d.mustDctl("run", "--rm", "-v", "store:/data", "busybox", "cat", "/data/over9p/tree/sub/b.txt"); got != "beta\n" {
		t.Errorf("a file copied in over 9P reads %q in a container", got)
	}
	out9 := t.TempDir()
	if err := copyOut(ctx, w, "volumes/store/data/made", out9); err != nil {
		t.Fatalf("copying out over 9P: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(out9, "by-container")); err != nil || string(b) != "from-container\n" {
		t.Errorf("copied out over 9P: %q, %v", b, err)
	}
	if diodcat, err := exec.LookPath("diodcat"); err == nil {
		out, err := exec.Command(diodcat, "-s", strings.TrimPrefix(d.sock, "unix:"), "-a", "/", "volumes/store/data/over9p/tree/a.txt").CombinedOutput()
		if err != nil || string(out) != "alpha\n" {
			t.Errorf("diodcat of a volume file: %q, %v", out, err)
		}
	}

	// In use: refused with EBUSY and a message naming the container.
	d.mustDctl("run", "-d", "--name", "user", "-v", "store:/data", "busybox", "sleep", "300")
	_, errOut, err := d.trySh("echo rm > volumes/store/ctl")
	if err == nil || !strings.Contains(errOut, "Device or resource busy") {
		t.Errorf("rm of a volume in use through FUSE: %v %q; want EBUSY", err, errOut)
	}
	if msg := d.sh("cat volumes/store/err"); !strings.Contains(msg, "in use") || !strings.Contains(msg, "user") {
		t.Errorf("volumes/store/err = %q", msg)
	}
	if _, errOut, code := d.dctl("volume", "rm", "store"); code == 0 || !strings.Contains(errOut, "in use by container(s) user") {
		t.Errorf("dctl volume rm of a volume in use: exit %d, %q", code, errOut)
	}
	d.mustDctl("rm", "-f", "user")

	// The data outlives the containers and a crash of the daemon.
	d.kill9()
	d.start()
	if got := d.sh("cat volumes/store/data/made/by-container volumes/store/data/moved/b.txt"); got != "from-container\nbeta\n" {
		t.Errorf("after the crash the volume holds %q", got)
	}
	d.mustDctl("volume", "rm", "store")
	if _, err := os.Stat(data); err == nil {
		t.Error("the volume's data is still served after rm")
	}
	if strings.Contains(d.mustDctl("volume", "ls"), "store") {
		t.Error("store is still listed")
	}
}

func mustWrite(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyIn copies the local directory src to dst through a 9P client, as a
// remote user would: directories, files and symbolic links.
func copyIn(ctx context.Context, w fs.WriteClient, src, dst string) error {
	return filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := path.Join(dst, filepath.ToSlash(rel))
		switch {
		case fi.IsDir():
			return w.Mkdir(ctx, to, fi.Mode().Perm())
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return w.Symlink(ctx, target, to)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		h, err := w.Create(ctx, to, os.O_WRONLY|os.O_TRUNC, fi.Mode().Perm())
		if err != nil {
			return err
		}
		defer h.Close()
		_, err = h.WriteAt(ctx, b, 0)
		return err
	})
}

// copyOut copies the directory src of the tree into the local dst.
func copyOut(ctx context.Context, w fs.WriteClient, src, dst string) error {
	ents, err := w.ReadDir(ctx, src)
	if err != nil {
		return err
	}
	for _, e := range ents {
		from, to := path.Join(src, e.Name), filepath.Join(dst, e.Name)
		switch {
		case e.Mode.IsDir():
			if err := os.Mkdir(to, 0o755); err != nil {
				return err
			}
			if err := copyOut(ctx, w, from, to); err != nil {
				return err
			}
		case e.Mode&os.ModeSymlink != 0:
			target, err := w.Readlink(ctx, from)
			if err == nil {
				err = os.Symlink(target, to)
			}
			if err != nil {
				return err
			}
		default:
			b, err := fs.ReadAll(ctx, w, from)
			if err == nil {
				err = os.WriteFile(to, b, 0o644)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// TestVolumeMounts: -v with a named volume made on first use and filled
// from the image, bind mounts (-v and --mount, read-only), tmpfs (--tmpfs
// and --mount), anonymous volumes from -v and from the image's VOLUME
// (removed by run --rm), and --volumes-from.
func TestVolumeMounts(t *testing.T) {
	d := startDaemon(t)
	// A named volume on /etc is filled with the image's /etc; the
	// container's own /etc/hostname still goes on top.
	out := d.mustDctl("run", "--rm", "-h", "volbox", "-v", "etcvol:/etc", "busybox", "sh", "-c", "cat /etc/hostname; head -1 /etc/passwd; touch /etc/new")
	if out != "volbox\nroot:x:0:0:root:/root:/bin/sh\n" {
		t.Errorf("with etcvol on /etc: %q", out)
	}
	if ls := d.sh("ls volumes/etcvol/data"); !strings.Contains(ls, "passwd") || !strings.Contains(ls, "enginefs-fixture") || !strings.Contains(ls, "new") {
		t.Errorf("etcvol holds:\n%s", ls)
	}
	// Not filled again once it has something.
	d.sh("rm volumes/etcvol/data/passwd")
	d.mustDctl("run", "--rm", "-v", "etcvol:/etc", "busybox", "true")
	if _, err := os.Stat(filepath.Join(d.mnt, "volumes/etcvol/data/passwd")); err == nil {
		t.Error("a volume that had data was filled from the image again")
	}

	host := t.TempDir()
	mustWrite(t, filepath.Join(host, "in.txt"), "from the host\n")
	out = d.mustDctl("run", "--rm", "-v", host+":/h:ro", "--mount", "type=bind,src="+host+",dst=/h2",
		"--tmpfs", "/scratch:size=1m", "--mount", "type=tmpfs,dst=/t2,tmpfs-size=2m",
		"busybox", "sh", "-c", "cat /h/in.txt; touch /h/x 2>/dev/null && echo rw-h; echo w > /h2/out.txt; grep -E ' /(scratch|t2) ' /proc/mounts | cut -d' ' -f2,3,4")
	want := "from the host\n/scratch tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k\n/t2 tmpfs rw,nosuid,nodev,noexec,relatime,size=2048k\n"
	if out != want {
		t.Errorf("binds and tmpfs:\n%s\nwant\n%s", out, want)
	}
	if b, err := os.ReadFile(filepath.Join(host, "out.txt")); err != nil || string(b) != "w\n" {
		t.Errorf("the write through --mount type=bind: %q, %v", b, err)
	}

	// Anonymous volumes: -v /anon and an image's VOLUME; run --rm removes them.
	loadVolumeImage(t, d)
	d.mustDctl("create", "--name", "anon", "-v", "/anon", "withvol", "sh", "-c", "ls /cache; echo kept > /anon/f")
	ms := d.mountsOf("anon")
	if len(ms) != 2 || ms[0].Destination != "/anon" || len(ms[0].Name) != 64 || ms[1].Destination != "/cache" || len(ms[1].Name) != 64 {
		t.Fatalf("anon's mounts: %+v", ms)
	}
	d.mustDctl("start", "anon")
	d.mustDctl("wait", "anon")
	if got := d.mustDctl("logs", "anon"); got != "seed\n" {
		t.Errorf("the image's VOLUME was not filled from the image: %q", got)
	}
	// --volumes-from sees the same volumes, read-only here.
	out = d.mustDctl("run", "--rm", "--volumes-from", "anon:ro", "busybox", "sh", "-c", "cat /anon/f; touch /anon/g 2>/dev/null || echo ro")
	if out != "kept\nro\n" {
		t.Errorf("--volumes-from anon:ro: %q", out)
	}
	d.mustDctl("rm", "anon")
	if ls := d.mustDctl("volume", "ls", "-q"); !strings.Contains(ls, ms[0].Name) {
		t.Errorf("rm without --rm removed the anonymous volume: %s", ls)
	}
	before := d.mustDctl("volume", "ls", "-q")
	d.mustDctl("run", "--rm", "-v", "/anon2", "withvol", "true")
	if after := d.mustDctl("volume", "ls", "-q"); after != before {
		t.Errorf("run --rm left volumes:\nbefore\n%s\nafter\n%s", before, after)
	}
	if got := d.mustDctl("volume", "prune"); !strings.Contains(got, ms[0].Name) {
		t.Errorf("prune did not remove the unused anonymous volume:\n%s", got)
	}
	if ls := d.mustDctl("volume", "ls", "-q"); ls != "etcvol\n" {
		t.Errorf("after prune: %q, want etcvol alone", ls)
	}

	for _, bad := range [][]string{
		{"run", "--rm", "-v", "a:b:c:d", "busybox", "true"},
		{"run", "--rm", "-v", "vol:relative", "busybox", "true"},
		{"run", "--rm", "-v", "x:/data", "busybox", "true"},
		{"run", "--rm", "-v", "vol:/data:bogus", "busybox", "true"},
		{"run", "--rm", "--mount", "type=bind,src=/nonexistent/x,dst=/x", "busybox", "true"},
		{"run", "--rm", "--mount", "type=weird,dst=/x", "busybox", "true"},
		{"run", "--rm", "-v", "v1:/same", "-v", "v2:/same", "busybox", "true"},
		{"run", "--rm", "--volumes-from", "nosuch", "busybox", "true"},
		{"volume", "create", "-o", "nosuch=1", "badvol"},
	} {
		if _, errOut, code := d.dctl(bad...); code == 0 || errOut == "" {
			t.Errorf("dctl %v: exit %d, stderr %q; want a refusal", bad, code, errOut)
		}
	}
	if ls := d.mustDctl("volume", "ls", "-q"); ls != "etcvol\n" {
		t.Errorf("refused runs left volumes: %q", ls)
	}
}

// loadVolumeImage loads "withvol": the busybox image with VOLUME /cache
// holding a file, made from the fixture with go-containerregistry.
func loadVolumeImage(t *testing.T, d *daemon) {
	t.Helper()
	tag, _ := name.NewTag("busybox:latest")
	img, err := tarball.ImageFromPath(bins.busybox, &tag)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg := cf.Config
	cfg.Volumes = map[string]struct{}{"/cache": {}}
	layerDir := t.TempDir()
	mustWrite(t, filepath.Join(layerDir, "cache/seed"), "")
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return tarDir(layerDir) })
	if err != nil {
		t.Fatal(err)
	}
	if img, err = mutate.AppendLayers(img, layer); err == nil {
		img, err = mutate.Config(img, cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "withvol.tar")
	wtag, _ := name.NewTag("withvol:latest")
	if err := tarball.WriteToFile(out, wtag, img); err != nil {
		t.Fatal(err)
	}
	d.mustDctl("load", "-i", out)
}

// tarDir makes an uncompressed tar of dir with GNU tar.
func tarDir(dir string) (io.ReadCloser, error) {
	out, err := exec.Command("tar", "-C", dir, "-cf", "-", ".").Output()
	if err != nil {
		return nil, err
	}
	return io.NopCloser(strings.NewReader(string(out))), nil
}

// TestVolumePlugin: a volume plugin written in the test, speaking Docker's
// protocol on a socket in the daemon's plugin directory, serves a volume:
// the daemon creates, mounts, unmounts and removes it through the plugin.
func TestVolumePlugin(t *testing.T) {
	plugins := t.TempDir()
	p := voldrvtest.ServePlugin(t, plugins, "testplug")
	d := startDaemon(t, "--plugin-dir", plugins)
	d.mustDctl("volume", "create", "-d", "testplug", "pv")
	d.mustDctl("run", "--rm", "-v", "pv:/data", "busybox", "sh", "-c", "echo through the plugin > /data/f")
	if b, err := os.ReadFile(filepath.Join(p.Root, "pv", "f")); err != nil || string(b) != "through the plugin\n" {
		t.Errorf("the plugin's directory holds %q, %v", b, err)
	}
	if p.Calls("/VolumeDriver.Mount") != 1 || p.Calls("/VolumeDriver.Unmount") != 1 || p.Mounted("pv") {
		t.Errorf("mount %d, unmount %d calls; still mounted: %v", p.Calls("/VolumeDriver.Mount"), p.Calls("/VolumeDriver.Unmount"), p.Mounted("pv"))
	}
	var docs []struct{ Driver, Mountpoint string }
	if err := json.Unmarshal([]byte(d.mustDctl("volume", "inspect", "pv")), &docs); err != nil || docs[0].Driver != "testplug" {
		t.Errorf("inspect pv: %+v, %v", docs, err)
	}
	// -v with a driver makes the volume through the plugin on first use.
	d.mustDctl("run", "--rm", "--volume-driver", "testplug", "-v", "pv2:/data", "busybox", "true")
	if _, err := os.Stat(filepath.Join(p.Root, "pv2")); err != nil {
		t.Errorf("pv2 was not made by the plugin: %v", err)
	}
	d.mustDctl("volume", "rm", "pv", "pv2")
	if _, err := os.Stat(filepath.Join(p.Root, "pv")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pv's data is still in the plugin: %v", err)
	}
	if _, errOut, code := d.dctl("volume", "create", "-d", "nosuchplugin", "x1"); code == 0 || !strings.Contains(errOut, "nosuchplugin") {
		t.Errorf("a volume with a missing driver: exit %d, %q", code, errOut)
	}
}

// TestCreateRefusedMakesNothing: a create refused because its name is
// taken makes neither the volume nor the bind source it names.
func TestCreateRefusedMakesNothing(t *testing.T) {
	d := startDaemon(t)
	d.mustDctl("create", "--name", "taken", "busybox", "true")
	src := filepath.Join(t.TempDir(), "newdir")
	if _, errOut, code := d.dctl("create", "--name", "taken", "-v", src+":/x", "-v", "freshvol:/y", "busybox", "true"); code == 0 || !strings.Contains(errOut, "taken") {
		t.Fatalf("a second create named taken: exit %d, %q", code, errOut)
	}
	if ls := d.mustDctl("volume", "ls", "-q"); strings.Contains(ls, "freshvol") {
		t.Errorf("the refused create made its volume:\n%s", ls)
	}
	if exists(src) {
		t.Errorf("the refused create made its bind source %s", src)
	}
}
