//go:build linux

package nsinit

import (
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// Capabilities are applied with raw system calls (prctl, capget, capset)
// rather than github.com/moby/sys/capability: what is needed is a handful
// of calls on the calling thread, in a child that decodes its config cold
// (the library reads /proc/self/status to load the current sets first), and
// in the exec helper the last steps happen in Go's own fork of the final
// child, where no library can run: there the sets must already be on the
// forking thread, and Go's SysProcAttr.AmbientCaps does the rest.
//
// What execve does with the sets decides what to apply. For a root process
// (without SECBIT_NOROOT) the kernel recomputes permitted = effective =
// bounding ∪ inheritable at execve, whatever they were before; for any
// other user, without file capabilities, permitted = effective = ambient.
// So the runtime sets the bounding set (dropping what the spec leaves out),
// the inheritable set and the ambient set; the spec's effective and
// permitted sets cannot be applied beyond that, by this runtime or by runc.
// With Docker's specs (bounding = effective = permitted for root, nothing
// for other users) the program ends with exactly the spec's sets.

// CapSets are the capability sets of a process, as bit masks (bit n is
// capability n).
type CapSets struct {
	Bounding    uint64 `json:"bounding"`
	Inheritable uint64 `json:"inheritable,omitempty"`
	Ambient     uint64 `json:"ambient,omitempty"`
}

// LastCap returns the highest capability the running kernel knows
// (/proc/sys/kernel/cap_last_cap), found by asking the bounding set.
func LastCap() int { return lastCap() }

var lastCap = sync.OnceValue(func() int {
	n := 0
	for c := 0; c < 64; c++ {
		if _, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); err != nil {
			break
		}
		n = c
	}
	return n
})

// ambientList is the ambient set as Go's SysProcAttr.AmbientCaps wants it.
func (c CapSets) ambientList() []uintptr {
	var out []uintptr
	for i := 0; i < 64; i++ {
		if c.Ambient&(1<<i) != 0 {
			out = append(out, uintptr(i))
		}
	}
	return out
}

// limit applies the bounding and inheritable sets to the calling thread,
// which keeps its own effective and permitted sets (it has more to do).
// The inheritable set is set now, while the thread is root: once it has
// changed user without keeping its capabilities, it could only lower it.
func (c CapSets) limit() error {
	for i := 0; i <= lastCap(); i++ {
		if c.Bounding&(1<<i) != 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(i), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("drop capability %d from the bounding set: %w", i, err)
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	inh := c.Inheritable | c.Ambient // ambient needs inheritable
	data[0].Inheritable, data[1].Inheritable = uint32(inh), uint32(inh>>32)
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("set the inheritable capabilities: %w", err)
	}
	return nil
}

// keepForAmbient keeps the permitted set across the change of user when
// ambient capabilities are to be raised afterwards (raiseAmbient).
func (c CapSets) keepForAmbient() error {
	if c.Ambient == 0 {
		return nil
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("keep capabilities: %w", err)
	}
	return nil
}

// raiseAmbient raises the ambient set on the calling thread, after the
// change of user; execve turns it into the program's permitted and
// effective sets.
func (c CapSets) raiseAmbient() error {
	if c.Ambient == 0 {
		return nil
	}
	for _, i := range c.ambientList() {
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, i, 0, 0); err != nil {
			return fmt.Errorf("raise ambient capability %d: %w", i, err)
		}
	}
	return unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0)
}
