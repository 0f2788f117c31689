package buildctx

import (
	"errors"
	"io"
	"os"
	"path/filepath"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"golang.org/x/sys/unix"
)

// IgnoreFile is the name of the file that lists what a build context
// leaves out.
const IgnoreFile = ".dockerignore"

// DefaultDockerfile is the Dockerfile's name when none is given.
const DefaultDockerfile = "Dockerfile"

// ReadIgnoreFile reads .dockerignore patterns as docker does
// (patternmatcher's ignorefile.ReadAll): "#" lines are comments, lines are
// trimmed and blank ones skipped, "!" negates, and each pattern is
// cleaned, slash-separated and stripped of a leading "/". A read error is
// ErrInvalid "error reading .dockerignore: ...".
func ReadIgnoreFile(r io.Reader) ([]string, error) {
	patterns, err := ignorefile.ReadAll(r)
	if err != nil {
		return nil, errdefs.Invalid("error reading .dockerignore: %w", err)
	}
	return patterns, nil
}

// Open opens the file name (slash-separated, relative to the context)
// for reading, resolving symlinks inside the context as docker does for
// the Dockerfile (FollowSymlinkInScope). A missing file is ErrNotFound.
func (c *Context) Open(name string) (*os.File, error) {
	rootfd, err := openDirPath(c.dir)
	if err != nil {
		return nil, err
	}
	defer unix.Close(rootfd)
	rel, err := resolveInScope(rootfd, filepath.FromSlash(name), true)
	if err != nil {
		return nil, errdefs.Invalid("forbidden path outside the build context: %s ()", name)
	}
	fd, err := openat2(rootfd, rel, unix.O_RDONLY, 0, beneath)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

// RemoveIgnored does the one .dockerignore filtering the daemon does
// (remotecontext removeDockerfile): if the context has a .dockerignore
// whose patterns match (patternmatcher.MatchesOrParentMatches)
// ".dockerignore" or dockerfile (its path in the context, default
// "Dockerfile"), those are deleted from the context, so COPY cannot see
// them. Everything else the client sent stays: the client did the rest of
// the filtering. Call it after the Dockerfile has been read.
func (c *Context) RemoveIgnored(dockerfile string) error {
	if dockerfile == "" {
		dockerfile = DefaultDockerfile
	}
	f, err := c.Open(IgnoreFile)
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	patterns, err := ReadIgnoreFile(f)
	f.Close()
	if err != nil {
		return err
	}
	rootfd, err := openDirPath(c.dir)
	if err != nil {
		return err
	}
	defer unix.Close(rootfd)
	for _, name := range []string{IgnoreFile, dockerfile} {
		rm, _ := patternmatcher.MatchesOrParentMatches(name, patterns)
		if !rm {
			continue
		}
		// Like docker's archiveContext.Remove: the path resolved in the
		// context, then removed with everything below it.
		rel, err := resolveInScope(rootfd, filepath.FromSlash(name), true)
		if err != nil || rel == "." {
			continue
		}
		dir, base := splitRel(rel)
		pfd, err := openat2(rootfd, dir, unix.O_PATH|unix.O_DIRECTORY, 0, beneath)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return pathErr("remove", name, err)
		}
		err = removeAt(pfd, base)
		unix.Close(pfd)
		if err != nil {
			return pathErr("remove", name, err)
		}
	}
	return nil
}
