package runtime

import (
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// SecurityOptions names, as docker's GET /info does, the confinement that
// Spec gives a container by default: "name=seccomp,profile=builtin" for a
// seccomp filter, "name=apparmor" and "name=selinux" for a profile or
// label, "name=userns" and "name=cgroupns" for those namespaces. It reads
// them off a default spec, so it names what containers get, not what is
// planned; capabilities and masked paths have no entry in docker's list.
func SecurityOptions() []string {
	s, err := Spec(SpecOptions{ID: "security-options", Args: []string{"true"}})
	if err != nil {
		return []string{} // cannot happen: the options are constant
	}
	return securityOptions(s)
}

// securityOptions is SecurityOptions of the spec s.
func securityOptions(s *specs.Spec) []string {
	out := []string{}
	if s.Process != nil && s.Process.ApparmorProfile != "" {
		out = append(out, "name=apparmor")
	}
	if s.Linux == nil {
		return out
	}
	if s.Linux.Seccomp != nil {
		out = append(out, "name=seccomp,profile=builtin")
	}
	if s.Process != nil && s.Process.SelinuxLabel != "" {
		out = append(out, "name=selinux")
	}
	has := func(t specs.LinuxNamespaceType) bool {
		return slices.ContainsFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == t })
	}
	if has(specs.UserNamespace) {
		out = append(out, "name=userns")
	}
	if has(specs.CgroupNamespace) {
		out = append(out, "name=cgroupns")
	}
	return out
}
