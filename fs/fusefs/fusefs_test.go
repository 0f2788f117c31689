//go:build linux

package fusefs_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/enginefs/enginefs/fs"
	"github.com/enginefs/enginefs/fs/fstest"
	"github.com/enginefs/enginefs/fs/fusefs"
	"github.com/enginefs/enginefs/internal/testenv"
)

// requireFUSE skips the test, naming what is missing, when this host cannot
// mount FUSE.
func requireFUSE(t *testing.T) {
	t.Helper()
	testenv.NeedRoot(t)
	testenv.Need(t, "/dev/fuse", testenv.FUSE())
}

// mount serves root in a fresh directory and unmounts it when the test ends,
// whatever happened.
func mount(t *testing.T, root fs.Dir) (*fusefs.Server, string) {
	t.Helper()
	requireFUSE(t)
	dir := t.TempDir()
	s, err := fusefs.Mount(context.Background(), dir, root)
	if err != nil {
		t.Fatalf("mount: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
		waitServer(t, s)
		if mounted(dir) {
			t.Errorf("%s is still mounted", dir)
		}
	})
	return s, dir
}

// waitServer waits for the server loop to end, failing after a while.
func waitServer(t *testing.T, s *fusefs.Server) {
	t.Helper()
	done := make(chan struct{})
	go func() { s.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Errorf("server still running 10s after unmount")
	}
}

// mounted reports whether dir is a mount point, from /proc/mounts.
func mounted(dir string) bool {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == dir {
			return true
		}
	}
	return false
}

func TestTransport(t *testing.T) {
	requireFUSE(t)
	fstest.TestTransport(t, func(t *testing.T, root fs.Dir) fs.Client {
		_, dir := mount(t, root)
		return fs.Mount(dir)
	}, fstest.WithoutCancel())
}

// run runs a shell command in dir and returns its output and error.
//
// The shell changes to dir itself: with cmd.Dir the chdir would happen
// between fork and exec, in a vfork child that holds up its parent's thread,
// and a stop-the-world in this process (which serves the mount) would then
// never end. A program serving a FUSE mount must not start children there.
func run(t *testing.T, dir, script string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", `cd "$0" && eval "$1"`, dir, script)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

func TestShell(t *testing.T) {
	tr := fstest.NewTree(t)
	_, dir := mount(t, tr.Root())
	tests := []struct {
		name, script, stdout, stderr string
		fails                        bool
	}{
		{name: "echo to ctl", script: "echo set from the shell > ctl && cat value", stdout: "from the shell\n"},
		{name: "append to ctl", script: "echo set appended >> ctl && cat value", stdout: "appended\n"},
		// dash reports any failed write as "I/O error"; /bin/echo names the errno.
		{name: "failed command", script: "echo fail busy not now > ctl", fails: true},
		{name: "failed command errno", script: "/bin/echo fail busy it is busy > ctl", fails: true, stderr: "Device or resource busy"},
		{name: "err after failure", script: "cat err", stdout: "it is busy\n"},
		{name: "cat", script: "cat static/hello", stdout: "hello\n"},
		{name: "ls", script: "ls", stdout: "counter\nctl\ndoc\ndyn\nerr\nhost\nlog\nstatic\nvalue\nwait\n"},
		{name: "ls dyn", script: "echo add web > ctl && echo add db > ctl && ls dyn && cat dyn/web/id", stdout: "db\nweb\n1\n"},
		{name: "ls after rm", script: "echo rm web > ctl && ls dyn && ! cat dyn/web/id 2>/dev/null", stdout: "db\n"},
		{name: "recreate", script: "echo add web > ctl && cat dyn/web/id", stdout: "3\n"},
		{name: "write read-only", script: "echo x > static/hello", fails: true, stderr: "Permission denied"},
		{name: "truncate ctl", script: "truncate -s 0 ctl && : > ctl"},
		{name: "doc", script: `printf '{"a":1}' > doc && cat doc`, stdout: `{"a":1}`},
		{name: "missing", script: "cat nothing", fails: true, stderr: "No such file or directory"},
		{name: "create", script: "echo x > newfile", fails: true, stderr: "Operation not permitted"},
		{name: "mkdir", script: "mkdir newdir", fails: true, stderr: "Operation not permitted"},
		{name: "rm", script: "rm -f ctl", fails: true, stderr: "Operation not permitted"},
		{name: "mv", script: "mv ctl ctl2", fails: true, stderr: "Operation not permitted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := run(t, dir, tc.script)
			if (err != nil) != tc.fails {
				t.Errorf("%q: error %v (stderr %q), want failure %v", tc.script, err, stderr, tc.fails)
			}
			if stdout != tc.stdout {
				t.Errorf("%q: stdout %q, want %q", tc.script, stdout, tc.stdout)
			}
			if !strings.Contains(stderr, tc.stderr) {
				t.Errorf("%q: stderr %q, want it to contain %q", tc.script, stderr, tc.stderr)
			}
		})
	}
}

