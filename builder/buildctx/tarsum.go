package buildctx

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

const paxXattr = "SCHILY.xattr."

// writeV1Header writes the header part of docker's tarsum v1 for hdr
// (pkg/tarsum v1TarHeaderSelect): "name", "mode", "uid", "gid", "size",
// "typeflag", "linkname", "uname", "gname", "devmajor" and "devminor",
// each followed by its value in decimal (the type flag as its character),
// with no mtime; then every extended attribute, key then value, sorted by
// key. blankNames writes uname and gname without their values, as the
// tarsum of a context does (pkg/tarsum encodeHeader); the hash of a
// --from source or a download (remotecontext.NewFileHash) keeps them.
func writeV1Header(w io.Writer, hdr *tar.Header, blankNames bool) {
	uname, gname := hdr.Uname, hdr.Gname
	if blankNames {
		uname, gname = "", ""
	}
	for _, f := range [...][2]string{
		{"name", hdr.Name},
		{"mode", strconv.FormatInt(hdr.Mode, 10)},
		{"uid", strconv.Itoa(hdr.Uid)},
		{"gid", strconv.Itoa(hdr.Gid)},
		{"size", strconv.FormatInt(hdr.Size, 10)},
		{"typeflag", string([]byte{hdr.Typeflag})},
		{"linkname", hdr.Linkname},
		{"uname", uname},
		{"gname", gname},
		{"devmajor", strconv.FormatInt(hdr.Devmajor, 10)},
		{"devminor", strconv.FormatInt(hdr.Devminor, 10)},
	} {
		io.WriteString(w, f[0]+f[1])
	}
	var xattrs [][2]string
	for k, v := range hdr.PAXRecords {
		if x, ok := strings.CutPrefix(k, paxXattr); ok {
			if vv, ok := hdr.Xattrs[x]; ok { //nolint:staticcheck // archive/tar gives Xattrs precedence
				v = vv
			}
			xattrs = append(xattrs, [2]string{x, v})
		}
	}
	for k, v := range hdr.Xattrs { //nolint:staticcheck // still filled by tar.Reader
		if _, ok := hdr.PAXRecords[paxXattr+k]; !ok {
			xattrs = append(xattrs, [2]string{k, v})
		}
	}
	sort.Slice(xattrs, func(i, j int) bool { return xattrs[i][0] < xattrs[j][0] })
	for _, x := range xattrs {
		io.WriteString(w, x[0]+x[1])
	}
}

// statHeader builds the tar header go-archive's FileInfoHeader makes for
// a file with this stat under the name rel (a "/" appended for a
// directory): permission and set-id/sticky bits, owner, size of a regular
// file, type, link target, device numbers, no user or group names.
func statHeader(rel string, st *unix.Stat_t, link string) (*tar.Header, error) {
	hdr := &tar.Header{
		Name: rel,
		Mode: int64(st.Mode & 0o7777),
		Uid:  int(st.Uid),
		Gid:  int(st.Gid),
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		hdr.Typeflag = tar.TypeReg
		hdr.Size = st.Size
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
		if !strings.HasSuffix(hdr.Name, "/") {
			hdr.Name += "/"
		}
	case unix.S_IFLNK:
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = link
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor = int64(unix.Major(st.Rdev))
		hdr.Devminor = int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	case unix.S_IFSOCK:
		return nil, errors.New("archive/tar: sockets not supported")
	default:
		return nil, errors.New("archive/tar: unknown file mode")
	}
	return hdr, nil
}

// securityCapability returns the security.capability attribute of name
// under dirfd as go-archive's ReadSecurityXattrToTarHeader stores it
// (VFS_CAP_REVISION_3 turned into revision 2), or nil.
func securityCapability(dirfd int, name string) []byte {
	buf := make([]byte, 256)
	n, err := unix.Lgetxattr(fdPath(dirfd, name), "security.capability", buf)
	if err != nil || n == 0 {
		return nil
	}
	c := buf[:n]
	const revision2, revision3, size2 = 2, 3, 20
	if len(c) > 3 && c[3] == revision3 && len(c) >= size2 {
		c[3] = revision2
		c = c[:size2]
	}
	return c
}

// lazyHash is the hash docker gives a file of a --from source or a
// download (remotecontext lazySource.Hash): tarsum v1 over the file's own
// header (statHeader of its resolved relative path, with
// security.capability) and its content. rel must be resolved (no
// symlinks but possibly a missing last part); a missing file hashes as
// rel itself, as docker's does.
func lazyHash(rootfd int, rel string, cache map[string]string) (string, error) {
	if h, ok := cache[rel]; ok {
		return h, nil
	}
	st, err := lstatAt(rootfd, rel)
	if err != nil {
		return rel, nil
	}
	link := ""
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		if link, err = readlinkAt(rootfd, rel); err != nil {
			return "", pathErr("readlink", rel, err)
		}
	}
	hdr, err := statHeader(rel, &st, link)
	if err != nil {
		return "", errors.New("failed to create hash for " + rel + ": " + err.Error())
	}
	if rel != "." {
		dir, base := splitRel(rel)
		if pfd, err := openat2(rootfd, dir, unix.O_PATH|unix.O_DIRECTORY, 0, beneath); err == nil {
			if c := securityCapability(pfd, base); c != nil {
				hdr.PAXRecords = map[string]string{paxXattr + "security.capability": string(c)}
			}
			unix.Close(pfd)
		}
	}
	h := sha256.New()
	writeV1Header(h, hdr, false)
	if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
		fd, err := openat2(rootfd, rel, unix.O_RDONLY|unix.O_NOFOLLOW, 0, beneath)
		if err != nil {
			return "", classify(&os.PathError{Op: "open", Path: rel, Err: err}, "failed to open %s: %w", rel)
		}
		f := os.NewFile(uintptr(fd), rel)
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", classify(err, "failed to copy file data for %s: %w", rel)
		}
	}
	sum := hex.EncodeToString(h.Sum(nil))
	cache[rel] = sum
	return sum, nil
}
