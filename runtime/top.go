//go:build linux

package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/cgroups/v3"
	"github.com/enginefs/enginefs/errdefs"
)

// ProcessInfo is one process of a container as `ps -ef` shows it on the
// host (docker top's default), read from /proc. The string fields are the
// columns of PsTitles, in the host's view (pids, user names).
type ProcessInfo struct {
	PID, PPID int
	UID       uint32
	User      string        // UID: the name in the host's /etc/passwd, or the number
	C         int           // CPU use over the process's life, percent
	Start     time.Time     // when it started
	STIME     string        // Start as ps prints it: "15:04" within a day, then "Jan02"
	TTY       string        // "pts/0", "?" without a terminal
	CPUTime   time.Duration // user + system time
	TIME      string        // CPUTime as ps prints it: "00:00:01"
	CMD       string        // the command line; "[comm]" when it has none
}

// PsTitles are the columns of ProcessInfo.Row, those of `ps -ef`.
var PsTitles = []string{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}

// Row returns the process's `ps -ef` columns, in the order of PsTitles.
func (p ProcessInfo) Row() []string {
	return []string{p.User, strconv.Itoa(p.PID), strconv.Itoa(p.PPID), strconv.Itoa(p.C), p.STIME, p.TTY, p.TIME, p.CMD}
}

// Processes lists the processes in the cgroup of the container id
// (CgroupParent/<id>), ordered by pid. A container without a cgroup is
// errdefs.ErrNotFound. A process that exits while it is read is left out.
func Processes(ctx context.Context, id string) ([]ProcessInfo, error) {
	if err := validateID(id); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("container %s: top: %w", id, err)
	}
	pids, err := cgroupPids(CgroupParent + "/" + id)
	if err != nil {
		return nil, fmt.Errorf("container %s: top: %w", id, err)
	}
	boot, err := bootTime()
	if err != nil {
		return nil, fmt.Errorf("container %s: top: %w", id, err)
	}
	now := time.Now()
	users := readPasswd("/etc/passwd")
	var out []ProcessInfo
	for _, pid := range pids {
		p, err := readProcess(pid, boot, now, users)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errGone) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("container %s: top: %w", id, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// cgroupPids lists the pids in the cgroup at p: its cgroup.procs on v2, in
// every v1 hierarchy that has it otherwise (a process is in all of them).
func cgroupPids(p string) ([]int, error) {
	var files []string
	if cgroups.Mode() == cgroups.Unified {
		files = []string{filepath.Join("/sys/fs/cgroup", p, "cgroup.procs")}
	} else {
		files, _ = filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", p, "cgroup.procs"))
		// The hybrid's cgroup2 tree is not the container's.
		files = slices.DeleteFunc(files, func(f string) bool {
			return strings.HasPrefix(f, "/sys/fs/cgroup/unified/")
		})
	}
	var pids []int
	found := false
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		found = true
		for _, s := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(s); err == nil && !slices.Contains(pids, pid) {
				pids = append(pids, pid)
			}
		}
	}
	if !found {
		return nil, errdefs.NotFound("no cgroup %s", p)
	}
	slices.Sort(pids)
	return pids, nil
}

// errGone says a process exited while it was read.
var errGone = errors.New("process has exited")

// readProcess reads one process from /proc.
func readProcess(pid int, boot, now time.Time, users map[uint32]string) (ProcessInfo, error) {
	p := ProcessInfo{PID: pid}
	dir := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return p, err
	}
	st, err := parseStat(stat)
	if err != nil {
		return p, errdefs.Unavailable("%s/stat: %w", dir, err)
	}
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return p, err
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "Uid:"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				n, _ := strconv.ParseUint(f[0], 10, 32)
				p.UID = uint32(n)
			}
		}
	}
	cmdline, err := os.ReadFile(dir + "/cmdline")
	if err != nil {
		return p, err
	}
	p.PPID = st.ppid
	p.User = users[p.UID]
	if p.User == "" {
		p.User = strconv.FormatUint(uint64(p.UID), 10)
	}
	p.Start = boot.Add(time.Duration(st.starttime) * time.Second / userHZ)
	p.CPUTime = time.Duration(st.utime+st.stime) * time.Second / userHZ
	if life := now.Sub(p.Start); life > 0 {
		p.C = int(p.CPUTime * 100 / life)
	}
	p.STIME = psStartTime(p.Start, now)
	p.TTY = ttyName(st.ttyNr)
	p.TIME = psTime(p.CPUTime)
	p.CMD = strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
	if p.CMD == "" {
		p.CMD = "[" + st.comm + "]"
	}
	return p, nil
}