// lines collects what a process writes, line by line.
type lines struct {
	mu  sync.Mutex
	buf []string
}

func (l *lines) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.buf {
		if line == s {
			return true
		}
	}
	return false
}

func TestTailFollows(t *testing.T) {
	tr := fstest.NewTree(t)
	_, dir := mount(t, tr.Root())
	tr.Append(t, "first\n")
	cmd := exec.Command("tail", "-s", "0.1", "-f", filepath.Join(dir, "log"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	var got lines
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			got.mu.Lock()
			got.buf = append(got.buf, sc.Text())
			got.mu.Unlock()
		}
	}()
	fstest.WaitFor(t, "tail to print the first line", func() bool { return got.has("first") })
	tr.Append(t, "second\n")
	fstest.WaitFor(t, "tail -f to follow the growing log", func() bool { return got.has("second") })
	st, err := os.Stat(filepath.Join(dir, "log"))
	if err != nil || st.Size() != int64(len("first\nsecond\n")) {
		t.Errorf("log stat: %v, %v; want the host file's size", st, err)
	}
}

// TestInterrupt checks that a signal to a process blocked reading a wait
// file reaches the node as a cancelled context (FUSE INTERRUPT).
func TestInterrupt(t *testing.T) {
	tr := fstest.NewTree(t)
	_, dir := mount(t, tr.Root())
	cmd := exec.Command("cat", filepath.Join(dir, "wait"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	fstest.WaitFor(t, "cat to block on wait", func() bool { return tr.Waiting() == 1 })
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("cat still blocked 10s after SIGINT")
	}
	fstest.WaitFor(t, "the node to see the interrupt", func() bool { return tr.Cancelled() == 1 && tr.Waiting() == 0 })
}

// TestUnmountWhileBlocked checks that Unmount wakes a blocked read and frees
// the mount point even though a process still has the file open.
func TestUnmountWhileBlocked(t *testing.T) {
	tr := fstest.NewTree(t)
	s, dir := mount(t, tr.Root())
	cmd := exec.Command("cat", filepath.Join(dir, "wait"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	fstest.WaitFor(t, "cat to block on wait", func() bool { return tr.Waiting() == 1 })
	if err := s.Unmount(); err != nil {
		t.Fatalf("unmount: %v", err)
	}
	select {
	case err := <-exited:
		if err == nil {
			t.Errorf("cat succeeded on an unmounted tree")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cat still blocked 10s after unmount")
	}
	if mounted(dir) {
		t.Errorf("%s still mounted after Unmount", dir)
	}
	waitServer(t, s)
}

// TestInodes checks that inode numbers come from the path and stay put.
func TestInodes(t *testing.T) {
	tr := fstest.NewTree(t)
	_, dir := mount(t, tr.Root())
	for _, name := range []string{"static", "static/hello", "ctl", "wait"} {
		st1, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		st2, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		ino1, ino2 := st1.Sys().(*syscall.Stat_t).Ino, st2.Sys().(*syscall.Stat_t).Ino
		if want := fs.PathID(name); ino1 != want || ino2 != want {
			t.Errorf("%s: inodes %d and %d, want %d", name, ino1, ino2, want)
		}
	}
	st, err := os.Stat(filepath.Join(dir, "ctl"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode() != 0o644 {
		t.Errorf("ctl mode %v, want -rw-r--r--", st.Mode())
	}
}

// TestUnmountOnCancel checks that the mount ends with its context.
func TestUnmountOnCancel(t *testing.T) {
	requireFUSE(t)
	tr := fstest.NewTree(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := fusefs.Mount(ctx, dir, tr.Root())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Unmount() })
	if !mounted(dir) {
		t.Fatalf("%s not mounted", dir)
	}
	cancel()
	waitServer(t, s)
	fstest.WaitFor(t, "the unmount", func() bool { return !mounted(dir) })
}

// TestRenameKeepsDescendants: a directory the kernel holds open below a
// directory that is renamed still works: a file made through it with
// openat lands in the renamed place.
func TestRenameKeepsDescendants(t *testing.T) {
	tr := fstest.NewTree(t)
	_, dir := mount(t, tr.Root())
	if err := os.MkdirAll(filepath.Join(dir, "host/a/sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	sub, err := os.Open(filepath.Join(dir, "host/a/sub"))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := os.Rename(filepath.Join(dir, "host/a"), filepath.Join(dir, "host/b")); err != nil {
		t.Fatal(err)
	}
	fd, err := syscall.Openat(int(sub.Fd()), "x", syscall.O_CREAT|syscall.O_WRONLY|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		t.Fatalf("openat in the open directory after its parent was renamed: %v", err)
	}
	if _, err := syscall.Write(fd, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	syscall.Close(fd)
	if got, err := os.ReadFile(filepath.Join(dir, "host/b/sub/x")); err != nil || string(got) != "hi" {
		t.Errorf("host/b/sub/x: %q, %v", got, err)
	}
}
