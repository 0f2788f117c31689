package buildctx

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"sort"
	"strings"

	"github.com/enginefs/enginefs/errdefs"
	"golang.org/x/sys/unix"
)

// Source is one resolved COPY or ADD source.
type Source struct {
	// Rel is the source's path under its root as the instruction named
	// it (host separators, one leading "/" and a leading "./" stripped;
	// for a wildcard, the matched path). It may go through symlinks: Copy resolves it again
	// inside the root, and a copied file takes Rel's base name, not its
	// target's.
	Rel string
	// IsDir says the source (after symlinks) is a directory, whose
	// contents are copied.
	IsDir bool
	// Hash is the cache key of the source: "file:<hex>" or "dir:<hex>".
	Hash string
}

// Sources resolves the COPY or ADD source paths patterns in the context
// as docker's legacy builder does (calcCopyInfo); cmd ("COPY" or "ADD")
// starts the error messages. Each path is taken with "/" or the host's
// separator, one leading "/" and a leading "./" stripped; one with a
// wildcard (*, ? or [, not escaped by \) matches, with filepath.Match,
// every path of the context's walk in lexical order, and gives a Source
// per match. A file's Hash is "file:" and its tarsum; a directory's is
// "dir:" and the sha256 of the sorted tarsums of everything under it,
// itself included, joined by ",". Errors, all naming the path as given:
//   - a path leaving the context (symlinks are followed inside it, "/"
//     and ".." stopping at its root): ErrInvalid "COPY failed: forbidden
//     path outside the build context: ../x ()";
//   - a missing path: ErrNotFound "COPY failed: file not found in build
//     context or excluded by .dockerignore: stat foo.txt: file does not
//     exist";
//   - nothing at all to copy: ErrInvalid "COPY failed: no source files
//     were specified".
func (c *Context) Sources(cmd string, patterns []string) ([]Source, error) {
	rootfd, err := openDirPath(c.dir)
	if err != nil {
		return nil, err
	}
	defer unix.Close(rootfd)
	r := &resolver{rootfd: rootfd, cmd: cmd, context: true}
	r.hash = func(orig, rel string) (string, error) {
		// archiveContext.Hash: the sum of the followed path, or the path
		// as asked for when the context has none.
		if s, ok := c.sums[rel]; ok {
			return s, nil
		}
		return orig, nil
	}
	return r.sources(patterns)
}

// RootSources is Sources for COPY --from: root is the root file system of
// the image or stage the files come from. Hashes are computed from the
// files, as docker's lazy source does: tarsum v1 of the header go-archive
// makes from the file's stat (its resolved path as name, its own uid and
// gid) with its security.capability attribute, then its content. A
// missing path is ErrNotFound "COPY failed: stat foo.txt: file does not
// exist" (docker names no build context for --from); the other errors are
// those of Sources.
func RootSources(root, cmd string, patterns []string) ([]Source, error) {
	rootfd, err := openDirPath(root)
	if err != nil {
		return nil, err
	}
	defer unix.Close(rootfd)
	cache := map[string]string{}
	r := &resolver{rootfd: rootfd, cmd: cmd}
	r.hash = func(_, rel string) (string, error) { return lazyHash(rootfd, rel, cache) }
	return r.sources(patterns)
}

// SourcesHash is the source part of a COPY or ADD history line and cache
// key (getSourceHashFromInfos): the one source's Hash, or for several,
// "multi:" and the sha256 of their Hashes joined by ",", in order.
func SourcesHash(srcs []Source) string {
	if len(srcs) == 1 {
		return srcs[0].Hash
	}
	hashes := make([]string, len(srcs))
	for i, s := range srcs {
		hashes[i] = s.Hash
	}
	return hashStrings("multi", hashes)
}

func hashStrings(prefix string, s []string) string {
	sum := sha256.Sum256([]byte(strings.Join(s, ",")))
	return prefix + ":" + hex.EncodeToString(sum[:])
}

