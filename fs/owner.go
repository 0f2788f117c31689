package fs

import (
	"context"
	"os"
	"syscall"
)

// Owner is who makes a file through a transport: the uid and gid of the
// calling process as FUSE reports it, or those a 9P client sends with
// Tlcreate, Tmkdir and Tsymlink. A HostDir gives what it creates to the
// owner, as a file system does to the process that creates a file (the
// daemon itself runs as root).
type Owner struct {
	UID, GID uint32
	// HasUID and HasGID say which of the two the transport knows.
	HasUID, HasGID bool
}

type ownerKey struct{}

// WithOwner returns ctx carrying the owner of what is created under it.
func WithOwner(ctx context.Context, o Owner) context.Context {
	return context.WithValue(ctx, ownerKey{}, o)
}

// OwnerOf returns the owner ctx carries (none: the daemon's own).
func OwnerOf(ctx context.Context) Owner {
	o, _ := ctx.Value(ownerKey{}).(Owner)
	return o
}

// SpecialMode returns the os.FileMode of the setuid, setgid and sticky
// bits of a Unix mode (S_ISUID, S_ISGID, S_ISVTX), which os.FileMode keeps
// elsewhere than Unix does.
func SpecialMode(unix uint32) os.FileMode {
	var m os.FileMode
	if unix&syscall.S_ISUID != 0 {
		m |= os.ModeSetuid
	}
	if unix&syscall.S_ISGID != 0 {
		m |= os.ModeSetgid
	}
	if unix&syscall.S_ISVTX != 0 {
		m |= os.ModeSticky
	}
	return m
}

// UnixSpecial is the inverse of SpecialMode: the S_ISUID, S_ISGID and
// S_ISVTX bits of m.
func UnixSpecial(m os.FileMode) uint32 {
	var u uint32
	if m&os.ModeSetuid != 0 {
		u |= syscall.S_ISUID
	}
	if m&os.ModeSetgid != 0 {
		u |= syscall.S_ISGID
	}
	if m&os.ModeSticky != 0 {
		u |= syscall.S_ISVTX
	}
	return u
}

// modeBits are the bits of a mode a HostDir sets: permissions and the
// special bits.
const modeBits = os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky

// settle gives a file just created in a directory of mode parent the
// owner of ctx and exactly mode (the client applied its umask; the
// daemon's own does not count), as a file system does: in a setgid
// directory the group is the directory's, and a new directory is setgid
// too. The chown comes first: it clears setuid and setgid.
func settle(ctx context.Context, f *os.File, parent os.FileMode, mode os.FileMode, dir bool) error {
	o := OwnerOf(ctx)
	uid, gid := -1, -1
	if o.HasUID {
		uid = int(o.UID)
	}
	if o.HasGID && parent&os.ModeSetgid == 0 {
		gid = int(o.GID)
	}
	if uid != -1 || gid != -1 {
		if err := f.Chown(uid, gid); err != nil {
			return err
		}
	}
	if dir && parent&os.ModeSetgid != 0 {
		mode |= os.ModeSetgid
	}
	return f.Chmod(mode & modeBits)
}
