//go:build linux

package tests

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/enginefs/enginefs/fs"
	"github.com/enginefs/enginefs/fs/ninep"
)

// TestArchiveFiles: images/save and images/load carry an archive through
// the tree, for a client that shares no file system with the daemon: over
// 9P on loopback TCP with the Go client (a save, an rmi, a load back, and
// a broken archive refused with EINVAL), and through the FUSE mount with a
// shell alone.
func TestArchiveFiles(t *testing.T) {
	d := startDaemon(t, "--insecure-tcp", "--9p", fmt.Sprintf("tcp:127.0.0.1:%d", freeLoopbackPort(t)))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := ninep.Dial(ctx, d.tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	h, err := c.Open(ctx, "images/save", os.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.WriteAt(ctx, []byte("save busybox\n"), 0); err != nil {
		t.Fatalf("save busybox: %v", err)
	}
	archive, err := fs.ReadHandle(ctx, h)
	h.Close()
	if err != nil {
		t.Fatal(err)
	}
	tarFile := filepath.Join(t.TempDir(), "bb.tar")
	if err := os.WriteFile(tarFile, archive, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("tar", "-tf", tarFile).CombinedOutput(); err != nil || !strings.Contains(string(out), "manifest.json") || !strings.Contains(string(out), "index.json") {
		t.Fatalf("the saved archive (%d bytes) lists: %v\n%s", len(archive), err, out)
	}

	h, err = c.Open(ctx, "images/save", os.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.WriteAt(ctx, []byte("save nosuchimage\n"), 0); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("save of an unknown image: %v, want ENOENT", err)
	}
	h.Close()
	if msg := d.sh("cat images/err"); !strings.Contains(msg, "nosuchimage") {
		t.Errorf("images/err after a failed save: %q", msg)
	}

	d.mustDctl("rmi", "busybox")
	h, err = c.Open(ctx, "images/load", os.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(archive); off += 100000 { // many writes, as a stream
		end := min(off+100000, len(archive))
		if _, err := h.WriteAt(ctx, archive[off:end], int64(off)); err != nil {
			t.Fatal(err)
		}
	}
	reply, err := fs.ReadHandle(ctx, h)
	h.Close()
	if err != nil || !strings.Contains(string(reply), "Loaded image: busybox:latest") {
		t.Fatalf("load over 9P: %q, %v", reply, err)
	}
	d.mustDctl("run", "--rm", "busybox", "true")

	h, err = c.Open(ctx, "images/load", os.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.WriteAt(ctx, []byte("this is no archive"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.ReadHandle(ctx, h); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("load of a broken archive: %v, want EINVAL", err)
	}
	h.Close()

	// The shell: save by a read-write redirection, load by a plain one.
	shTar := filepath.Join(t.TempDir(), "sh.tar")
	d.sh(fmt.Sprintf("exec 3<>images/save && echo save busybox >&3 && cat <&3 > %s", shTar))
	if got, err := os.ReadFile(shTar); err != nil || len(got) != len(archive) {
		t.Errorf("the shell's save: %d bytes, %v; want %d", len(got), err, len(archive))
	}
	d.mustDctl("rmi", "busybox")
	d.sh(fmt.Sprintf("cat %s > images/load", shTar))
	deadline := time.Now().Add(10 * time.Second) // the load runs at the close, after cat returns
	for !strings.Contains(d.mustDctl("images"), "busybox") {
		if time.Now().After(deadline) {
			t.Fatalf("busybox not loaded by the shell; images/err: %q", d.sh("cat images/err"))
		}
		time.Sleep(50 * time.Millisecond)
	}

	// An upload dropped by a truncate to 0 is not loaded at the close.
	d.mustDctl("rmi", "busybox")
	before := d.sh("cat images/err")
	h, err = c.Open(ctx, "images/load", os.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.WriteAt(ctx, archive[:len(archive)/2], 0); err != nil {
		t.Fatal(err)
	}
	if err := h.(fs.Truncater).Truncate(ctx, 0); err != nil {
		t.Fatalf("truncate of images/load: %v", err)
	}
	h.Close()
	time.Sleep(300 * time.Millisecond)
	if imgs := d.mustDctl("images"); strings.Contains(imgs, "busybox") {
		t.Errorf("a dropped upload was loaded:\n%s", imgs)
	}
	if after := d.sh("cat images/err"); after != before {
		t.Errorf("a dropped upload was loaded at the close: images/err %q", after)
	}
	d.mustDctl("load", "-i", shTar)

	// dctl over 9P on TCP, as from another host: save to a file and to
	// stdout, load from a file and from stdin, and the daemon's messages.
	dTar := filepath.Join(t.TempDir(), "dctl.tar")
	if _, errOut, code := d.dctlAt(d.tcp, "save", "-o", dTar, "busybox"); code != 0 {
		t.Fatalf("dctl -H tcp save -o: exit %d: %s", code, errOut)
	}
	if st, err := os.Stat(dTar); err != nil || st.Size() != int64(len(archive)) {
		t.Errorf("dctl save -o wrote %v, %v; want %d bytes", st, err, len(archive))
	}
	if out, _, code := d.dctlAt(d.tcp, "save", "busybox"); code != 0 || len(out) != len(archive) {
		t.Errorf("dctl save to stdout: exit %d, %d bytes; want %d", code, len(out), len(archive))
	}
	if _, errOut, code := d.dctlAt(d.tcp, "save", "-o", dTar+".no", "nosuchimage"); code == 0 || !strings.Contains(errOut, "nosuchimage") || exists(dTar+".no") {
		t.Errorf("dctl save of an unknown image: exit %d, %q (a file left: %v)", code, errOut, exists(dTar+".no"))
	}
	d.mustDctl("rmi", "busybox")
	if out, errOut, code := d.dctlAt(d.tcp, "load", "-i", dTar); code != 0 || !strings.Contains(out, "Loaded image: busybox:latest") {
		t.Errorf("dctl -H tcp load -i: exit %d, %q %q", code, out, errOut)
	}
	bad := filepath.Join(t.TempDir(), "bad.tar")
	os.WriteFile(bad, []byte("this is no archive"), 0o644)
	if _, errOut, code := d.dctlAt(d.tcp, "load", "-i", bad); code == 0 || !strings.Contains(errOut, "archive") {
		t.Errorf("dctl load of a broken archive: exit %d, %q", code, errOut)
	}
}
