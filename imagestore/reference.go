package imagestore

import (
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/imagestore/imageref"
)

// ParseReference parses s as an image reference the way docker does
// (imageref.Parse): a missing registry is docker.io, a missing namespace on
// docker.io is "library/", a missing tag is "latest"; errdefs.ErrInvalid
// for a malformed one.
func ParseReference(s string) (name.Reference, error) { return imageref.Parse(s) }

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

// Familiar returns ref in the short form docker prints (imageref.Familiar).
func Familiar(ref name.Reference) string { return imageref.Familiar(ref) }

// refKey is the key a tag is stored under: its fully qualified form, so the
// spellings of one reference share a key.
func refKey(t name.Tag) string { return t.Name() }

// isHex reports whether s is non-empty and all lower-case hexadecimal digits.
func isHex(s string) bool { return imageref.IsHex(s) }
