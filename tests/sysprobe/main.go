// Command sysprobe makes, in a container, the system calls a seccomp filter
// is there to stop, with harmless arguments, and prints one line per call:
// its name and "ok" or the errno's name. The tests run it under enginefs's
// runtimes and under docker and compare. Every call is harmless where it is
// allowed, even run as root on a host: none mounts, changes a clock or
// touches anything beyond the probe's own process. Linux x86_64 and arm64.
package main

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// probes are the calls, each with arguments that change nothing outside the
// probe's own process (and its namespaces) when allowed.
var probes = []struct {
	name string
	call func() error
}{
	// A user namespace gives full capabilities inside it: the way in to
	// most of the kernel's attack surface.
	{"unshare-user", func() error { return unix.Unshare(unix.CLONE_NEWUSER) }},
	{"clone-newuser", func() error {
		pid, _, e := unix.RawSyscall6(unix.SYS_CLONE, unix.CLONE_NEWUSER|uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
		if e != 0 {
			return e
		}
		if pid == 0 {
			unix.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0)
		}
		var ws unix.WaitStatus
		_, _ = unix.Wait4(int(pid), &ws, 0, nil)
		return nil
	}},
	// The kernel's keyrings are not namespaced.
	{"add_key", func() error {
		_, err := unix.AddKey("user", "sysprobe", []byte("x"), unix.KEY_SPEC_PROCESS_KEYRING)
		return err
	}},
	{"keyctl", func() error {
		_, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_USER_KEYRING, false)
		return err
	}},
	{"request_key", func() error {
		_, err := unix.RequestKey("user", "sysprobe-none", "", unix.KEY_SPEC_PROCESS_KEYRING)
		return err
	}},
	{"clone3", func() error {
		// An empty clone_args of the wrong size: EINVAL if allowed.
		_, _, e := unix.RawSyscall(unix.SYS_CLONE3, 0, 0, 0)
		return errnoOrNil(e)
	}},
	{"personality-exec", func() error {
		_, _, e := unix.RawSyscall(unix.SYS_PERSONALITY, 0x0400000, 0, 0) // READ_IMPLIES_EXEC
		return errnoOrNil(e)
	}},
	{"userfaultfd", func() error {
		fd, _, e := unix.RawSyscall(unix.SYS_USERFAULTFD, unix.O_CLOEXEC, 0, 0)
		if e == 0 {
			unix.Close(int(fd))
		}
		return errnoOrNil(e)
	}},
	{"open_by_handle_at", func() error {
		_, _, e := unix.RawSyscall(unix.SYS_OPEN_BY_HANDLE_AT, ^uintptr(0), 0, 0)
		return errnoOrNil(e)
	}},
	{"perf_event_open", func() error {
		_, _, e := unix.RawSyscall6(unix.SYS_PERF_EVENT_OPEN, 0, 0, ^uintptr(0), ^uintptr(0), 0, 0)
		return errnoOrNil(e)
	}},
	{"bpf", func() error {
		_, _, e := unix.RawSyscall(unix.SYS_BPF, ^uintptr(0), 0, 0)
		return errnoOrNil(e)
	}},
	{"kexec_load", func() error {
		_, _, e := unix.RawSyscall6(unix.SYS_KEXEC_LOAD, 0, 0, 0, ^uintptr(0), 0, 0)
		return errnoOrNil(e)
	}},
	{"init_module", func() error {
		var b byte
		_, _, e := unix.RawSyscall(unix.SYS_INIT_MODULE, uintptr(unsafe.Pointer(&b)), 0, 0)
		return errnoOrNil(e)
	}},
	{"settimeofday", func() error {
		_, _, e := unix.RawSyscall(unix.SYS_SETTIMEOFDAY, 0, 0, 0)
		return errnoOrNil(e)
	}},
	{"getpid", func() error { unix.Getpid(); return nil }},
}

func errnoOrNil(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func main() {
	want := map[string]bool{}
	for _, a := range os.Args[1:] {
		want[a] = true
	}
	for _, p := range probes {
		if len(want) > 0 && !want[p.name] {
			continue
		}
		res := "ok"
		if err := p.call(); err != nil {
			if e, ok := err.(unix.Errno); ok {
				res = unix.ErrnoName(e)
			} else {
				res = err.Error()
			}
		}
		fmt.Printf("%s %s\n", p.name, res)
	}
}
