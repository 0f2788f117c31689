package seccomp

import (
	"golang.org/x/net/bpf"

	"github.com/enginefs/enginefs/errdefs"
)

// label names an instruction position before it is known.
type label int

// noLabel, as a jump target, is the next instruction.
const noLabel label = -1

// insn is an instruction whose jumps name labels.
type insn struct {
	ins      bpf.Instruction
	jt, jf   label // conditional jumps
	ja       label // an unconditional jump
	isJumpIf bool
	cond     bpf.JumpTest
	val      uint32
}

// asm assembles a program with symbolic jumps.
type asm struct {
	insns  []insn
	labels []int // position of each label; -1 until bound
}

func (a *asm) newLabel() label {
	a.labels = append(a.labels, -1)
	return label(len(a.labels) - 1)
}

func (a *asm) bind(l label) { a.labels[l] = len(a.insns) }

func (a *asm) emit(i bpf.Instruction) {
	a.insns = append(a.insns, insn{ins: i, jt: noLabel, jf: noLabel, ja: noLabel})
}

// load puts the 32-bit word at off of struct seccomp_data in the accumulator.
func (a *asm) load(off uint32) { a.emit(bpf.LoadAbsolute{Off: off, Size: 4}) }

func (a *asm) and(v uint32) { a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: v}) }

func (a *asm) ret(v uint32) { a.emit(bpf.RetConstant{Val: v}) }

// jumpIf jumps to t when the accumulator compares true with v, else to f;
// both must lie within 255 instructions.
func (a *asm) jumpIf(c bpf.JumpTest, v uint32, t, f label) {
	a.insns = append(a.insns, insn{isJumpIf: true, cond: c, val: v, jt: t, jf: f, ja: noLabel})
}

// jump jumps to l, however far.
func (a *asm) jump(l label) { a.insns = append(a.insns, insn{ja: l, jt: noLabel, jf: noLabel}) }

// farIf jumps to t, however far, when the comparison is true.
func (a *asm) farIf(c bpf.JumpTest, v uint32, t label) {
	skip := a.newLabel()
	a.jumpIf(c, v, noLabel, skip)
	a.jump(t)
	a.bind(skip)
}

// assemble resolves the labels.
func (a *asm) assemble() ([]bpf.Instruction, error) {
	out := make([]bpf.Instruction, len(a.insns))
	dist := func(i int, l label) (int, error) {
		if l == noLabel {
			return 0, nil
		}
		pos := a.labels[l]
		if pos < 0 {
			return 0, errdefs.Invalid("seccomp: internal error: label %d not bound", l)
		}
		d := pos - i - 1
		if d < 0 {
			return 0, errdefs.Invalid("seccomp: internal error: backward jump")
		}
		return d, nil
	}
	for i, in := range a.insns {
		switch {
		case in.isJumpIf:
			t, err := dist(i, in.jt)
			if err != nil {
				return nil, err
			}
			f, err := dist(i, in.jf)
			if err != nil {
				return nil, err
			}
			if t > 255 || f > 255 {
				return nil, errdefs.Invalid("seccomp: a rule is too large for a BPF conditional jump")
			}
			out[i] = bpf.JumpIf{Cond: in.cond, Val: in.val, SkipTrue: uint8(t), SkipFalse: uint8(f)}
		case in.ja != noLabel:
			d, err := dist(i, in.ja)
			if err != nil {
				return nil, err
			}
			out[i] = bpf.Jump{Skip: uint32(d)}
		default:
			out[i] = in.ins
		}
	}
	return out, nil
}
