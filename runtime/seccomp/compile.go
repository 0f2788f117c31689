// Package seccomp holds the containers' system-call filters: Docker's default
// profile and user profiles in Docker's JSON form turned into the OCI spec's
// linux.seccomp (Default, Load), and that turned into the classic BPF program
// the kernel runs (Compile), which the built-in runtime installs; runc and
// crun compile the spec's linux.seccomp themselves, with libseccomp.
//
// The compiler is ours, in Go, so that neither the daemon nor the static
// container init needs cgo and Debian's libseccomp-dev (libseccomp-golang's
// price): golang.org/x/net/bpf assembles and checks the instructions, and the
// system-call tables (names to numbers per architecture, generated from the
// kernel's) come from github.com/elastic/go-seccomp-bpf/arch. That library's
// own policy compiler was not enough: it knows one architecture per filter,
// one errno (EPERM) and no masked compare, all of which Docker's profile
// uses (x86_64 with its x86 and x32 sub-architectures, ENOSYS for clone3,
// SCMP_CMP_MASKED_EQ for clone's namespace flags).
package seccomp

import (
	"fmt"
	"math"
	"slices"

	elasticarch "github.com/elastic/go-seccomp-bpf/arch"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/enginefs/enginefs/errdefs"
)

// Program is a compiled filter: the instructions and the flags of the
// seccomp(2) call that installs it.
type Program struct {
	Filter []unix.SockFilter
	Flags  uint
}

// MaxInstructions is the kernel's limit on a filter's length (BPF_MAXINSNS).
const MaxInstructions = 4096

// Offsets in struct seccomp_data.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// x32Bit marks the system calls of the x32 ABI, which shares x86_64's audit
// architecture.
const x32Bit = 0x40000000

// archInfo is one architecture a filter accepts: its audit id, its table and
// the bit its numbers carry.
type archInfo struct {
	name  specs.Arch
	audit uint32
	names map[string]int
	mask  uint32
	max   int // the highest number in the table
}

var archTables = map[specs.Arch]*elasticarch.Info{
	specs.ArchX86_64:  elasticarch.X86_64,
	specs.ArchX86:     elasticarch.I386,
	specs.ArchX32:     elasticarch.X32,
	specs.ArchAARCH64: elasticarch.AARCH64,
	specs.ArchARM:     elasticarch.ARM,
}

// nativeArch is the architecture of this build (the one the kernel reports
// for the container's processes unless they use a compat ABI).
var nativeArch = map[string]specs.Arch{
	"amd64": specs.ArchX86_64,
	"386":   specs.ArchX86,
	"arm64": specs.ArchAARCH64,
	"arm":   specs.ArchARM,
}

func lookupArch(a specs.Arch) (*archInfo, error) {
	t, ok := archTables[a]
	if !ok {
		return nil, errdefs.Invalid("seccomp: architecture %s is not supported", a)
	}
	info := &archInfo{name: a, audit: uint32(t.ID), names: t.SyscallNames, mask: uint32(t.SeccompMask)}
	for _, n := range t.SyscallNames {
		info.max = max(info.max, n)
	}
	return info, nil
}

// action is the return value of a filter for the spec's action.
func action(a specs.LinuxSeccompAction, errno *uint, def uint) (uint32, error) {
	e := def
	if errno != nil {
		e = *errno
	}
	if e > 0xffff {
		return 0, errdefs.Invalid("seccomp: errno %d is out of range", e)
	}
	switch a {
	case specs.ActKill, specs.ActKillThread:
		return unix.SECCOMP_RET_KILL_THREAD, nil
	case specs.ActKillProcess:
		return unix.SECCOMP_RET_KILL_PROCESS, nil
	case specs.ActTrap:
		return unix.SECCOMP_RET_TRAP, nil
	case specs.ActErrno:
		return unix.SECCOMP_RET_ERRNO | uint32(e), nil
	case specs.ActTrace:
		return unix.SECCOMP_RET_TRACE | uint32(e), nil
	case specs.ActAllow:
		return unix.SECCOMP_RET_ALLOW, nil
	case specs.ActLog:
		return unix.SECCOMP_RET_LOG, nil
	case specs.ActNotify:
		return 0, errdefs.Invalid("seccomp: action %s needs a listener, which the built-in runtime does not offer", a)
	}
	return 0, errdefs.Invalid("seccomp: unknown action %q", a)
}

