package runtime

// Warner is implemented by a Process that runs with less than its spec
// asked, where Docker goes on and warns rather than fail: a swap limit on a
// host without swap accounting is the case so far ("Your kernel does not
// support swap limit capabilities or the cgroup is not mounted. Memory
// limited without swap."). The engine shows the warnings as Docker shows
// its own (docker run prints them; the create response carries them).
type Warner interface {
	// Warnings returns one sentence per limitation; nil when none.
	Warnings() []string
}

// SwapLimitWarning is Docker's warning for a memory+swap limit the host
// cannot apply; the runtime applied the memory limit alone.
const SwapLimitWarning = "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap."

// Warnings returns the warnings of p if it has any (see Warner).
func Warnings(p Process) []string {
	if w, ok := p.(Warner); ok {
		return w.Warnings()
	}
	return nil
}
