package buildctx

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/moby/patternmatcher"
	"golang.org/x/sys/unix"
)

// TarDir writes to w the build context tar of the directory dir, as the
// docker CLI makes it: the files .dockerignore leaves in, except that
// .dockerignore and the Dockerfile (dockerfile, relative to dir or an
// absolute path inside it; default "Dockerfile") are always sent, as
// docker's TrimBuildFilesFromExcludes makes sure, for the daemon to read
// and then drop. Entries come in lexical walk order with uid and gid 0
// and no user or group names, mode and mtime (whole seconds) of the file,
// symlinks as they are, a second name of a hard-linked file as a hard link
// and the security.capability attribute; the tar is not compressed. A
// directory excluded as a whole is walked only when a "!" exception could
// match below it, exactly as go-archive's TarWithOptions decides.
// Sockets, devices and fifos are left out (the daemon refuses them).
// A Dockerfile outside dir is ErrInvalid; read errors keep their class.
func TarDir(ctx context.Context, dir, dockerfile string, w io.Writer) error {
	return TarDirWith(ctx, dir, dockerfile, nil, w)
}

// TarDirWith is TarDir with files added after dir's: a Dockerfile that
// is not in dir (the docker CLI's -f outside the context, or -f - from
// STDIN), under a name of extra's. A nil content adds nothing.
func TarDirWith(ctx context.Context, dir, dockerfile string, extra map[string][]byte, w io.Writer) error {
	if dockerfile == "" {
		dockerfile = DefaultDockerfile
	}
	if filepath.IsAbs(dockerfile) {
		rel, err := filepath.Rel(dir, dockerfile)
		if err != nil {
			return errdefs.Invalid("the Dockerfile (%s) must be within the build context", dockerfile)
		}
		dockerfile = rel
	}
	dockerfile = filepath.Clean(dockerfile)
	if _, added := extra[dockerfile]; !added && (dockerfile == ".." || strings.HasPrefix(dockerfile, "../")) {
		return errdefs.Invalid("the Dockerfile (%s) must be within the build context", dockerfile)
	}
	excludes, err := readDirIgnore(dir)
	if err != nil {
		return err
	}
	excludes = trimBuildFiles(excludes, dockerfile)
	pm, err := patternmatcher.New(excludes)
	if err != nil {
		return errdefs.Invalid("invalid .dockerignore pattern: %w", err)
	}
	t := &tarWalker{ctx: ctx, root: dir, pm: pm, tw: tar.NewWriter(w), seen: map[[2]uint64]string{}}
	if err := filepath.WalkDir(dir, t.visit); err != nil {
		return err
	}
	if err := addFiles(t.tw, extra); err != nil {
		return err
	}
	if err := t.tw.Close(); err != nil {
		return classify(err, "build context: %w")
	}
	return nil
}

