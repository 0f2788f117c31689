package imageref

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/enginefs/enginefs/errdefs"
)

var hex64 = strings.Repeat("0123456789abcdef", 4)

// refs are real references (docker's documentation, the tests', the
// registry's) and the odd ones the fuzzer starts from.
var refs = []string{
	"busybox", "busybox:latest", "docker.io/library/busybox", "index.docker.io/library/busybox:1.36",
	"someone/app:v1", "127.0.0.1:5000/busybox", "localhost:5000/a/b:tag@sha256:" + hex64,
	"localhost/x", "ghcr.io/o/r/s:v1.2.3-rc.1_x", "busybox@sha256:" + hex64, "docker.io/a.b/c",
	"docker.io/localhost/x", "[::1]:5000/a", "Busybox", "busybox:", ":tag", "a//b", "a/-b", "a__b.c-d",
	"busybox:" + strings.Repeat("t", 128), hex64, "x/" + strings.Repeat("a", 253),
}

// TestFamiliarRoundTrip: the short form docker prints reads back as the
// same reference, a Docker Hub repository whose first component looks
// like a registry included.
func TestFamiliarRoundTrip(t *testing.T) {
	for _, tc := range []struct{ in, familiar string }{
		{"docker.io/library/busybox", "busybox:latest"},
		{"index.docker.io/someone/app:v1", "someone/app:v1"},
		{"localhost:5000/a/b@sha256:" + hex64, "localhost:5000/a/b@sha256:" + hex64},
		{"docker.io/a.b/c", "docker.io/a.b/c:latest"},
		{"docker.io/localhost/x:1", "docker.io/localhost/x:1"},
		{"docker.io/library/a.b", "a.b:latest"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			ref, err := Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := Familiar(ref); got != tc.familiar {
				t.Errorf("Familiar(%q) = %q, want %q", tc.in, got, tc.familiar)
			}
			back, err := Parse(Familiar(ref))
			if err != nil || back.Name() != ref.Name() {
				t.Errorf("Parse(%q) = %v, %v; want %s", Familiar(ref), back, err, ref.Name())
			}
		})
	}
}

// TestCaps: a repository name over MaxNameLength characters (its
// registry included) and a tag over 128 are refused, naming the cap.
func TestCaps(t *testing.T) {
	ok := []string{"x/" + strings.Repeat("a", MaxNameLength-2), "b:" + strings.Repeat("t", 128),
		strings.Repeat("r", 200) + ".io/" + strings.Repeat("a", 255-204), "docker.io/library/" + strings.Repeat("a", 247)}
	for _, s := range ok {
		if _, err := Parse(s); err != nil {
			t.Errorf("Parse(%.40q...): %v", s, err)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"x/" + strings.Repeat("a", MaxNameLength-1), "MaxNameLength"},
		{strings.Repeat("r", 300) + ".io/x", "MaxNameLength"},
		{strings.Repeat("r", 250) + ".io/library/x:v1", "MaxNameLength"},
		{"docker.io/library/" + strings.Repeat("a", 248), "MaxNameLength"},
		{strings.Repeat("a", 250), "MaxNameLength"},
		{"b:" + strings.Repeat("t", 129), "MaxTagLength"},
	} {
		_, err := Parse(tc.in)
		if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%.40q...) = %v, want invalid naming %s", tc.in, err, tc.want)
		}
	}
}

// FuzzReference: Parse never panics and refuses with errdefs.ErrInvalid;
// a parsed reference is a tag or a digest within the caps, its full name
// and its short form parse back to the same reference, and the short form
// of that is the same short form.
func FuzzReference(f *testing.F) {
	for _, s := range refs {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := Parse(s)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Fatalf("Parse(%q): %v is not ErrInvalid", s, err)
			}
			return
		}
		switch r := ref.(type) {
		case name.Tag:
			if n := len(r.TagStr()); n < 1 || n > 128 {
				t.Fatalf("Parse(%q): tag of %d characters", s, n)
			}
		case name.Digest:
		default:
			t.Fatalf("Parse(%q) is a %T", s, ref)
		}
		if n := len(familiarName(ref.Context())); n > MaxNameLength {
			t.Fatalf("Parse(%q): a name of %d characters", s, n)
		}
		for _, c := range strings.Split(ref.Context().RepositoryStr(), "/") {
			if !pathComponent().MatchString(c) {
				t.Fatalf("Parse(%q): component %q", s, c)
			}
		}
		full, err := Parse(ref.Name())
		if err != nil || full.Name() != ref.Name() {
			t.Fatalf("Parse(%q) = %v, %v; want %s (from %q)", ref.Name(), full, err, ref.Name(), s)
		}
		short := Familiar(ref)
		back, err := Parse(short)
		if err != nil || back.Name() != ref.Name() {
			t.Fatalf("Parse(Familiar) = Parse(%q) = %v, %v; want %s (from %q)", short, back, err, ref.Name(), s)
		}
		if again := Familiar(back); again != short {
			t.Fatalf("Familiar not stable: %q then %q (from %q)", short, again, s)
		}
		if strings.HasPrefix(short, "index.docker.io/") || strings.HasPrefix(short, "docker.io/library/") {
			t.Fatalf("Familiar(%q) = %q keeps the default registry", s, short)
		}
	})
}
