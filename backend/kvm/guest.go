package kvm

import (
	"encoding/binary"
	"fmt"
)

// The guest program: a few dozen arm64 instructions, encoded here, that run
// on every vCPU at EL1 with interrupts masked (PSTATE.I, KVM's reset value)
// and serve the host's requests for the CPU interface. Its set-up leaves the
// CPU interface as a guest OS leaves it after init (model.Backend's
// contract): system registers enabled, Group 1 enabled, ICC_PMR_EL1 = 0xFF,
// no active priority.
//
// The host talks to it through two MMIO addresses with nothing behind them,
// so every access exits to userspace (KVM_EXIT_MMIO):
//
//	x0 + 0  read:  the next request: op in bits 7:0, argument in bits 63:32
//	x0 + 8  write: the reply to that request
//
// x0 is set by the host before the first KVM_RUN. Between requests a vCPU
// is parked at the request read, outside KVM_RUN (doc.go says why).
//
// Requests (guestOp):
//
//	ack   reply ICC_IAR1_EL1 (acknowledge: 1023 when nothing qualifies)
//	eoi   ICC_EOIR1_EL1 = argument, reply 0
//	pmr   ICC_PMR_EL1 = argument, reply 0
//	hold  reply 0, then stay in the guest (WFI loop) until the host stops
//	      the vCPU: only for testing the stop path (export_test.go)
//	rpr   reply ICC_RPR_EL1 (running priority)
//	none  (any other op) reply ~0: a round trip that changes nothing, so
//	      that KVM runs its entry and exit work for the vCPU
//	      (flush_linux_arm64.go)
type guestOp uint8

const (
	opNone guestOp = 0
	opAck  guestOp = 1
	opEOI  guestOp = 2
	opPMR  guestOp = 3
	opHold guestOp = 4
	opRPR  guestOp = 5
)

// guestRequest returns the value the request read returns for op and arg.
func guestRequest(op guestOp, arg uint32) uint64 { return uint64(arg)<<32 | uint64(op) }

// Instruction is one encoded instruction with its assembly text.
type instruction struct {
	Word uint32
	Asm  string
}

// sysreg names a system register by its (op0, op1, CRn, CRm, op2)
// encoding (Arm ARM, "System register encoding").
type sysreg struct {
	name                    string
	op0, op1, crn, crm, op2 uint32
}

var (
	iccSRE     = sysreg{"ICC_SRE_EL1", 3, 0, 12, 12, 5}
	iccIGRPEN1 = sysreg{"ICC_IGRPEN1_EL1", 3, 0, 12, 12, 7}
	iccPMR     = sysreg{"ICC_PMR_EL1", 3, 0, 4, 6, 0}
	iccIAR1    = sysreg{"ICC_IAR1_EL1", 3, 0, 12, 12, 0}
	iccEOIR1   = sysreg{"ICC_EOIR1_EL1", 3, 0, 12, 12, 1}
	iccRPR     = sysreg{"ICC_RPR_EL1", 3, 0, 12, 11, 3}
)

func (s sysreg) bits() uint32 { return s.op0<<19 | s.op1<<16 | s.crn<<12 | s.crm<<8 | s.op2<<5 }

// Encoders, one per instruction form (Arm ARM C6 "A64 Base Instruction
// Descriptions"). Registers are numbers; 31 is xzr where the form allows.
func movz(rd, imm uint32) instruction {
	return instruction{0xD2800000 | (imm&0xFFFF)<<5 | rd, fmt.Sprintf("movz x%d, #%#x", rd, imm)}
}
func movnZero(rd uint32) instruction {
	return instruction{0x92800000 | rd, fmt.Sprintf("movn x%d, #0", rd)}
}
func msr(s sysreg, rt uint32) instruction {
	return instruction{0xD5000000 | s.bits() | rt, fmt.Sprintf("msr %s, %s", s.name, xreg(rt))}
}
func mrs(rt uint32, s sysreg) instruction {
	return instruction{0xD5200000 | s.bits() | rt, fmt.Sprintf("mrs x%d, %s", rt, s.name)}
}
func isb() instruction { return instruction{0xD5033FDF, "isb"} }
func wfi() instruction { return instruction{0xD503207F, "wfi"} }
func ldr(rt, rn, off uint32) instruction {
	return instruction{0xF9400000 | (off/8)<<10 | rn<<5 | rt, fmt.Sprintf("ldr x%d, [x%d, #%d]", rt, rn, off)}
}
func str(rt, rn, off uint32) instruction {
	return instruction{0xF9000000 | (off/8)<<10 | rn<<5 | rt, fmt.Sprintf("str %s, [x%d, #%d]", xreg(rt), rn, off)}
}

// andLow8 is AND xd, xn, #0xff: logical immediate N=1, immr=0, imms=7.
func andLow8(rd, rn uint32) instruction {
	return instruction{0x92401C00 | rn<<5 | rd, fmt.Sprintf("and x%d, x%d, #0xff", rd, rn)}
}

// lsr32 is LSR xd, xn, #32, the alias of UBFM xd, xn, #32, #63.
func lsr32(rd, rn uint32) instruction {
	return instruction{0xD360FC00 | rn<<5 | rd, fmt.Sprintf("lsr x%d, x%d, #32", rd, rn)}
}

