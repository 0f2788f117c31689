package imagestore

import (
	"errors"
	"strings"
	"testing"

	"github.com/enginefs/enginefs/errdefs"
)

// TestParseReference checks docker's normalisation and the familiar form.
func TestParseReference(t *testing.T) {
	digest := "sha256:" + strings.Repeat("0123456789abcdef", 4)
	cases := []struct{ in, full, familiar string }{
		{"busybox", "index.docker.io/library/busybox:latest", "busybox:latest"},
		{"busybox:latest", "index.docker.io/library/busybox:latest", "busybox:latest"},
		{"docker.io/library/busybox:latest", "index.docker.io/library/busybox:latest", "busybox:latest"},
		{"library/busybox:1.36", "index.docker.io/library/busybox:1.36", "busybox:1.36"},
		{"someone/app:v1", "index.docker.io/someone/app:v1", "someone/app:v1"},
		{"docker.io/library/a/b", "index.docker.io/library/a/b:latest", "library/a/b:latest"},
		{"127.0.0.1:5000/x/y:v1", "127.0.0.1:5000/x/y:v1", "127.0.0.1:5000/x/y:v1"},
		{"localhost/x", "localhost/x:latest", "localhost/x:latest"},
		{"busybox@" + digest, "index.docker.io/library/busybox@" + digest, "busybox@" + digest},
	}
	for _, c := range cases {
		ref, err := ParseReference(c.in)
		if err != nil {
			t.Errorf("ParseReference(%q): %v", c.in, err)
			continue
		}
		if ref.Name() != c.full || Familiar(ref) != c.familiar {
			t.Errorf("ParseReference(%q) = %s, familiar %s; want %s, %s", c.in, ref.Name(), Familiar(ref), c.full, c.familiar)
		}
	}
	for _, bad := range []string{"", "Busybox", "a:b:c", "busybox@sha256:12", "-x", "a..b", "x/-y:1", "x:-tag", strings.Repeat("ab", 32)} {
		_, err := ParseReference(bad)
		if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "invalid reference format") {
			t.Errorf("ParseReference(%q) = %v, want ErrInvalid", bad, err)
			continue
		}
		if bad != "" && !strings.Contains(err.Error(), bad) {
			t.Errorf("ParseReference(%q): %q does not name it", bad, err)
		}
	}
}
