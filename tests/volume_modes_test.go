//go:build linux

package tests

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/enginefs/enginefs/fs"
	"github.com/enginefs/enginefs/fs/ninep"
)

// layerEntry is a file of a test layer: a directory (Dir), or a regular
// file, with its exact mode (special bits as tar has them) and owner.
type layerEntry struct {
	Name     string
	Dir      bool
	Mode     int64
	UID, GID int
}

// loadLayeredImage loads tag: the busybox fixture with one more layer
// holding entries, built with go-containerregistry.
func loadLayeredImage(t *testing.T, d *daemon, tag string, entries []layerEntry) {
	t.Helper()
	base, _ := name.NewTag("busybox:latest")
	img, err := tarball.ImageFromPath(bins.busybox, &base)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Mode: e.Mode, Uid: e.UID, Gid: e.GID, Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)}
		if e.Dir {
			h.Typeflag, h.Name = tar.TypeDir, e.Name+"/"
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err == nil {
		img, err = mutate.AppendLayers(img, layer)
	}
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "img.tar")
	ref, _ := name.NewTag(tag)
	if err := tarball.WriteToFile(out, ref, img); err != nil {
		t.Fatal(err)
	}
	d.mustDctl("load", "-i", out)
}

// startDaemonUmask starts a daemon whose umask is 077, stricter than any
// client's: it must show in nothing the daemon makes for others.
func startDaemonUmask(t *testing.T, extra ...string) *daemon {
	t.Helper()
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	return startDaemon(t, extra...)
}

// TestVolumeModes: a new volume filled from the image keeps the image's
// modes exactly (setuid, setgid, sticky, 0777) and owners, whatever the
// daemon's umask; files and directories made in volumes/<name>/data/ over
// FUSE and over 9P get the mode the client asks for, less the client's
// own umask only.
func TestVolumeModes(t *testing.T) {
	d := startDaemonUmask(t)
	loadLayeredImage(t, d, "modes:latest", []layerEntry{
		{Name: "m", Dir: true, Mode: 0o755},
		{Name: "m/tmp", Dir: true, Mode: 0o1777},
		{Name: "m/shared", Dir: true, Mode: 0o2775, UID: 1000, GID: 1000},
		{Name: "m/shared/f", Mode: 0o640, UID: 1000, GID: 1000},
		{Name: "m/open", Dir: true, Mode: 0o777, UID: 1000, GID: 100},
		{Name: "m/open/all", Mode: 0o666, UID: 1000, GID: 100},
		{Name: "m/suid", Mode: 0o4755},
		{Name: "m/sgid", Mode: 0o2755, GID: 1000},
		{Name: "m/both", Mode: 0o6711, UID: 1000, GID: 1000},
	})
	want := "755 0 0 .\n666 1000 100 open/all\n777 1000 100 open\n6711 1000 1000 both\n640 1000 1000 shared/f\n2775 1000 1000 shared\n2755 0 1000 sgid\n4755 0 0 suid\n1777 0 0 tmp\n"
	stat := "stat -c '%a %u %g %n' . open/all open both shared/f shared sgid suid tmp"
	// In the container, and in the volume seen through the tree.
	if got := d.mustDctl("run", "--rm", "-v", "modes:/m", "-w", "/m", "modes", "sh", "-c", stat); got != want {
		t.Errorf("the volume filled from the image, in the container:\n%s\nwant\n%s", got, want)
	}
	if got := d.sh("cd volumes/modes/data && " + stat); got != want {
		t.Errorf("the volume filled from the image, in volumes/modes/data:\n%s\nwant\n%s", got, want)
	}

	// FUSE: the client's umask (bash's, set here) applies, the daemon's
	// (077) does not; install and mkdir -m set special bits.
	d.mustDctl("volume", "create", "made")
	if got := d.sh("stat -c %a volumes/made/data"); got != "755\n" {
		t.Errorf("a new volume's directory has mode %q, want 755 (docker's)", got)
	}
	d.sh(`cd volumes/made/data && umask 022 && mkdir plain && echo x > plain/f && mkdir -m 1777 sticky && mkdir -m 2775 sgid &&
		install -m 4755 /dev/null suid && umask 0 && mkdir open && echo x > open/f && touch sgid/inherit && mkdir sgid/sub`)
	stat = "stat -c '%a %u %g %n' plain plain/f sticky sgid suid open open/f sgid/sub"
	want = "755 0 0 plain\n644 0 0 plain/f\n1777 0 0 sticky\n2775 0 0 sgid\n4755 0 0 suid\n777 0 0 open\n666 0 0 open/f\n2777 0 0 sgid/sub\n"
	if got := d.sh("cd volumes/made/data && " + stat); got != want {
		t.Errorf("made over FUSE:\n%s\nwant\n%s", got, want)
	}
	if got := d.mustDctl("run", "--rm", "-v", "made:/m", "-w", "/m", "busybox", "sh", "-c", stat); got != want {
		t.Errorf("made over FUSE, in a container:\n%s\nwant\n%s", got, want)
	}

	// 9P with the Go client, which applies no umask. The sticky bit
	// travels; setuid and setgid do not: hugelgupf/p9 v0.3.0 masks the
	// modes of Tlcreate, Tmkdir and Tsetattr to 01777 on the wire (chmod
	// them over FUSE). Stat over 9P shows them all.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := ninep.Dial(ctx, d.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w := c.(fs.WriteClient)
	dir := "volumes/made/data/"
	for _, m := range []struct {
		name string
		mode os.FileMode
	}{{"p9sticky", 0o777 | os.ModeSticky}, {"p9open", 0o777}} {
		if err := w.Mkdir(ctx, dir+m.name, m.mode); err != nil {
			t.Fatalf("9P mkdir %s: %v", m.name, err)
		}
	}
	h, err := w.Create(ctx, dir+"p9all", os.O_WRONLY|os.O_EXCL, 0o666)
	if err != nil {
		t.Fatalf("9P create: %v", err)
	}
	h.Close()
	if err := w.SetAttr(ctx, dir+"p9open", fs.SetAttr{Mode: ptr(0o770 | os.ModeSticky)}); err != nil {
		t.Fatalf("9P chmod: %v", err)
	}
	stat = "stat -c '%a %n' p9sticky p9open p9all"
	want = "1777 p9sticky\n1770 p9open\n666 p9all\n"
	if got := d.sh("cd volumes/made/data && " + stat); got != want {
		t.Errorf("made over 9P:\n%s\nwant\n%s", got, want)
	}
	for name, mode := range map[string]os.FileMode{"p9sticky": os.ModeDir | os.ModeSticky | 0o777, "suid": os.ModeSetuid | 0o755, "sgid": os.ModeDir | os.ModeSetgid | 0o775} {
		if a, err := w.Stat(ctx, dir+name); err != nil || a.Mode != mode {
			t.Errorf("9P stat of %s: %v, %v; want %v", name, a.Mode, err, mode)
		}
	}
}

func ptr[T any](v T) *T { return &v }
