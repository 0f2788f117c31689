package buildctx

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/enginefs/enginefs/errdefs"
	"golang.org/x/sys/unix"
)

// ResolveChown turns a --chown value "user[:group]" into numeric ids as
// docker's parseChownFlag does: a value alone names the user and the
// group (--chown=app looks up group app too); a number is taken as it is;
// a name is looked up in root's /etc/passwd or /etc/group (the
// destination image's, resolved inside root), the first matching line
// winning. Failures are ErrInvalid with docker's text, e.g. "unable to
// convert uid/gid chown string to host mapping: can't find uid for user
// foo: no such user: foo".
func ResolveChown(root, spec string) (uid, gid int, err error) {
	const prefix = "unable to convert uid/gid chown string to host mapping"
	parts := strings.Split(spec, ":")
	if len(parts) > 2 {
		return 0, 0, errdefs.Invalid("%s: invalid chown string format: %s", prefix, spec)
	}
	userStr, groupStr := parts[0], parts[0]
	if len(parts) == 2 {
		groupStr = parts[1]
	}
	rootfd, err := openDirPath(root)
	if err != nil {
		return 0, 0, err
	}
	defer unix.Close(rootfd)
	uid, err = lookupID(rootfd, "/etc/passwd", userStr, "user", 2)
	if err != nil {
		return 0, 0, errdefs.Invalid("%s: can't find uid for user %s: %v", prefix, userStr, err)
	}
	gid, err = lookupID(rootfd, "/etc/group", groupStr, "group", 2)
	if err != nil {
		return 0, 0, errdefs.Invalid("%s: can't find gid for group %s: %v", prefix, groupStr, err)
	}
	return uid, gid, nil
}

// lookupID returns name as a number, or the number in field idField of
// the first line of the colon-separated database file (in root) whose
// first field is name (moby/sys/user's parsing: lines trimmed, blank ones
// skipped, a malformed number read as 0).
func lookupID(rootfd int, file, name, what string, idField int) (int, error) {
	if id, err := strconv.Atoi(name); err == nil {
		if id < 0 {
			return 0, fmt.Errorf("invalid %s id %d", what, id)
		}
		return id, nil
	}
	f, err := openInRoot(rootfd, file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(io.LimitReader(f, 64<<20))
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		line := bytes.TrimSpace(s.Bytes())
		if len(line) == 0 {
			continue
		}
		fields := strings.Split(string(line), ":")
		if fields[0] != name {
			continue
		}
		id := 0
		if len(fields) > idField {
			id, _ = strconv.Atoi(fields[idField])
		}
		return id, nil
	}
	if err := s.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no such %s: %s", what, name)
}

// openInRoot opens the file p of the tree at rootfd for reading, symlinks
// resolved inside it; errors name p as seen inside the root.
func openInRoot(rootfd int, p string) (*os.File, error) {
	fd, err := openat2(rootfd, p, unix.O_RDONLY, 0, inRoot)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	return os.NewFile(uintptr(fd), p), nil
}

// ParseChmod reads a --chmod value: an octal number up to 07777. The set-
// user-id, set-group-id and sticky bits become os.ModeSetuid, os.ModeSetgid
// and os.ModeSticky. Anything else is ErrInvalid.
func ParseChmod(s string) (os.FileMode, error) {
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o7777 {
		return 0, errdefs.Invalid("invalid chmod parameter: %s", s)
	}
	m := os.FileMode(n & 0o777)
	if n&unix.S_ISUID != 0 {
		m |= os.ModeSetuid
	}
	if n&unix.S_ISGID != 0 {
		m |= os.ModeSetgid
	}
	if n&unix.S_ISVTX != 0 {
		m |= os.ModeSticky
	}
	return m, nil
}