// resolver resolves sources under one root.
type resolver struct {
	rootfd  int
	cmd     string
	context bool // a build context (for the not-found message)
	// hash returns the bare hash of the source asked for as orig, whose
	// resolved path is rel.
	hash func(orig, rel string) (string, error)
}

func (r *resolver) sources(patterns []string) ([]Source, error) {
	var out []Source
	for _, p := range patterns {
		orig := filepath.FromSlash(p)
		orig = strings.TrimPrefix(orig, "/")
		orig = strings.TrimPrefix(orig, "./")
		if !hasWildcards(orig) {
			s, err := r.one(orig)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
			continue
		}
		err := walkTree(r.rootfd, ".", func(rel string, _ *unix.Stat_t) error {
			if rel == "." {
				return nil
			}
			if ok, _ := filepath.Match(orig, rel); !ok {
				return nil
			}
			s, err := r.one(rel)
			if err != nil {
				return err
			}
			out = append(out, s)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, errdefs.Invalid("%s failed: no source files were specified", r.cmd)
	}
	return out, nil
}

// one resolves a single path (copyInfoForFile, walkSource).
func (r *resolver) one(orig string) (Source, error) {
	rel, err := resolveInScope(r.rootfd, orig, true)
	if err != nil {
		return Source{}, errdefs.Invalid("%s failed: forbidden path outside the build context: %s ()", r.cmd, orig)
	}
	st, err := lstatAt(r.rootfd, rel)
	if errors.Is(err, unix.ENOENT) {
		if r.context {
			return Source{}, errdefs.NotFound("%s failed: file not found in build context or excluded by .dockerignore: stat %s: file does not exist", r.cmd, orig)
		}
		return Source{}, errdefs.NotFound("%s failed: stat %s: file does not exist", r.cmd, orig)
	}
	if err != nil {
		return Source{}, classify(err, "%s failed: stat %s: %w", r.cmd, orig)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		h, err := r.hash(orig, rel)
		if err != nil {
			return Source{}, classify(err, "%s failed: %w", r.cmd)
		}
		return Source{Rel: orig, Hash: "file:" + h}, nil
	}
	var sums []string
	err = walkTree(r.rootfd, rel, func(p string, _ *unix.Stat_t) error {
		if p == "." {
			return nil
		}
		// Each entry is hashed as a source of its own: symlinks followed.
		target, err := resolveInScope(r.rootfd, p, false)
		if err != nil {
			return nil
		}
		if h, err := r.hash(p, target); err == nil {
			sums = append(sums, h)
		}
		return nil
	})
	if err != nil {
		return Source{}, classify(err, "%s failed: %w", r.cmd)
	}
	sort.Strings(sums)
	return Source{Rel: orig, IsDir: true, Hash: hashStrings("dir", sums)}, nil
}

// hasWildcards is docker's containsWildcards: an unescaped *, ? or [.
func hasWildcards(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '*', '?', '[':
			return true
		}
	}
	return false
}

// walkTree calls fn for rel (a resolved directory or file under rootfd)
// and everything below it, in lexical order like filepath.WalkDir,
// parents before children, never following a symlink. Paths given to fn
// are relative to the root.
func walkTree(rootfd int, rel string, fn func(rel string, st *unix.Stat_t) error) error {
	st, err := lstatAt(rootfd, rel)
	if err != nil {
		return pathErr("lstat", rel, err)
	}
	if err := fn(rel, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil
	}
	fd, err := openat2(rootfd, rel, unix.O_RDONLY|unix.O_DIRECTORY, 0, beneath)
	if err != nil {
		return pathErr("open", rel, err)
	}
	names, err := readNames(fd)
	unix.Close(fd)
	if err != nil {
		return pathErr("readdir", rel, err)
	}
	for _, n := range names {
		if err := walkTree(rootfd, joinRel(rel, n), fn); err != nil {
			return err
		}
	}
	return nil
}
