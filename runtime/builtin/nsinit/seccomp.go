//go:build linux

package nsinit

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// install puts the filter on every thread of this process (TSYNC), to be
// inherited across the exec that follows. Without no_new_privs the caller
// must still hold CAP_SYS_ADMIN: the container's init installs it before it
// gives up its capabilities and changes user, as runc does, and with
// no_new_privs right before the exec, so that the filter governs as little
// of the init as it can.
func (s *Seccomp) install() error {
	if s == nil {
		return nil
	}
	n := len(s.Filter) / int(unsafe.Sizeof(unix.SockFilter{}))
	if n == 0 || n > 4096 || len(s.Filter)%int(unsafe.Sizeof(unix.SockFilter{})) != 0 {
		return fmt.Errorf("seccomp: a filter of %d bytes is not a program", len(s.Filter))
	}
	prog := unix.SockFprog{Len: uint16(n), Filter: (*unix.SockFilter)(unsafe.Pointer(&s.Filter[0]))}
	_, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		uintptr(s.Flags|unix.SECCOMP_FILTER_FLAG_TSYNC), uintptr(unsafe.Pointer(&prog)))
	if e != 0 {
		return fmt.Errorf("seccomp: install the filter: %w", e)
	}
	return nil
}
