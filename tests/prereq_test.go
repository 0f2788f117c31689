//go:build linux

package tests

import (
	"os"
	"testing"

	"github.com/enginefs/enginefs/internal/testenv"
)

// TestHostPrerequisites asserts, with no skip, that this host has what the
// suite expects (what `make deps` installs and a machine of the project's
// kind has), so that a missing piece fails once here, by name, instead of
// hiding as skips elsewhere. Only -short, the developer's quick run,
// leaves it out.
func TestHostPrerequisites(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the host's prerequisites are checked by the full suite")
	}
	for _, c := range []struct {
		feature string
		check   func() error
	}{
		{"root", testenv.Root},
		{"/dev/fuse", testenv.FUSE},
		{"overlayfs", testenv.Overlayfs},
		{"nf_tables", testenv.NFTables},
		{"a cgroup file system", testenv.Cgroups},
		{"Debian's busybox-static", testenv.StaticBusybox},
		{"an IPv6 loopback", testenv.IPv6Loopback},
		{"python3-docker", pythonDocker},
		{"the Go toolchain tree at /usr/local/go", func() error { _, err := os.Stat("/usr/local/go/bin/gofmt"); return err }},
	} {
		if err := c.check(); err != nil {
			t.Errorf("%s: %v", c.feature, err)
		}
	}
	for _, b := range []struct{ name, pkg string }{
		{"runc", "runc"}, {"crun", "crun"}, {"diodcat", "diod"}, {"docker-registry", "docker-registry"},
		{"skopeo", "skopeo"}, {"docker-compose", "docker-compose"}, {"script", "bsdutils"},
		{"go", "Go at /usr/local/go"}, {dockerCLI, "the docker CLI 28 of this kind of machine"},
	} {
		if _, err := testenv.Binary(b.name, b.pkg); err != nil {
			t.Error(err)
		}
	}
}
