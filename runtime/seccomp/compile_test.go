package seccomp

import (
	"encoding/binary"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// call is one system call as the filter sees it.
type call struct {
	arch uint32
	nr   uint32
	args [6]uint64
}

// run evaluates the program on c in x/net/bpf's VM. The VM loads words big
// endian, so each 32-bit field of seccomp_data is laid out that way: the
// program reads the same values the kernel gives it.
func run(t *testing.T, p *Program, c call) uint32 {
	t.Helper()
	raw := make([]bpf.RawInstruction, len(p.Filter))
	for i, f := range p.Filter {
		raw[i] = bpf.RawInstruction{Op: f.Code, Jt: f.Jt, Jf: f.Jf, K: f.K}
	}
	insns, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatalf("the program does not disassemble")
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatalf("NewVM: %v", err)
	}
	data := make([]byte, 64)
	binary.BigEndian.PutUint32(data[0:], c.nr)
	binary.BigEndian.PutUint32(data[4:], c.arch)
	for i, a := range c.args {
		binary.BigEndian.PutUint32(data[16+8*i:], uint32(a))
		binary.BigEndian.PutUint32(data[20+8*i:], uint32(a>>32))
	}
	out, err := vm.Run(data)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return uint32(out)
}

const (
	auditX86_64 = 0xc000003e
	auditI386   = 0x40000003
	auditARM64  = 0xc00000b7
	allow       = unix.SECCOMP_RET_ALLOW
	eperm       = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	enosys      = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	kill        = unix.SECCOMP_RET_KILL_PROCESS
)

func defaultSpec(caps []string) *specs.Spec {
	return &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps}}}
}

var dockerCaps = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}

func compileDefault(t *testing.T, caps []string) *Program {
	t.Helper()
	if goarch != "amd64" {
		t.Skipf("the cases are x86_64 system-call numbers; this is %s", goarch)
	}
	prof, err := Default(defaultSpec(caps))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(prof)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Filter) > MaxInstructions {
		t.Fatalf("%d instructions", len(p.Filter))
	}
	return p
}

// TestDefaultProfile checks Docker's default profile, compiled, against the
// answers docker gives in a default container.
func TestDefaultProfile(t *testing.T) {
	p := compileDefault(t, dockerCaps)
	cases := []struct {
		name string
		c    call
		want uint32
	}{
		{"read", call{arch: auditX86_64, nr: unix.SYS_READ}, allow},
		{"execve", call{arch: auditX86_64, nr: unix.SYS_EXECVE}, allow},
		{"add_key", call{arch: auditX86_64, nr: unix.SYS_ADD_KEY}, eperm},
		{"keyctl", call{arch: auditX86_64, nr: unix.SYS_KEYCTL}, eperm},
		{"request_key", call{arch: auditX86_64, nr: unix.SYS_REQUEST_KEY}, eperm},
		{"unshare", call{arch: auditX86_64, nr: unix.SYS_UNSHARE, args: [6]uint64{unix.CLONE_NEWUSER}}, eperm},
		{"mount", call{arch: auditX86_64, nr: unix.SYS_MOUNT}, eperm},
		{"kexec_load", call{arch: auditX86_64, nr: unix.SYS_KEXEC_LOAD}, eperm},
		{"init_module", call{arch: auditX86_64, nr: unix.SYS_INIT_MODULE}, eperm},
		{"clone thread", call{arch: auditX86_64, nr: unix.SYS_CLONE, args: [6]uint64{unix.CLONE_VM | unix.CLONE_THREAD | unix.CLONE_SIGHAND}}, allow},
		{"clone newuser", call{arch: auditX86_64, nr: unix.SYS_CLONE, args: [6]uint64{unix.CLONE_NEWUSER | uint64(unix.SIGCHLD)}}, eperm},
		{"clone newns high word", call{arch: auditX86_64, nr: unix.SYS_CLONE, args: [6]uint64{1<<32 | uint64(unix.SIGCHLD)}}, allow},
		{"clone3", call{arch: auditX86_64, nr: unix.SYS_CLONE3}, enosys},
		{"personality linux", call{arch: auditX86_64, nr: unix.SYS_PERSONALITY, args: [6]uint64{0}}, allow},
		{"personality query", call{arch: auditX86_64, nr: unix.SYS_PERSONALITY, args: [6]uint64{0xffffffff}}, allow},
		{"personality other", call{arch: auditX86_64, nr: unix.SYS_PERSONALITY, args: [6]uint64{0x0040000}}, eperm},
		{"personality high word", call{arch: auditX86_64, nr: unix.SYS_PERSONALITY, args: [6]uint64{1 << 32}}, eperm},
		{"newer than the table", call{arch: auditX86_64, nr: 1000}, enosys},
		{"i386 read", call{arch: auditI386, nr: 3}, allow},
		{"i386 keyctl", call{arch: auditI386, nr: 288}, eperm},
		{"x32 read", call{arch: auditX86_64, nr: x32Bit | 0}, allow},
		{"x32 keyctl", call{arch: auditX86_64, nr: x32Bit | 250}, eperm},
		{"another architecture", call{arch: auditARM64, nr: 63}, kill},
	}
	for _, tc := range cases {
		if got := run(t, p, tc.c); got != tc.want {
			t.Errorf("%s: got %#x, want %#x", tc.name, got, tc.want)
		}
	}
}

