package verbs

import (
	"slices"
	"strconv"
	"strings"

	"github.com/docker/go-units"

	"github.com/enginefs/enginefs/ctl"
	"github.com/enginefs/enginefs/errdefs"
)

// The values of options that the engine takes as numbers or structures,
// each read as docker's flag of the same name and written back by the
// Format of the same name.

// ParseSize reads docker's sizes (Create.Memory, ShmSize...): 64m, 1g,
// 512k, bytes; -1 where docker allows it.
func ParseSize(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	n, err := units.RAMInBytes(s)
	if err != nil {
		return 0, errdefs.Invalid("bad size %q", s)
	}
	return n, nil
}

// ParseCPUs reads Create.CPUs, a positive number of CPUs (0.5), as
// nanoCPUs.
func ParseCPUs(s string) (int64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 {
		return 0, errdefs.Invalid("bad number of CPUs %q", s)
	}
	return int64(f * 1e9), nil
}

// FormatCPUs writes nanoCPUs as Create.CPUs.
func FormatCPUs(nano int64) string { return strconv.FormatFloat(float64(nano)/1e9, 'f', -1, 64) }

// ParseRestart reads Create.Restart: a policy name and, after a colon, the
// maximum number of retries (on-failure:3). The name is the engine's to
// check.
func ParseRestart(s string) (name string, max int, err error) {
	name, n, hasMax := strings.Cut(s, ":")
	if hasMax {
		if max, err = strconv.Atoi(n); err != nil {
			return name, 0, errdefs.Invalid("bad restart policy %q", s)
		}
	}
	return name, max, nil
}

// FormatRestart writes a restart policy as Create.Restart.
func FormatRestart(name string, max int) string {
	if max > 0 {
		return name + ":" + strconv.Itoa(max)
	}
	return name
}

// ParseConsoleSize reads Create.ConsoleSize, ROWSxCOLS.
func ParseConsoleSize(s string) ([2]uint, error) {
	rows, cols, _ := strings.Cut(s, "x")
	r, err1 := strconv.ParseUint(rows, 10, 16)
	c, err2 := strconv.ParseUint(cols, 10, 16)
	if err1 != nil || err2 != nil || r == 0 || c == 0 {
		return [2]uint{}, errdefs.Invalid("bad console size %q: want ROWSxCOLS", s)
	}
	return [2]uint{uint(r), uint(c)}, nil
}

// FormatConsoleSize writes rows and columns as Create.ConsoleSize.
func FormatConsoleSize(cs [2]uint) string {
	return strconv.FormatUint(uint64(cs[0]), 10) + "x" + strconv.FormatUint(uint64(cs[1]), 10)
}

// ParseUlimit reads Create.Ulimit and Build.Ulimit, NAME=SOFT[:HARD]; the
// hard limit is the soft one if not given.
func ParseUlimit(s string) (units.Ulimit, error) {
	name, limits, ok := strings.Cut(s, "=")
	soft, hard, hasHard := strings.Cut(limits, ":")
	sn, err1 := strconv.ParseInt(soft, 10, 64)
	hn, err2 := sn, error(nil)
	if hasHard {
		hn, err2 = strconv.ParseInt(hard, 10, 64)
	}
	if !ok || name == "" || err1 != nil || err2 != nil {
		return units.Ulimit{}, errdefs.Invalid("bad ulimit %q: want NAME=SOFT[:HARD]", s)
	}
	return units.Ulimit{Name: name, Soft: sn, Hard: hn}, nil
}

// FormatUlimit writes a limit as Create.Ulimit.
func FormatUlimit(u units.Ulimit) string {
	return u.Name + "=" + strconv.FormatInt(u.Soft, 10) + ":" + strconv.FormatInt(u.Hard, 10)
}

// ParseTmpfs reads Create.Tmpfs, DST[:OPTS].
func ParseTmpfs(s string) (dst, opts string) {
	dst, opts, _ = strings.Cut(s, ":")
	return dst, opts
}

// FormatTmpfs writes a tmpfs mount as Create.Tmpfs.
func FormatTmpfs(dst, opts string) string {
	if opts == "" {
		return dst
	}
	return dst + ":" + opts
}

// winsize reads the ROWS COLS of v, a resize.
func winsize(v Verb, rows, cols string) (uint16, uint16, error) {
	var out [2]uint16
	for i, s := range []string{rows, cols} {
		n, err := strconv.ParseUint(s, 10, 16)
		if err != nil || n == 0 {
			return 0, 0, &ctl.Error{Verb: v.Verb(), Msg: "not a size", Word: s, Usage: Usage(v)}
		}
		out[i] = uint16(n)
	}
	return out[0], out[1], nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