// procStat holds the fields of /proc/<pid>/stat that ps -ef shows.
type procStat struct {
	comm                    string
	ppid, ttyNr             int
	utime, stime, starttime uint64
}

// parseStat parses /proc/<pid>/stat: "pid (comm) state ppid pgrp session
// tty_nr ..."; comm may hold spaces and parentheses, so it ends at the last
// ')'.
func parseStat(data []byte) (procStat, error) {
	var st procStat
	s := string(data)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return st, errors.New("no command name")
	}
	st.comm = s[open+1 : end]
	f := strings.Fields(s[end+1:])
	// f[0] is the state (field 3); field n is f[n-3].
	if len(f) < 20 {
		return st, errors.New("short line")
	}
	var err error
	parse := func(i int) uint64 {
		n, e := strconv.ParseUint(f[i], 10, 64)
		if e != nil && err == nil {
			err = e
		}
		return n
	}
	ppid, _ := strconv.Atoi(f[1])
	tty, _ := strconv.Atoi(f[4])
	st.ppid, st.ttyNr = ppid, tty
	st.utime, st.stime, st.starttime = parse(11), parse(12), parse(19)
	return st, err
}

// ttyName names the terminal of tty_nr (dev_t of the kernel's encoding)
// as ps does; "?" for none.
func ttyName(nr int) string {
	major := (nr >> 8) & 0xfff
	minor := (nr & 0xff) | ((nr >> 12) & 0xfff00)
	switch {
	case nr == 0:
		return "?"
	case major >= 136 && major <= 143:
		return "pts/" + strconv.Itoa((major-136)*256+minor)
	case major == 4 && minor < 64:
		return "tty" + strconv.Itoa(minor)
	case major == 4:
		return "ttyS" + strconv.Itoa(minor-64)
	case major == 5 && minor == 1:
		return "console"
	}
	return "?"
}

// psStartTime is STIME as procps's ps -ef prints it: the time of day
// within the last 24 hours, then the month and day, then the year.
func psStartTime(start, now time.Time) string {
	start = start.Local()
	switch {
	case now.Sub(start) < 24*time.Hour:
		return start.Format("15:04")
	case start.Year() == now.Year():
		return start.Format("Jan02")
	}
	return start.Format("2006")
}

// psTime is TIME as ps -ef prints it: [DD-]HH:MM:SS.
func psTime(d time.Duration) string {
	s := int64(d / time.Second)
	days, h, m := s/86400, s/3600%24, s/60%60
	if days > 0 {
		return fmt.Sprintf("%d-%02d:%02d:%02d", days, h, m, s%60)
	}
	return fmt.Sprintf("%02d:%02d:%02d", h, m, s%60)
}

// bootTime is when the host booted (btime of /proc/stat).
func bootTime() (time.Time, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return time.Time{}, errdefs.Unavailable("%w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "btime "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				break
			}
			return time.Unix(n, 0), nil
		}
	}
	return time.Time{}, errdefs.Unavailable("/proc/stat has no btime")
}

// readPasswd maps the uids of a passwd file to names; an unreadable file
// gives an empty map (numbers are shown).
func readPasswd(file string) map[uint32]string {
	out := map[uint32]string{}
	data, err := os.ReadFile(file)
	if err != nil {
		return out
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Split(l, ":")
		if len(f) < 3 {
			continue
		}
		if uid, err := strconv.ParseUint(f[2], 10, 32); err == nil {
			if _, dup := out[uint32(uid)]; !dup {
				out[uint32(uid)] = f[0]
			}
		}
	}
	return out
}