// TestDefaultProfileSysAdmin: CAP_SYS_ADMIN opens what docker opens with
// it (mount, unshare, clone with namespace flags, clone3).
func TestDefaultProfileSysAdmin(t *testing.T) {
	p := compileDefault(t, append(dockerCaps[:len(dockerCaps):len(dockerCaps)], "CAP_SYS_ADMIN"))
	for _, c := range []call{
		{arch: auditX86_64, nr: unix.SYS_MOUNT},
		{arch: auditX86_64, nr: unix.SYS_UNSHARE},
		{arch: auditX86_64, nr: unix.SYS_CLONE, args: [6]uint64{unix.CLONE_NEWUSER}},
		{arch: auditX86_64, nr: unix.SYS_CLONE3},
	} {
		if got := run(t, p, c); got != allow {
			t.Errorf("syscall %d: got %#x, want allow", c.nr, got)
		}
	}
	if got := run(t, p, call{arch: auditX86_64, nr: unix.SYS_KEYCTL}); got != eperm {
		t.Errorf("keyctl with CAP_SYS_ADMIN: got %#x, want EPERM (docker keeps it denied)", got)
	}
}

// TestCompileOps checks every comparison on 64-bit values around their
// edges, against Go's own comparison.
func TestCompileOps(t *testing.T) {
	if goarch != "amd64" {
		t.Skipf("x86_64 numbers; this is %s", goarch)
	}
	values := []uint64{0, 1, 5, 0xffffffff, 1 << 32, 1<<32 | 5, 5 << 32, ^uint64(0)}
	ops := map[specs.LinuxSeccompOperator]func(a, v, v2 uint64) bool{
		specs.OpEqualTo:      func(a, v, _ uint64) bool { return a == v },
		specs.OpNotEqual:     func(a, v, _ uint64) bool { return a != v },
		specs.OpGreaterThan:  func(a, v, _ uint64) bool { return a > v },
		specs.OpGreaterEqual: func(a, v, _ uint64) bool { return a >= v },
		specs.OpLessThan:     func(a, v, _ uint64) bool { return a < v },
		specs.OpLessEqual:    func(a, v, _ uint64) bool { return a <= v },
		specs.OpMaskedEqual:  func(a, v, v2 uint64) bool { return a&v == v2 },
	}
	for op, want := range ops {
		for _, v := range values {
			v2 := v & 0x5_0000_0005
			p, err := Compile(&specs.LinuxSeccomp{
				DefaultAction: specs.ActErrno,
				Syscalls: []specs.LinuxSyscall{{
					Names: []string{"read"}, Action: specs.ActAllow,
					Args: []specs.LinuxSeccompArg{{Index: 2, Value: v, ValueTwo: v2, Op: op}},
				}},
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range values {
				got := run(t, p, call{arch: auditX86_64, nr: unix.SYS_READ, args: [6]uint64{2: a}}) == allow
				if got != want(a, v, v2) {
					t.Errorf("%s arg=%#x value=%#x value2=%#x: allowed=%v", op, a, v, v2, got)
				}
			}
		}
	}
}

// TestCompileRefuses: what cannot be applied is refused, not dropped.
func TestCompileRefuses(t *testing.T) {
	for name, s := range map[string]*specs.LinuxSeccomp{
		"notify":       {DefaultAction: specs.ActNotify},
		"unknown act":  {DefaultAction: "SCMP_ACT_MAYBE"},
		"bad op":       {DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Op: "SCMP_CMP_SOMETIMES"}}}}},
		"bad index":    {DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}}},
		"unknown flag": {DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_MAGIC"}},
	} {
		if _, err := Compile(s); err == nil {
			t.Errorf("%s: compiled", name)
		}
	}
}
