//go:build linux

package tests

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/enginefs/enginefs/fs"
	"github.com/enginefs/enginefs/fs/ninep"
)

// longCreate is a create line of about 300 KiB, over two FUSE writes and
// two of the 9P client's Twrites, whose security options come after the
// cuts.
func longCreate(name string) string {
	return "create name=" + name + " image=busybox env=BIG=" + strings.Repeat("x", 300<<10) +
		" read-only=true cap-drop=ALL user=1000 -- true\n"
}

// checkHardened reads the container's inspect and checks that every word
// of longCreate took effect.
func checkHardened(t *testing.T, inspect []byte) {
	t.Helper()
	var c struct {
		Config struct {
			User string
			Env  []string
		}
		HostConfig struct {
			ReadonlyRootfs bool
			CapDrop        []string
		}
	}
	if err := json.Unmarshal(inspect, &c); err != nil {
		t.Fatalf("inspect: %v", err)
	}
	if !c.HostConfig.ReadonlyRootfs || strings.Join(c.HostConfig.CapDrop, ",") != "ALL" || c.Config.User != "1000" {
		t.Errorf("the container has read-only=%v cap-drop=%q user=%q, want true, ALL, 1000",
			c.HostConfig.ReadonlyRootfs, c.HostConfig.CapDrop, c.Config.User)
	}
	var big string
	for _, e := range c.Config.Env {
		if v, ok := strings.CutPrefix(e, "BIG="); ok {
			big = v
		}
	}
	if len(big) != 300<<10 {
		t.Errorf("the container's BIG has %d bytes, want %d", len(big), 300<<10)
	}
}

// countContainers lists the containers' directories.
func countContainers(t *testing.T, d *daemon) int {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(d.mnt, "containers"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if e.IsDir() {
			n++
		}
	}
	return n
}

// shIn runs script in d's mount, failing the subtest t (d.sh fails the
// test that started the daemon).
func shIn(t *testing.T, d *daemon, script string) string {
	t.Helper()
	out, stderr, err := d.trySh(script)
	if err != nil {
		t.Fatalf("sh -c %q: %v\n%s", script, err, short(stderr))
	}
	return out
}

// short cuts a message that may quote a whole long line.
func short(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

// TestCtlLongLines writes ctl lines longer than a transport's write, over
// FUSE (one write(2), which the kernel cuts at 128 KiB) and over 9P (which
// the client cuts at its I/O unit): each runs whole, once. A line over the
// cap is refused and makes nothing; a line without newline runs at close,
// and its error is the close's.
func TestCtlLongLines(t *testing.T) {
	d := startDaemon(t)
	dir := t.TempDir()

	t.Run("fuse", func(t *testing.T) {
		line := filepath.Join(dir, "create")
		if err := os.WriteFile(line, []byte(longCreate("longfuse")), 0o644); err != nil {
			t.Fatal(err)
		}
		// dd writes the whole file with one write(2).
		shIn(t, d, "dd if="+line+" of=containers/ctl bs=4M status=none")
		if got := shIn(t, d, "cat containers/longfuse/status"); got != "created\n" {
			t.Fatalf("status = %q, want created", got)
		}
		checkHardened(t, []byte(shIn(t, d, "cat containers/longfuse/inspect")))
	})

	t.Run("9p", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		c, err := ninep.Dial(ctx, d.sock)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := fs.Command(ctx, c, "containers/ctl", strings.TrimSuffix(longCreate("long9p"), "\n")); err != nil {
			t.Fatal(short(err.Error()))
		}
		inspect, err := fs.ReadAll(ctx, c, "containers/long9p/inspect")
		if err != nil {
			t.Fatal(err)
		}
		checkHardened(t, inspect)

		// A line without newline runs at the clunk, which reports its error.
		h, err := c.Open(ctx, "containers/long9p/ctl", os.O_WRONLY)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.WriteAt(ctx, []byte("frobnicate"), 0); err != nil {
			t.Fatalf("a write without newline failed: %v", err)
		}
		if err := h.Close(); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("close after an unknown command without newline = %v, want EINVAL", err)
		}
	})

	t.Run("over the cap", func(t *testing.T) {
		before := countContainers(t, d)
		line := filepath.Join(dir, "huge")
		huge := "create name=huge image=busybox env=BIG=" + strings.Repeat("x", 2<<20) + " -- true\n"
		if err := os.WriteFile(line, []byte(huge), 0o644); err != nil {
			t.Fatal(err)
		}
		_, stderr, err := d.trySh("dd if=" + line + " of=containers/ctl bs=4M status=none")
		if err == nil || !strings.Contains(stderr, "Invalid argument") {
			t.Errorf("dd of a 2 MiB line: %v, %q; want it to fail with Invalid argument", err, short(stderr))
		}
		if msg := shIn(t, d, "cat containers/err"); !strings.Contains(msg, "fs.MaxCtlLine") {
			t.Errorf("containers/err = %q, want it to name the cap", short(msg))
		}
		if after := countContainers(t, d); after != before {
			t.Errorf("%d containers after the refused line, %d before", after, before)
		}
		if _, _, err := d.trySh("test -e containers/huge"); err == nil {
			t.Errorf("the refused line made a container")
		}
	})

	t.Run("no newline", func(t *testing.T) {
		shIn(t, d, "echo create name=nonl image=busybox -- sleep 30 > containers/ctl")
		// coreutils' printf reports a failed close of its output.
		shIn(t, d, "/usr/bin/printf start > containers/nonl/ctl")
		if got := shIn(t, d, "cat containers/nonl/status"); !strings.HasPrefix(got, "running") {
			t.Errorf("status after printf start = %q, want running", got)
		}
		_, stderr, err := d.trySh("/usr/bin/printf frobnicate > containers/nonl/ctl")
		if err == nil || !strings.Contains(stderr, "Invalid argument") {
			t.Errorf("printf frobnicate > ctl: %v, %q; want it to fail with Invalid argument", err, stderr)
		}
		shIn(t, d, "echo kill > containers/nonl/ctl; cat containers/nonl/wait > /dev/null")
	})
}
