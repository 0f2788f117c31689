package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/internal/mountinfo"
)

// fuseType is the file system type of the tree's mount in mountinfo
// (fusefs.Mount names it "enginefs").
const fuseType = "fuse.enginefs"

// statTimeout bounds the stat of a FUSE mount found at the mount point:
// a server that is alive but stuck would hold the stat forever.
const statTimeout = 2 * time.Second

// maxStaleMounts caps how many stale mounts stacked at the mount point
// (one per crash) prepareMountpoint detaches before it gives up.
const maxStaleMounts = 16

// mountEntry is one line of /proc/self/mountinfo, the fields we use.
type mountEntry struct {
	point  string // the mount point, unescaped
	fstype string
	source string
}

// parseMountinfo reads the mount point, type and source of each line of
// /proc/self/mountinfo (proc(5)). Lines it cannot read are skipped.
func parseMountinfo(data string) []mountEntry {
	var out []mountEntry
	for _, line := range strings.Split(data, "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 2 {
			continue
		}
		out = append(out, mountEntry{point: mountinfo.Unescape(f[4]), fstype: g[0], source: g[1]})
	}
	return out
}

// topMount returns the last (topmost) mount at point, if any.
func topMount(entries []mountEntry, point string) (mountEntry, bool) {
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].point == point {
			return entries[i], true
		}
	}
	return mountEntry{}, false
}

// canonicalMount returns dir absolute, with the symlinks of its parent
// resolved (dir itself may be a dead mount that cannot be resolved), as
// mountinfo spells it.
func canonicalMount(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	parent, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return abs, nil // MkdirAll will make it, or say why not
	}
	return filepath.Join(parent, filepath.Base(abs)), nil
}

// statWithin stats path, giving up after statTimeout (the goroutine of a
// stuck stat is left behind: the daemon exits on the error).
func statWithin(path string) error {
	done := make(chan error, 1)
	go func() {
		_, err := os.Stat(path)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(statTimeout):
		return fmt.Errorf("stat %s: no answer in %v", path, statTimeout)
	}
}

// prepareMountpoint makes dir ready for the tree's mount. A FUSE mount at
// dir whose server is gone (a daemon killed with -9 leaves one: stat
// answers ENOTCONN) is detached (MNT_DETACH), and logged; several stacked
// ones each in turn, up to maxStaleMounts. A live enginefs mount there, or
// one that does not answer, is another daemon's: prepareMountpoint refuses
// to take it over (errdefs.ErrAlreadyExists) and names that daemon's pid
// when it can find it. Then dir is made if missing.
func prepareMountpoint(ctx context.Context, dir string) error {
	point, err := canonicalMount(dir)
	if err != nil {
		return fmt.Errorf("mount point %s: %w", dir, err)
	}
	for i := 0; ; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		data, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			return fmt.Errorf("mount point %s: %w", dir, err)
		}
		m, ok := topMount(parseMountinfo(string(data)), point)
		if !ok || !strings.HasPrefix(m.fstype, "fuse") {
			break // not a mount, or not a FUSE one: nothing of ours
		}
		serr := statWithin(point)
		if !errors.Is(serr, syscall.ENOTCONN) {
			if m.fstype != fuseType {
				break // a live FUSE mount of something else: as before, mount over it
			}
			state := "which answers"
			if serr != nil {
				state = "which does not answer: " + serr.Error()
			}
			return errdefs.AlreadyExists("mount point %s is the live mount of another enginefs (%s), %s; stop that daemon, or use --mount elsewhere",
				dir, otherDaemon(point), state)
		}
		if i == maxStaleMounts {
			return errdefs.Busy("mount point %s: still a dead FUSE mount after detaching %d (cap maxStaleMounts)", dir, maxStaleMounts)
		}
		if err := syscall.Unmount(point, syscall.MNT_DETACH); err != nil {
			return fmt.Errorf("mount point %s: detaching the stale %s mount: %w", dir, m.fstype, err)
		}
		log.Printf("detached the stale %s mount at %s: its server is gone (ENOTCONN), as after a daemon killed with -9", m.fstype, dir)
	}
	if err := os.MkdirAll(point, 0o755); err != nil {
		return fmt.Errorf("mount point %s: %w", dir, err)
	}
	return nil
}

// otherDaemon names the pids of the enginefs processes, other than this
// one, whose --mount is point ("pid N"), or says none was found.
func otherDaemon(point string) string {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return ""
	}
	var pids []string
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimSuffix(string(data), "\x00"), "\x00")
		if len(args) == 0 || filepath.Base(args[0]) != "enginefs" {
			continue
		}
		cwd, _ := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if mountFlag(cwd, args[1:]) == point {
			pids = append(pids, e.Name())
		}
	}
	if len(pids) == 0 {
		return "pid not found: no enginefs process names that --mount"
	}
	return "pid " + strings.Join(pids, ", ")
}

// mountFlag returns the --mount of an enginefs command line run in cwd,
// made canonical, or the default.
func mountFlag(cwd string, args []string) string {
	dir := "/mnt/engine"
	for i, a := range args {
		switch {
		case (a == "--mount" || a == "-mount") && i+1 < len(args):
			dir = args[i+1]
		case strings.HasPrefix(a, "--mount="):
			dir = strings.TrimPrefix(a, "--mount=")
		}
	}
	if !filepath.IsAbs(dir) && cwd != "" {
		dir = filepath.Join(cwd, dir)
	}
	if p, err := canonicalMount(dir); err == nil {
		return p
	}
	return dir
}
