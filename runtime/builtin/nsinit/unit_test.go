//go:build linux

package nsinit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/enginefs/enginefs/errdefs"
	"golang.org/x/sys/unix"
)

// These tests need neither root nor a container; the child's work is
// tested in a container by runtime/builtin's tests, whose test binary is
// the child.

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{"prog": 0o755, "data": 0o644} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		file string
		env  []string
		want string // path found, or part of the error
		err  bool
	}{
		{"in PATH", "prog", []string{"PATH=/nosuch:" + dir}, dir + "/prog", false},
		{"last PATH wins", "prog", []string{"PATH=/nosuch", "PATH=" + dir}, dir + "/prog", false},
		{"not executable", "data", []string{"PATH=" + dir}, `exec: "data": executable file not found in $PATH`, true},
		{"directory", "sub", []string{"PATH=" + dir}, `exec: "sub": executable file not found in $PATH`, true},
		{"missing", "nosuch", []string{"PATH=" + dir}, `exec: "nosuch": executable file not found in $PATH`, true},
		{"absolute", dir + "/prog", nil, dir + "/prog", false},
		{"absolute missing", "/nosuch/x", nil, `exec: "/nosuch/x": stat /nosuch/x: no such file or directory`, true},
		{"absolute not executable", dir + "/data", nil, "permission denied", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := lookPath(tc.file, tc.env)
			if tc.err {
				if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("lookPath = %q, %v; want ErrInvalid saying %s", got, err, tc.want)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("lookPath = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestProtocol(t *testing.T) {
	adj := -500
	cfg := &InitConfig{
		Args: []string{"sh", "-c", "true"}, Env: []string{"PATH=/bin"}, Cwd: "/srv",
		UID: 5, GID: 6, Gids: []uint32{7}, Umask: 0o022,
		Rlimits:    []Rlimit{{Resource: unix.RLIMIT_NOFILE, Soft: 1, Hard: 2}},
		NoNewPrivs: true, OOMScoreAdj: &adj, Caps: CapSets{Bounding: 1 << 5, Ambient: 1},
		Hostname: "h", Domainname: "d", Rootfs: "/b/rootfs", ReadonlyRoot: true,
		RootPropagation: unix.MS_SLAVE | unix.MS_REC,
		Mounts: []Mount{
			{Dest: "/proc", Type: "proc", Source: "proc", Flags: unix.MS_NOSUID},
			{Dest: "/x", Type: "bind", Source: "/b/file", Kind: KindBind, File: true, Propagation: []uintptr{unix.MS_PRIVATE}},
			{Dest: "/sys/fs/cgroup", Type: "cgroup", Kind: KindCgroup, Flags: unix.MS_RDONLY, Data: "a=b"},
		},
		SetupDev: true, Devpts: true,
		Devices:       []Device{{Path: "/dev/null", Mode: unix.S_IFCHR | 0o666, Dev: unix.Mkdev(1, 3), UID: -1, GID: -1}},
		Sysctls:       []Sysctl{{Path: "net/ipv4/ip_forward", Value: "1"}},
		MaskedPaths:   []string{"/proc/kcore"},
		ReadonlyPaths: []string{"/proc/sys"},
		Join:          []Namespace{{Flag: unix.CLONE_NEWNET, Path: "/run/netns/x"}},
		NewUTS:        true, CgroupNS: true, JoinCgroup: true,
		Cgroups: []CgroupDir{{Name: "memory", Source: "/sys/fs/cgroup/memory/enginefs/c1"}},
		Console: true, ConsoleSize: &[2]uint16{24, 80},
	}
	msg, err := EncodeConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(append(msg, GoAhead))
	got, err := readConfig(r)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, cfg) {
		t.Errorf("read back %+v, want %+v", got, cfg)
	}
	if b, _ := r.ReadByte(); b != GoAhead {
		t.Errorf("readConfig read past the config")
	}
	if _, err := readConfig(bytes.NewReader(msg[:len(msg)-1])); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated config: %v", err)
	}
	empty, _ := EncodeConfig(&InitConfig{Rootfs: "/r"})
	if _, err := readConfig(bytes.NewReader(empty)); err == nil {
		t.Error("read a config without a program")
	}

	for _, class := range classes {
		err := DecodeError(encodeError(errdefs.New(class, "exec: %q: boom", "x")))
		if errdefs.Class(err) != class || err.Error() != `exec: "x": boom` {
			t.Errorf("class %v came back as %v (%v)", class, errdefs.Class(err), err)
		}
	}
	if err := DecodeError(encodeError(errors.New("mount failed"))); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("an unclassed error came back as %v", err)
	}
}