// readDirIgnore reads dir/.dockerignore as the docker CLI does (following
// a symlink); a missing one excludes nothing.
func readDirIgnore(dir string) ([]string, error) {
	f, err := os.Open(filepath.Join(dir, IgnoreFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, classify(err, "%w")
	}
	defer f.Close()
	return ReadIgnoreFile(f)
}

// trimBuildFiles is the docker CLI's TrimBuildFilesFromExcludes: when the
// patterns exclude .dockerignore or the Dockerfile, an exception for it is
// appended.
func trimBuildFiles(excludes []string, dockerfile string) []string {
	if keep, _ := patternmatcher.Matches(IgnoreFile, excludes); keep {
		excludes = append(excludes, "!"+IgnoreFile)
	}
	dockerfile = filepath.ToSlash(dockerfile)
	if keep, _ := patternmatcher.Matches(dockerfile, excludes); keep {
		excludes = append(excludes, "!"+dockerfile)
	}
	return excludes
}

// tarWalker is the state of one TarDir: go-archive's Tarballer.Do with a
// single include of ".".
type tarWalker struct {
	ctx        context.Context
	root       string
	pm         *patternmatcher.PatternMatcher
	tw         *tar.Writer
	seen       map[[2]uint64]string // device and inode of a hard-linked file -> its first name
	parentDirs []string
	parentInfo []patternmatcher.MatchInfo
}

func (t *tarWalker) visit(p string, d fs.DirEntry, err error) error {
	if err != nil {
		return classify(err, "build context: %w")
	}
	if err := t.ctx.Err(); err != nil {
		return classify(err, "build context: %w")
	}
	rel, err := filepath.Rel(t.root, p)
	if err != nil || rel == "." {
		return nil
	}
	for len(t.parentDirs) > 0 && !strings.HasPrefix(rel, t.parentDirs[len(t.parentDirs)-1]+"/") {
		t.parentDirs = t.parentDirs[:len(t.parentDirs)-1]
		t.parentInfo = t.parentInfo[:len(t.parentInfo)-1]
	}
	parent := patternmatcher.MatchInfo{}
	if n := len(t.parentInfo); n > 0 {
		parent = t.parentInfo[n-1]
	}
	skip, info, err := t.pm.MatchesUsingParentResults(rel, parent)
	if err != nil {
		return errdefs.Invalid("matching %s against .dockerignore: %w", rel, err)
	}
	if d.IsDir() {
		t.parentDirs = append(t.parentDirs, rel)
		t.parentInfo = append(t.parentInfo, info)
	}
	if skip {
		if !d.IsDir() {
			return nil
		}
		if !t.pm.Exclusions() {
			return filepath.SkipDir
		}
		for _, pat := range t.pm.Patterns() {
			if pat.Exclusion() && strings.HasPrefix(pat.String()+"/", rel+"/") {
				return nil // an exception may match below: walk on, without the directory's own entry
			}
		}
		return filepath.SkipDir
	}
	return t.add(p, rel)
}

// add writes the entry of the file at p named rel.
func (t *tarWalker) add(p, rel string) error {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return pathErr("lstat", p, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFDIR, unix.S_IFLNK:
	default:
		return nil
	}
	link := ""
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		l, err := os.Readlink(p)
		if err != nil {
			return classify(err, "build context: %w")
		}
		link = l
	}
	hdr, err := statHeader(filepath.ToSlash(rel), &st, link)
	if err != nil {
		return errdefs.Invalid("build context: %s: %v", rel, err)
	}
	hdr.Format = tar.FormatPAX
	hdr.ModTime = time.Unix(st.Mtim.Unix()).Truncate(time.Second)
	hdr.Uid, hdr.Gid = 0, 0
	dir, base := filepath.Split(p)
	if pfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
		if c := securityCapability(pfd, base); c != nil {
			hdr.PAXRecords = map[string]string{paxXattr + "security.capability": string(c)}
		}
		unix.Close(pfd)
	}
	if hdr.Typeflag != tar.TypeDir && st.Nlink > 1 {
		key := [2]uint64{st.Dev, st.Ino}
		if first, ok := t.seen[key]; ok {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
		} else {
			t.seen[key] = hdr.Name
		}
	}
	if err := t.tw.WriteHeader(hdr); err != nil {
		return classify(err, "build context: %s: %w", rel)
	}
	if hdr.Typeflag != tar.TypeReg || hdr.Size == 0 {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return classify(err, "build context: %w")
	}
	defer f.Close()
	n, err := io.Copy(t.tw, io.LimitReader(f, hdr.Size))
	if err != nil {
		return classify(err, "build context: %s: %w", rel)
	}
	if n != hdr.Size {
		return errdefs.Unavailable("build context: %s changed size while being sent", rel)
	}
	return nil
}

// WriteFiles writes a tar of the files given (name to content, mode 0600,
// uid and gid 0, in name order): a context of a Dockerfile alone, as the
// docker CLI sends for `docker build - < Dockerfile`.
func WriteFiles(w io.Writer, files map[string][]byte) error {
	tw := tar.NewWriter(w)
	if err := addFiles(tw, files); err != nil {
		return err
	}
	return tw.Close()
}

// addFiles adds the files with content to tw.
func addFiles(tw *tar.Writer, files map[string][]byte) error {
	now := time.Now().Truncate(time.Second)
	for _, name := range slices.Sorted(maps.Keys(files)) {
		data := files[name]
		if data == nil {
			continue
		}
		hdr := &tar.Header{Name: name, Mode: 0o600, Size: int64(len(data)), ModTime: now, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return classify(err, "build context: %s: %w", name)
		}
		if _, err := tw.Write(data); err != nil {
			return classify(err, "build context: %s: %w", name)
		}
	}
	return nil
}
