//go:build linux

package builtin

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime"
	"github.com/enginefs/enginefs/runtime/builtin/nsinit"
	"golang.org/x/sys/unix"
)

func TestBinaryCopy(t *testing.T) {
	content := []byte("#!/bin/sh\nexit 0\n")
	p := filepath.Join(t.TempDir(), "child")
	if err := os.WriteFile(p, content, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := openBinary(p)
	if err != nil {
		t.Fatal(err)
	}
	defer b.copy.Close()
	files := []*os.File{nil, nil, nil, os.Stdin}
	exe, got := b.command(files[:3])
	if exe != "/proc/self/fd/3" || len(got) != 4 || got[3] != b.copy || files[3] != os.Stdin {
		t.Errorf("command = %s, %v (the caller's slice now %v)", exe, got, files)
	}
	data, err := os.ReadFile("/proc/self/fd/" + strconv.Itoa(int(b.copy.Fd())))
	if err != nil || !bytes.Equal(data, content) {
		t.Errorf("the copy holds %q, %v", data, err)
	}
	// What a container that reaches the copy through /proc/<pid>/exe could
	// try.
	f, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(b.copy.Fd())), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("#!/evil\n")); !errors.Is(err, unix.EPERM) {
		t.Errorf("write to the copy: %v, want EPERM", err)
	}
	if err := f.Truncate(1); !errors.Is(err, unix.EPERM) {
		t.Errorf("truncate the copy: %v, want EPERM", err)
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, 0); !errors.Is(err, unix.EPERM) {
		t.Errorf("add seals: %v, want EPERM (sealed for good)", err)
	}
	if err := f.Chmod(0o644); err == nil {
		if seals, _ := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0); seals&unix.F_SEAL_EXEC != 0 {
			t.Error("chmod of a copy sealed against it")
		}
	}

	self, err := openBinary(DefaultBinary)
	if err != nil || self.copy != nil {
		t.Fatalf("openBinary(%s) = %+v, %v; want no copy", DefaultBinary, self, err)
	}
	if exe, got := self.command(files[:3]); exe != DefaultBinary || len(got) != 3 {
		t.Errorf("command = %s, %v", exe, got)
	}
	if _, err := openBinary("/nosuch/enginefs-init"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("missing binary: %v, want ErrNotFound", err)
	}
}

// TestTinyInitRefuses checks that cmd/enginefs-init runs only as the
// runtime starts it, by hand or from a container that reaches it.
func TestTinyInitRefuses(t *testing.T) {
	bin := tinyInit(t)
	for _, tc := range []struct {
		name string
		cmd  *exec.Cmd
	}{
		{"by hand", exec.Command(bin)},
		{"argv0 without a config pipe", &exec.Cmd{Path: bin, Args: []string{nsinit.InitArg0}}},
		{"exec helper without a config pipe", &exec.Cmd{Path: bin, Args: []string{nsinit.ExecArg0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := tc.cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "run by the runtime only") {
				t.Errorf("%v: %q", err, out)
			}
		})
	}

	// A program whose interpreter is /proc/self/exe runs the child's
	// binary again in the container: it must refuse to do anything there.
	rs := newRuntimes(t)
	r := rs["init=enginefs-init"]
	opts := runtime.SpecOptions{Args: []string{"/evil"}}
	id, bundle := newBundle(t, opts, nil)
	if err := os.WriteFile(filepath.Join(bundle, "rootfs/evil"), []byte("#!/proc/self/exe\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	p, out := start(t, r, id, bundle, nil)
	if st := wait(t, p); st.Code != 2 || !strings.Contains(out(), "run by the runtime only") {
		t.Errorf("status %+v, output %q", st, out())
	}
}