func TestExecReport(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := os.NewFile(uintptr(fds[0]), "r")
	defer r.Close()
	w := os.NewFile(uintptr(fds[1]), "w")
	defer w.Close()
	send := func(rep ExecReport, fd int) {
		t.Helper()
		data, _ := json.Marshal(rep)
		var rights []byte
		if fd >= 0 {
			rights = unix.UnixRights(fd)
		}
		if err := unix.Sendmsg(int(w.Fd()), data, rights, nil, 0); err != nil {
			t.Fatal(err)
		}
	}

	send(ExecReport{Pid: 42}, int(w.Fd()))
	rep, fd, err := ReadExecReport(r)
	if err != nil || rep.Pid != 42 || fd == nil {
		t.Errorf("ReadExecReport = %+v, %v, %v", rep, fd, err)
	}
	if fd != nil {
		fd.Close()
	}

	send(ExecReport{Error: encodeError(errdefs.NotFound("no such thing"))}, -1)
	rep, fd, err = ReadExecReport(r)
	if err != nil || fd != nil || !errors.Is(DecodeError(rep.Error), errdefs.ErrNotFound) {
		t.Errorf("ReadExecReport = %+v, %v, %v", rep, fd, err)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"EPERM", fmt.Errorf("x: %w", unix.EPERM), errdefs.ErrPermission},
		{"EACCES", unix.EACCES, errdefs.ErrPermission},
		{"ERANGE", unix.ERANGE, errdefs.ErrInvalid},
		{"ESRCH", unix.ESRCH, errdefs.ErrNotFound},
		{"EIO", unix.EIO, errdefs.ErrUnavailable},
		{"classed", errdefs.Busy("b"), errdefs.ErrBusy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Classify(tc.err)
			if errdefs.Class(err) != tc.want || !errors.Is(err, tc.err) {
				t.Errorf("Classify(%v) = %v of class %v, want %v", tc.err, err, errdefs.Class(err), tc.want)
			}
		})
	}
}

func TestCapSets(t *testing.T) {
	if got := (CapSets{Ambient: 1<<0 | 1<<13}).ambientList(); !reflect.DeepEqual(got, []uintptr{0, 13}) {
		t.Errorf("ambientList = %v", got)
	}
	if LastCap() < 36 || LastCap() > 63 {
		t.Errorf("LastCap = %d", LastCap())
	}
}

func TestOpenInRoot(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	// An image may point anything anywhere.
	for link, target := range map[string]string{"etc": "/", "up": "../../..", "abs": outside, "rel": "a/b", "loop1": "loop2", "loop2": "loop1"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	rootfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rootfd)
	for _, tc := range []struct {
		path string
		file bool
		want string // where it must land, relative to root
	}{
		{"/dev/pts", false, "dev/pts"},
		{"/etc/hostname", true, "hostname"},
		{"/up/x", false, "x"},
		{"/abs/y", false, filepath.Join(strings.TrimPrefix(outside, "/"), "y")},
		{"/rel/z", true, "a/b/z"},
		{"/", false, "."},
	} {
		t.Run(tc.path, func(t *testing.T) {
			fd, err := openInRoot(rootfd, tc.path, tc.file)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			got, err := os.Readlink(procFd(fd))
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(root, tc.want); got != want {
				t.Errorf("opened %s, want %s", got, want)
			}
			fi, err := os.Stat(got)
			if err != nil || fi.IsDir() == tc.file {
				t.Errorf("%s: %v, is a directory: %v", got, err, fi != nil && fi.IsDir())
			}
		})
	}
	if fd, err := openInRoot(rootfd, "/loop1/x", false); err == nil {
		unix.Close(fd)
		t.Error("opened a path through a symlink loop")
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("created outside the root: %v", entries)
	}
}

// TestOpenInRootConcurrent: containers sharing a directory (a volume
// mounted at /etc in each) create the same mount targets at once; each
// opens the one that is there, whoever made it.
func TestOpenInRootConcurrent(t *testing.T) {
	for range 20 {
		root := t.TempDir()
		rootfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, p := range []struct {
					path string
					file bool
				}{{"/etc/hosts", true}, {"/dev/shm", false}} {
					fd, err := openInRoot(rootfd, p.path, p.file)
					if err != nil {
						errs <- err
						return
					}
					unix.Close(fd)
				}
			}()
		}
		wg.Wait()
		unix.Close(rootfd)
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	// A name that exists but cannot be opened as asked is still an error.
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rootfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rootfd)
	if fd, err := openInRoot(rootfd, "/f/x", false); err == nil {
		unix.Close(fd)
		t.Error("created below a regular file")
	}
}
