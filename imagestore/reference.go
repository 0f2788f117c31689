package imagestore

import (
	"regexp"
	"strings"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
)

// ParseReference parses s as an image reference the way docker does: a
// missing registry is docker.io, a missing namespace on docker.io is
// "library/", a missing tag is "latest". So "busybox", "busybox:latest" and
// "docker.io/library/busybox:latest" are the same reference. The result is a
// name.Tag or a name.Digest ("busybox@sha256:<hex>"). A malformed reference,
// and a 64-hex-digit repository name (docker reserves those for ids), is an
// error of class errdefs.ErrInvalid naming s.
func ParseReference(s string) (name.Reference, error) {
	if s == "" {
		return nil, errdefs.Invalid("invalid reference format: empty reference")
	}
	if isHex(s) && len(s) == 64 {
		return nil, errdefs.Invalid("invalid reference format %q: a repository name cannot be 64 hexadecimal characters (that is an image id)", s)
	}
	ref, err := name.ParseReference(s, name.WithDefaultRegistry(name.DefaultRegistry), name.WithDefaultTag(name.DefaultTag))
	if err != nil {
		return nil, errdefs.Invalid("invalid reference format %q: %w", s, err)
	}
	// go-containerregistry checks only the characters; docker also wants
	// each path component to start and end with a letter or digit.
	for _, c := range strings.Split(ref.Context().RepositoryStr(), "/") {
		if !pathComponent.MatchString(c) {
			return nil, errdefs.Invalid("invalid reference format %q: repository path component %q must be lower-case letters and digits separated by '.', '_', '__' or dashes", s, c)
		}
	}
	if t, ok := ref.(name.Tag); ok && !tagPattern.MatchString(t.TagStr()) {
		return nil, errdefs.Invalid("invalid reference format %q: tag %q must start with a letter, digit or '_'", s, t.TagStr())
	}
	return ref, nil
}

// Docker's grammar for repository path components and tags
// (distribution/reference).
var (
	pathComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$`)
	tagPattern    = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
)

// parseTag parses s as a tag reference (not a digest); errdefs.ErrInvalid
// otherwise.
func parseTag(s string) (name.Tag, error) {
	ref, err := ParseReference(s)
	if err != nil {
		return name.Tag{}, err
	}
	tag, ok := ref.(name.Tag)
	if !ok {
		return name.Tag{}, errdefs.Invalid("reference %q is a digest, not a tag", s)
	}
	return tag, nil
}

// Familiar returns ref in the short form docker prints: without the default
// registry and without "library/" on it ("busybox:latest",
// "someone/app:v1", "127.0.0.1:5000/x/y:v1", "busybox@sha256:<hex>").
func Familiar(ref name.Reference) string {
	repo := ref.Context()
	s := repo.RepositoryStr()
	switch repo.RegistryStr() {
	case name.DefaultRegistry, "docker.io":
		if rest, ok := strings.CutPrefix(s, "library/"); ok && !strings.Contains(rest, "/") {
			s = rest
		}
	default:
		s = repo.RegistryStr() + "/" + s
	}
	switch r := ref.(type) {
	case name.Tag:
		return s + ":" + r.TagStr()
	case name.Digest:
		return s + "@" + r.DigestStr()
	}
	return s
}

// refKey is the key a tag is stored under: its fully qualified form, so the
// spellings of one reference share a key.
func refKey(t name.Tag) string { return t.Name() }

// isHex reports whether s is non-empty and all lower-case hexadecimal digits.
func isHex(s string) bool {
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
