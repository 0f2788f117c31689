//go:build linux

package oci

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// A binary that is killed half way through `create` or `exec` leaves its
// own children (runc's init stages, the container's first process) to the
// caller, the subreaper, without having written their pids anywhere. They
// would stay as zombies for the caller's life. reapStrays finds them among
// the caller's children by what they share with the dead binary, kills
// them and reaps them.

// procStat is what reapStrays reads of a process in /proc/<pid>/stat.
type procStat struct {
	pid, ppid, session int
	start              uint64 // clock ticks after boot
}

// clockTicks is USER_HZ, the unit of the start time in /proc/<pid>/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// bootTicks is the time since boot in the unit of procStat.start.
func bootTicks() uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return uint64(ts.Nano()) / (1e9 / clockTicks)
}

// readStat parses /proc/<pid>/stat; the command name, in parentheses, may
// hold spaces and parentheses, so the fields are counted from the last ')'.
func readStat(pid int) (procStat, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3, the state
	if len(f) < 20 {
		return procStat{}, false
	}
	st := procStat{pid: pid}
	var err1, err2, err3 error
	st.ppid, err1 = strconv.Atoi(f[1])                // field 4
	st.session, err2 = strconv.Atoi(f[3])             // field 6
	st.start, err3 = strconv.ParseUint(f[19], 10, 64) // field 22
	return st, err1 == nil && err2 == nil && err3 == nil
}

// reapStrays kills and reaps every child of the caller that match selects.
// adopt checks again, on a pidfd, that each is still the caller's child.
func reapStrays(match func(procStat) bool) {
	self := os.Getpid()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		if err != nil {
			continue
		}
		st, ok := readStat(pid)
		if !ok || st.ppid != self || !match(st) {
			continue
		}
		if c, err := adopt(pid); err == nil {
			c.kill()
		}
	}
}

// inSession selects what the binary of pid sid started while it lived: it
// ran in a session of its own (Setsid), which its children join, and a
// process started after it died may reuse the number but starts later.
func inSession(sid int, died uint64) func(procStat) bool {
	return func(st procStat) bool { return st.session == sid && st.start <= died }
}

// inCgroup selects the processes, alive or zombies, of the cgroup at p
// (a container's cgroupsPath) in any hierarchy: the container's first
// process, which left the binary's session (setsid) before it died.
func inCgroup(p string) func(procStat) bool {
	return func(st procStat) bool {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(st.pid) + "/cgroup")
		if err != nil {
			return false
		}
		for _, line := range strings.Split(string(data), "\n") {
			// hierarchy-id:controllers:path
			parts := strings.SplitN(line, ":", 3)
			if len(parts) == 3 && strings.TrimSuffix(parts[2], " (deleted)") == p {
				return true
			}
		}
		return false
	}
}
