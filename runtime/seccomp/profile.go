package seccomp

import (
	goruntime "runtime"

	dockerseccomp "github.com/docker/docker/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/enginefs/enginefs/errdefs"
)

var goarch = goruntime.GOARCH

// Default is Docker's default profile for a process of the spec s (which
// must have its capabilities set): the system calls every container may
// make, plus those its bounding capabilities open (CAP_SYS_ADMIN's mount,
// unshare, clone with namespace flags…), for this machine's architectures
// and kernel. Everything else fails with EPERM.
func Default(s *specs.Spec) (*specs.LinuxSeccomp, error) {
	if s == nil || s.Process == nil || s.Process.Capabilities == nil {
		return nil, errdefs.Invalid("seccomp: the default profile needs the process's capabilities")
	}
	p, err := dockerseccomp.GetDefaultProfile(s)
	if err != nil {
		return nil, errdefs.Invalid("seccomp: default profile: %w", err)
	}
	return p, nil
}

// MaxProfile caps the size of a profile a client may send (Docker's default
// profile is about 20 KiB of JSON).
const MaxProfile = 1 << 20

// Load reads a profile in Docker's JSON form (docker run --security-opt
// seccomp=FILE sends the file's content), with its includes and excludes
// resolved against the spec's capabilities as for the default. A profile
// that would not compile is refused here, before any container exists.
func Load(profile string, s *specs.Spec) (*specs.LinuxSeccomp, error) {
	if len(profile) > MaxProfile {
		return nil, errdefs.Invalid("seccomp: profile of %d bytes, over the %d allowed", len(profile), MaxProfile)
	}
	if s == nil || s.Process == nil || s.Process.Capabilities == nil {
		return nil, errdefs.Invalid("seccomp: a profile needs the process's capabilities")
	}
	p, err := dockerseccomp.LoadProfile(profile, s)
	if err != nil {
		return nil, errdefs.Invalid("seccomp: %w", err)
	}
	if p == nil {
		return nil, nil
	}
	if _, err := Compile(p); err != nil {
		return nil, err
	}
	return p, nil
}