// cmpImm is CMP xn, #imm, the alias of SUBS xzr, xn, #imm.
func cmpImm(rn, imm uint32) instruction {
	return instruction{0xF100001F | (imm&0xFFF)<<10 | rn<<5, fmt.Sprintf("cmp x%d, #%d", rn, imm)}
}

func xreg(r uint32) string {
	if r == 31 {
		return "xzr"
	}
	return fmt.Sprintf("x%d", r)
}

// program assembles instructions with forward and backward branches to
// labels.
type program struct {
	insts  []instruction
	labels map[string]int
	fixups []fixup
}

type fixup struct {
	at    int
	label string
	cond  bool // b.eq rather than b
}

func (p *program) emit(i instruction) { p.insts = append(p.insts, i) }
func (p *program) label(name string) {
	if p.labels == nil {
		p.labels = map[string]int{}
	}
	p.labels[name] = len(p.insts)
}
func (p *program) b(label string) {
	p.fixups = append(p.fixups, fixup{len(p.insts), label, false})
	p.emit(instruction{Asm: "b " + label})
}
func (p *program) beq(label string) {
	p.fixups = append(p.fixups, fixup{len(p.insts), label, true})
	p.emit(instruction{Asm: "b.eq " + label})
}

func (p *program) link() []instruction {
	for _, f := range p.fixups {
		target, ok := p.labels[f.label]
		if !ok {
			panic("kvm: guest program: no label " + f.label)
		}
		off := uint32(int32(target - f.at))
		if f.cond {
			p.insts[f.at].Word = 0x54000000 | (off&0x7FFFF)<<5 // B.cond, cond EQ = 0
		} else {
			p.insts[f.at].Word = 0x14000000 | off&0x3FFFFFF // B
		}
	}
	return p.insts
}

// guestProgram returns the guest program and the index of the instruction
// at its request loop (where a stopped vCPU is sent back to).
func guestProgram() (insts []instruction, loop int) {
	const (
		x0, x1, x2, x3, x4 = 0, 1, 2, 3, 4
		xzr                = 31
	)
	var p program
	p.emit(movz(x1, 7))         // SRE | DFB | DIB: system-register CPU interface
	p.emit(msr(iccSRE, x1))     // ICC_SRE_EL1 = 7
	p.emit(isb())               // make SRE take effect before the next ICC_ access
	p.emit(movz(x1, 1))         // x1 = 1: Enable
	p.emit(msr(iccIGRPEN1, x1)) // enable Group 1 interrupts (LPIs are Group 1)
	p.emit(movz(x1, 0xFF))      // x1 = 0xFF: the lowest priority mask
	p.emit(msr(iccPMR, x1))     // unmask every priority, as an OS leaves it (KVM resets PMR to 0)
	p.emit(isb())               // synchronise the system register writes
	p.label("loop")
	p.emit(ldr(x1, x0, 0))             // request: MMIO read, the vCPU parks here
	p.emit(andLow8(x2, x1))            // x2 = op
	p.emit(lsr32(x3, x1))              // x3 = argument
	p.emit(movnZero(x4))               // reply ~0 to an unknown op
	p.emit(cmpImm(x2, uint32(opAck)))  // op == ack?
	p.beq("ack")                       // read IAR
	p.emit(cmpImm(x2, uint32(opEOI)))  // op == eoi?
	p.beq("eoi")                       // write EOIR
	p.emit(cmpImm(x2, uint32(opPMR)))  // op == pmr?
	p.beq("pmr")                       // write PMR
	p.emit(cmpImm(x2, uint32(opHold))) // op == hold?
	p.beq("hold")                      // stay in the guest
	p.emit(cmpImm(x2, uint32(opRPR)))  // op == rpr?
	p.beq("rpr")                       // read RPR
	p.b("reply")                       // send x4
	p.label("ack")
	p.emit(mrs(x4, iccIAR1)) // acknowledge: highest-priority pending INTID, or 1023
	p.b("reply")             // send x4
	p.label("eoi")
	p.emit(msr(iccEOIR1, x3)) // priority drop and deactivation (EOImode 0)
	p.emit(isb())             // synchronise the system register write
	p.emit(movz(x4, 0))       // reply 0: done
	p.b("reply")              // send x4
	p.label("pmr")
	p.emit(msr(iccPMR, x3)) // priority mask
	p.emit(isb())           // synchronise the system register write
	p.emit(movz(x4, 0))     // reply 0: done
	p.b("reply")            // send x4
	p.label("rpr")
	p.emit(mrs(x4, iccRPR)) // running priority
	p.b("reply")            // send x4
	p.label("hold")
	p.emit(str(xzr, x0, 8)) // reply 0, then stay in the guest
	p.label("idle")
	p.emit(wfi()) // until the host stops the vCPU
	p.b("idle")   // and again
	p.label("reply")
	p.emit(str(x4, x0, 8)) // reply: MMIO write
	p.b("loop")            // next request
	return p.link(), p.labels["loop"]
}

// guestImage returns the guest program as bytes to copy into guest memory.
func guestImage() (image []byte, loopOffset uint64) {
	insts, loop := guestProgram()
	image = make([]byte, 4*len(insts))
	for i, in := range insts {
		binary.LittleEndian.PutUint32(image[4*i:], in.Word)
	}
	return image, uint64(4 * loop)
}
