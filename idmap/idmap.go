// Package idmap holds user-namespace remapping (dockerd's --userns-remap):
// the subordinate id ranges of a user, read from /etc/subuid and
// /etc/subgid, turned into the uid and gid maps of a container's user
// namespace, and a namespace of those maps to idmap mounts with (the image
// layers a remapped container sees owned by its own root).
package idmap

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"

	"github.com/enginefs/enginefs/errdefs"
)

// Range is one line of a map: Size ids from ContainerID in the namespace are
// HostID... on the host.
type Range struct {
	ContainerID, HostID, Size uint32
}

// Remap is a daemon's remapping: the user it is named for and its maps.
type Remap struct {
	User, Group string
	UIDs, GIDs  []Range
}

// RootUID and RootGID are the host ids of the container's root.
func (r *Remap) RootUID() int { return int(r.UIDs[0].HostID) }

// RootGID is the host gid of the container's root group.
func (r *Remap) RootGID() int { return int(r.GIDs[0].HostID) }

// DefaultUser is the user "--userns-remap default" names and creates, as
// dockerd does.
const DefaultUser = "dockremap"

// Files are where the subordinate ids are (a test may point elsewhere).
type Files struct {
	SubUID, SubGID string
}

// SystemFiles are the host's.
var SystemFiles = Files{SubUID: "/etc/subuid", SubGID: "/etc/subgid"}

// Resolve reads the remapping --userns-remap names: USER[:GROUP] (names or
// ids) or "default" (DefaultUser, made with its ranges when missing, as
// dockerd does). The user's ranges in f.SubUID, the group's in f.SubGID, in
// file order, become the maps: the first range holds the container's root.
func Resolve(spec string, f Files) (*Remap, error) {
	if spec == "" {
		return nil, errdefs.Invalid("--userns-remap: empty")
	}
	name, group, _ := strings.Cut(spec, ":")
	if spec == "default" {
		name, group = DefaultUser, DefaultUser
		if err := ensureDefaultUser(f); err != nil {
			return nil, err
		}
	}
	u, err := lookupUser(name)
	if err != nil {
		return nil, err
	}
	if group == "" {
		group = u.Username
	}
	g, err := lookupGroup(group)
	if err != nil {
		return nil, err
	}
	r := &Remap{User: u.Username, Group: g.Name}
	if r.UIDs, err = ranges(f.SubUID, u.Username, u.Uid); err != nil {
		return nil, err
	}
	if r.GIDs, err = ranges(f.SubGID, g.Name, g.Gid); err != nil {
		return nil, err
	}
	return r, nil
}

func lookupUser(name string) (*user.User, error) {
	u, err := user.Lookup(name)
	if err != nil {
		if _, perr := strconv.Atoi(name); perr == nil {
			if u, err = user.LookupId(name); err == nil {
				return u, nil
			}
		}
		return nil, errdefs.Invalid("--userns-remap: user %q: %w", name, err)
	}
	return u, nil
}

func lookupGroup(name string) (*user.Group, error) {
	g, err := user.LookupGroup(name)
	if err != nil {
		if _, perr := strconv.Atoi(name); perr == nil {
			if g, err = user.LookupGroupId(name); err == nil {
				return g, nil
			}
		}
		return nil, errdefs.Invalid("--userns-remap: group %q: %w", name, err)
	}
	return g, nil
}

// maxRanges bounds what a subordinate-id file may give one user.
const maxRanges = 64

// ranges reads the ranges of name (or its numeric id) in file, NAME:START:COUNT
// per line, laid end to end from container id 0.
func ranges(file, name, id string) ([]Range, error) {
	fh, err := os.Open(file)
	if err != nil {
		return nil, errdefs.Invalid("--userns-remap: %w", err)
	}
	defer fh.Close()
	var out []Range
	var next uint64
	sc := bufio.NewScanner(fh)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 3 || (f[0] != name && f[0] != id) {
			continue
		}
		start, err1 := strconv.ParseUint(f[1], 10, 32)
		count, err2 := strconv.ParseUint(f[2], 10, 32)
		if err1 != nil || err2 != nil || count == 0 || start+count > 1<<32-1 || next+count > 1<<32-1 {
			return nil, errdefs.Invalid("--userns-remap: %s line %d: bad range %q", file, n, line)
		}
		if start == 0 {
			return nil, errdefs.Invalid("--userns-remap: %s line %d: a range starting at host id 0 would map the container's root to the host's", file, n)
		}
		if len(out) == maxRanges {
			return nil, errdefs.Invalid("--userns-remap: %s: more than %d ranges for %s", file, maxRanges, name)
		}
		out = append(out, Range{ContainerID: uint32(next), HostID: uint32(start), Size: uint32(count)})
		next += count
	}
	if err := sc.Err(); err != nil {
		return nil, errdefs.Invalid("--userns-remap: %s: %w", file, err)
	}
	if len(out) == 0 {
		return nil, errdefs.Invalid("--userns-remap: no subordinate ids for %s in %s", name, file)
	}
	return out, nil
}

