// Package imageref parses image references as docker does and prints them
// in docker's short form. It is the part of imagestore a client needs (dctl
// checks a reference before it asks the daemon), kept apart so that a
// client links no image store.
package imageref

import (
	"regexp"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/enginefs/enginefs/errdefs"
)

// Parse parses s as an image reference the way docker does: a
// missing registry is docker.io, a missing namespace on docker.io is
// "library/", a missing tag is "latest". So "busybox", "busybox:latest" and
// "docker.io/library/busybox:latest" are the same reference. The result is a
// name.Tag or a name.Digest ("busybox@sha256:<hex>"). A malformed reference,
// and a 64-hex-digit repository name (docker reserves those for ids), is an
// error of class errdefs.ErrInvalid naming s.
func Parse(s string) (name.Reference, error) {
	if s == "" {
		return nil, errdefs.Invalid("invalid reference format: empty reference")
	}
	if IsHex(s) && len(s) == 64 {
		return nil, errdefs.Invalid("invalid reference format %q: a repository name cannot be 64 hexadecimal characters (that is an image id)", s)
	}
	if err := checkWritten(s); err != nil {
		return nil, err
	}
	ref, err := name.ParseReference(s, name.WithDefaultRegistry(name.DefaultRegistry), name.WithDefaultTag(name.DefaultTag))
	if err != nil {
		return nil, errdefs.Invalid("invalid reference format %q: %w", s, err)
	}
	// go-containerregistry checks only the characters; docker also wants
	// each path component to start and end with a letter or digit.
	for _, c := range strings.Split(ref.Context().RepositoryStr(), "/") {
		if !pathComponent().MatchString(c) {
			return nil, errdefs.Invalid("invalid reference format %q: repository path component %q must be lower-case letters and digits separated by '.', '_', '__' or dashes", s, c)
		}
	}
	if t, ok := ref.(name.Tag); ok && !tagPattern().MatchString(t.TagStr()) {
		return nil, errdefs.Invalid("invalid reference format %q: tag %q must start with a letter, digit or '_'", s, t.TagStr())
	}
	// The full path (library/busybox) and the short name with its
	// registry (localhost:5000/a), so that every spelling of a reference
	// is taken or refused alike.
	repo := ref.Context()
	for _, n := range []string{repo.RepositoryStr(), familiarName(repo)} {
		if len(n) > MaxNameLength {
			return nil, errdefs.Invalid("invalid reference format %.80q...: a repository name of %d characters (%.40s...), over the cap of %d (MaxNameLength)", s, len(n), n, MaxNameLength)
		}
	}
	return ref, nil
}

// The caps of the distribution spec (distribution/reference's
// NameTotalLengthMax and its tag grammar).
const (
	// MaxNameLength caps a repository's path in full ("library/busybox"
	// of "busybox") and its name in docker's short form, registry included
	// ("localhost:5000/a/b" of "localhost:5000/a/b:v1").
	MaxNameLength = 255
	// MaxTagLength caps a tag.
	MaxTagLength = 128
)

// checkWritten checks the tag and the repository path of s, as written,
// against MaxTagLength and MaxNameLength before s is parsed
// (go-containerregistry checks them too, with an error that names no cap).
func checkWritten(s string) error {
	n, _, _ := strings.Cut(s, "@")
	if i := strings.LastIndexByte(n, ':'); i >= 0 && !strings.Contains(n[i+1:], "/") {
		if tag := n[i+1:]; len(tag) > MaxTagLength {
			return errdefs.Invalid("invalid reference format %.80q...: a tag of %d characters, over the cap of %d (MaxTagLength)", s, len(tag), MaxTagLength)
		}
		n = n[:i]
	}
	// As go-containerregistry splits a name: a first component that is
	// localhost or holds a '.' or ':' is a registry.
	if first, rest, ok := strings.Cut(n, "/"); ok && (first == "localhost" || strings.ContainsAny(first, ".:")) {
		n = rest
	}
	if len(n) > MaxNameLength {
		return errdefs.Invalid("invalid reference format %.80q...: a repository path of %d characters, over the cap of %d (MaxNameLength)", s, len(n), MaxNameLength)
	}
	return nil
}

// Docker's grammar for repository path components and tags
// (distribution/reference), compiled on first use: a client that starts for
// one command should not pay for them at every start.
var (
	pathComponent = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$`)
	})
	tagPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[\w][\w.-]*$`) })
)

// Familiar returns ref in the short form docker prints: without the default
// registry and without "library/" on it ("busybox:latest",
// "someone/app:v1", "127.0.0.1:5000/x/y:v1", "busybox@sha256:<hex>").
//
// A Docker Hub repository whose first component would read as a registry
// ("docker.io/a.b/c", "docker.io/localhost/x") keeps "docker.io/", so that
// Parse(Familiar(ref)) is ref.
func Familiar(ref name.Reference) string {
	s := familiarName(ref.Context())
	switch r := ref.(type) {
	case name.Tag:
		return s + ":" + r.TagStr()
	case name.Digest:
		return s + "@" + r.DigestStr()
	}
	return s
}

// familiarName is a repository's name in docker's short form, without a
// tag or digest.
func familiarName(repo name.Repository) string {
	s := repo.RepositoryStr()
	switch repo.RegistryStr() {
	case name.DefaultRegistry, "docker.io":
		if rest, ok := strings.CutPrefix(s, "library/"); ok && !strings.Contains(rest, "/") {
			return rest
		}
		// A first component that Parse would read as a registry.
		if first, _, ok := strings.Cut(s, "/"); ok && (first == "localhost" || strings.ContainsAny(first, ".:")) {
			return "docker.io/" + s
		}
		return s
	}
	return repo.RegistryStr() + "/" + s
}

// IsHex reports whether s is non-empty and all lower-case hexadecimal digits.
func IsHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