// Compile turns the spec's filter into a BPF program for this machine's
// architecture and the sub-architectures s lists (x86 and x32 on x86_64):
// a process of an architecture s does not list is killed, as libseccomp
// does. Rules are tried in order: those with argument conditions first, then
// the unconditional ones, and the default action last. A system call whose
// number is above every one the table knows (newer than this program) gets
// ENOSYS rather than the default errno, so that a C library falls back to
// an older call, as runc arranges too. Names the table does not know are
// skipped, as runc skips what libseccomp does not know.
func Compile(s *specs.LinuxSeccomp) (*Program, error) {
	if s == nil {
		return nil, nil
	}
	def, err := action(s.DefaultAction, s.DefaultErrnoRet, uint(unix.EPERM))
	if err != nil {
		return nil, err
	}
	if s.ListenerPath != "" {
		return nil, errdefs.Invalid("seccomp: listenerPath is not supported by the built-in runtime")
	}
	native, ok := nativeArch[goarch]
	if !ok {
		return nil, errdefs.Invalid("seccomp: this build's architecture %s is not supported", goarch)
	}
	names := []specs.Arch{native}
	for _, a := range s.Architectures {
		if !slices.Contains(names, a) {
			names = append(names, a)
		}
	}
	var arches []*archInfo
	for _, n := range names {
		info, err := lookupArch(n)
		if err != nil {
			if n == native {
				return nil, err
			}
			continue // another machine's architecture: not ours to run
		}
		arches = append(arches, info)
	}
	var flags uint
	for _, f := range s.Flags {
		switch f {
		case specs.LinuxSeccompFlagLog:
			flags |= unix.SECCOMP_FILTER_FLAG_LOG
		case specs.LinuxSeccompFlagSpecAllow:
			flags |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		case specs.LinuxSeccompFlagWaitKillableRecv:
			flags |= unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
		default:
			return nil, errdefs.Invalid("seccomp: unknown flag %q", f)
		}
	}

	a := &asm{}
	// One block per audit architecture; x32 lives inside x86_64's.
	var x32 *archInfo
	blocks := map[uint32]label{}
	a.load(offArch)
	for _, info := range arches {
		if info.mask != 0 {
			x32 = info
			continue
		}
		blocks[info.audit] = a.newLabel()
		a.farIf(bpf.JumpEqual, info.audit, blocks[info.audit])
	}
	a.ret(unix.SECCOMP_RET_KILL_PROCESS)
	for _, info := range arches {
		if info.mask != 0 {
			continue
		}
		a.bind(blocks[info.audit])
		a.load(offNr)
		if info.name == specs.ArchX86_64 {
			x32Block := a.newLabel()
			a.farIf(bpf.JumpGreaterOrEqual, x32Bit, x32Block)
			if err := rules(a, s, info, def); err != nil {
				return nil, err
			}
			a.bind(x32Block)
			if x32 == nil {
				a.ret(unix.SECCOMP_RET_KILL_PROCESS)
				continue
			}
			info = x32
		}
		if err := rules(a, s, info, def); err != nil {
			return nil, err
		}
	}
	insns, err := a.assemble()
	if err != nil {
		return nil, err
	}
	if len(insns) > MaxInstructions {
		return nil, errdefs.Invalid("seccomp: the filter has %d instructions, more than the kernel's %d", len(insns), MaxInstructions)
	}
	raw, err := bpf.Assemble(insns)
	if err != nil {
		return nil, errdefs.Invalid("seccomp: %w", err)
	}
	p := &Program{Flags: flags, Filter: make([]unix.SockFilter, len(raw))}
	for i, r := range raw {
		p.Filter[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	return p, nil
}

// rules emits the checks of one architecture, with the system-call number
// loaded, ending in the default action.
func rules(a *asm, s *specs.LinuxSeccomp, info *archInfo, def uint32) error {
	type uncond struct {
		nrs []uint32
		ret uint32
	}
	var plain []uncond
	seen := map[uint32]bool{} // unconditional numbers already placed
	for _, sc := range s.Syscalls {
		ret, err := action(sc.Action, sc.ErrnoRet, uint(unix.EPERM))
		if err != nil {
			return err
		}
		for _, name := range sc.Names {
			n, ok := info.names[name]
			if !ok {
				continue
			}
			nr := uint32(n) | info.mask
			if len(sc.Args) == 0 {
				if seen[nr] {
					continue
				}
				seen[nr] = true
				if len(plain) == 0 || plain[len(plain)-1].ret != ret {
					plain = append(plain, uncond{ret: ret})
				}
				plain[len(plain)-1].nrs = append(plain[len(plain)-1].nrs, nr)
				continue
			}
			if err := conditional(a, nr, sc.Args, ret); err != nil {
				return fmt.Errorf("seccomp: %s: %w", name, err)
			}
		}
	}
	// Unconditional rules in chunks, each ending in its action, so that
	// every conditional jump stays within the 255 instructions BPF allows.
	const chunk = 200
	for _, u := range plain {
		for i := 0; i < len(u.nrs); i += chunk {
			hit, next := a.newLabel(), a.newLabel()
			for _, nr := range u.nrs[i:min(i+chunk, len(u.nrs))] {
				a.jumpIf(bpf.JumpEqual, nr, hit, noLabel)
			}
			a.jump(next)
			a.bind(hit)
			a.ret(u.ret)
			a.bind(next)
		}
	}
	if def != unix.SECCOMP_RET_ALLOW && info.max < math.MaxInt32 {
		newer := a.newLabel()
		after := a.newLabel()
		a.jumpIf(bpf.JumpGreaterThan, uint32(info.max)|info.mask, newer, noLabel)
		a.jump(after)
		a.bind(newer)
		a.ret(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS))
		a.bind(after)
	}
	a.ret(def)
	return nil
}

// conditional emits one rule with argument conditions: when the number is
// nr and every condition holds, return ret; else go on. The number stays in
// the accumulator for the next rule.
func conditional(a *asm, nr uint32, args []specs.LinuxSeccompArg, ret uint32) error {
	if len(args) > 6 {
		return errdefs.Invalid("%d argument conditions, more than the 6 arguments", len(args))
	}
	next, fail := a.newLabel(), a.newLabel()
	a.jumpIf(bpf.JumpEqual, nr, noLabel, next)
	for _, c := range args {
		if c.Index > 5 {
			return errdefs.Invalid("argument index %d is above 5", c.Index)
		}
		lo := uint32(offArgs + 8*c.Index) // little-endian: the low word first
		hi := lo + 4
		vhi, vlo := uint32(c.Value>>32), uint32(c.Value)
		pass := a.newLabel()
		switch c.Op {
		case specs.OpEqualTo:
			a.load(hi)
			a.jumpIf(bpf.JumpEqual, vhi, noLabel, fail)
			a.load(lo)
			a.jumpIf(bpf.JumpEqual, vlo, pass, fail)
		case specs.OpNotEqual:
			a.load(hi)
			a.jumpIf(bpf.JumpEqual, vhi, noLabel, pass)
			a.load(lo)
			a.jumpIf(bpf.JumpEqual, vlo, fail, pass)
		case specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpLessThan, specs.OpLessEqual:
			// The high words decide unless equal; then the low ones do.
			o := ordered[c.Op]
			a.load(hi)
			a.jumpIf(o.strict, vhi, pass, noLabel)
			a.jumpIf(bpf.JumpEqual, vhi, noLabel, fail)
			a.load(lo)
			a.jumpIf(o.low, vlo, pass, fail)
		case specs.OpMaskedEqual:
			// (arg & Value) == ValueTwo
			a.load(hi)
			a.and(vhi)
			a.jumpIf(bpf.JumpEqual, uint32(c.ValueTwo>>32), noLabel, fail)
			a.load(lo)
			a.and(vlo)
			a.jumpIf(bpf.JumpEqual, uint32(c.ValueTwo), pass, fail)
		default:
			return errdefs.Invalid("unknown comparison %q", c.Op)
		}
		a.bind(pass)
	}
	a.ret(ret)
	a.bind(fail)
	a.load(offNr)
	a.bind(next)
	return nil
}

// ordered are the jumps of the ordered comparisons: strict on the high
// words, the operator's own on the low ones.
var ordered = map[specs.LinuxSeccompOperator]struct{ strict, low bpf.JumpTest }{
	specs.OpGreaterThan:  {bpf.JumpGreaterThan, bpf.JumpGreaterThan},
	specs.OpGreaterEqual: {bpf.JumpGreaterThan, bpf.JumpGreaterOrEqual},
	specs.OpLessThan:     {bpf.JumpLessThan, bpf.JumpLessThan},
	specs.OpLessEqual:    {bpf.JumpLessThan, bpf.JumpLessOrEqual},
}