// ensureDefaultUser makes DefaultUser, a system user without a shell, and
// gives it 65536 subordinate ids past every range already given, when it
// has none: dockerd's "default".
func ensureDefaultUser(f Files) error {
	if _, err := user.Lookup(DefaultUser); err != nil {
		if out, err := exec.Command("useradd", "--system", "--shell", "/bin/false", "--user-group", DefaultUser).CombinedOutput(); err != nil {
			return fmt.Errorf("--userns-remap default: useradd %s: %w: %s", DefaultUser, err, out)
		}
	}
	for _, file := range []string{f.SubUID, f.SubGID} {
		if _, err := ranges(file, DefaultUser, ""); err == nil {
			continue
		}
		start, err := firstFree(file)
		if err != nil {
			return err
		}
		flag := "--add-subuids"
		if file == f.SubGID {
			flag = "--add-subgids"
		}
		if file != SystemFiles.SubUID && file != SystemFiles.SubGID {
			return errdefs.Invalid("--userns-remap default: no ranges for %s in %s", DefaultUser, file)
		}
		r := fmt.Sprintf("%d-%d", start, start+65535)
		if out, err := exec.Command("usermod", flag, r, DefaultUser).CombinedOutput(); err != nil {
			return fmt.Errorf("--userns-remap default: usermod %s %s: %w: %s", flag, r, err, out)
		}
	}
	return nil
}

// firstFree is the first multiple of 65536, from 100000, past every range
// in file.
func firstFree(file string) (uint64, error) {
	data, err := os.ReadFile(file)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, err
	}
	end := uint64(100000)
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(strings.TrimSpace(line), ":")
		if len(f) != 3 {
			continue
		}
		s, err1 := strconv.ParseUint(f[1], 10, 32)
		c, err2 := strconv.ParseUint(f[2], 10, 32)
		if err1 == nil && err2 == nil && s+c > end {
			end = s + c
		}
	}
	return end, nil
}

// holdEnv marks a process started only to hold a user namespace open.
const holdEnv = "_ENGINEFS_IDMAP_HOLD"

func init() {
	// A process NewUserns started: wait until the parent has opened the
	// namespace, then go (before anything else of the program runs).
	if os.Getenv(holdEnv) == "1" {
		var b [1]byte
		_, _ = os.Stdin.Read(b[:])
		os.Exit(0)
	}
}

// NewUserns makes a user namespace with r's maps and returns it opened: the
// namespace lives while the file is open. (A process is started in it, as a
// copy of this program that only waits, and ends once it is open.)
func (r *Remap) NewUserns() (*os.File, error) {
	pid, done, err := r.Spawn(0)
	if err != nil {
		return nil, err
	}
	defer done()
	ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/user", pid))
	if err != nil {
		return nil, fmt.Errorf("user namespace: %w", err)
	}
	return ns, nil
}

// Spawn starts a process in a new user namespace of r's maps, and in new
// namespaces of the other clone flags (CLONE_NEWNET: a network namespace
// that user namespace owns), for the caller to bind or open its namespaces
// (/proc/PID/ns/...) before calling done, which ends it.
func (r *Remap) Spawn(flags uintptr) (pid int, done func(), err error) {
	self, err := os.Executable()
	if err != nil {
		return 0, nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = []string{holdEnv + "=1"}
	in, err := cmd.StdinPipe()
	if err != nil {
		return 0, nil, err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER | flags, Pdeathsig: syscall.SIGKILL}
	for _, m := range r.UIDs {
		cmd.SysProcAttr.UidMappings = append(cmd.SysProcAttr.UidMappings, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
	}
	for _, m := range r.GIDs {
		cmd.SysProcAttr.GidMappings = append(cmd.SysProcAttr.GidMappings, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
	}
	if err := cmd.Start(); err != nil {
		return 0, nil, fmt.Errorf("user namespace: %w", err)
	}
	return cmd.Process.Pid, func() { in.Close(); _ = cmd.Wait() }, nil
}

// ToContainer maps host ids to the container's: what a remapped container
// wrote goes into an image with the ids it saw. Ids outside the maps (made
// by the daemon, not the container) stay as they are.
func (r *Remap) ToContainer(uid, gid int) (int, int) {
	return back(r.UIDs, uid), back(r.GIDs, gid)
}

func back(rs []Range, id int) int {
	for _, m := range rs {
		if id >= int(m.HostID) && id < int(m.HostID)+int(m.Size) {
			return id - int(m.HostID) + int(m.ContainerID)
		}
	}
	return id
}
