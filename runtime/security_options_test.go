package runtime

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestSecurityOptions: each confinement of a spec has its entry, and a
// spec without one has none (today's default: docker's seccomp filter; no
// AppArmor or SELinux, no user or cgroup namespace).
func TestSecurityOptions(t *testing.T) {
	if got := SecurityOptions(); !slices.Equal(got, []string{"name=seccomp,profile=builtin"}) {
		t.Errorf("SecurityOptions() = %q; the default spec has docker's seccomp filter only", got)
	}
	s0, err := Spec(SpecOptions{ID: "x", Args: []string{"true"}, Seccomp: "unconfined"})
	if err != nil {
		t.Fatal(err)
	}
	if got := securityOptions(s0); !slices.Equal(got, []string{}) {
		t.Errorf("unconfined: securityOptions = %q, want none", got)
	}
	s, err := Spec(SpecOptions{ID: "x", Args: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActErrno}
	s.Process.ApparmorProfile = "docker-default"
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace}, specs.LinuxNamespace{Type: specs.UserNamespace})
	want := []string{"name=apparmor", "name=seccomp,profile=builtin", "name=userns", "name=cgroupns"}
	if got := securityOptions(s); !slices.Equal(got, want) {
		t.Errorf("securityOptions = %q, want %q", got, want)
	}
}
