package model

import "fmt"

// This file is the GICv4.0 vocabulary beyond the V* commands
// (vcommand.go): the registers of a redistributor's VLPI_base frame, the
// vPE table entry and the virtual ITE of the simulator's IMPLEMENTATION
// DEFINED tables, and the virtual CPU interface a backend with vPEs offers.

// GICv4ITSTyper is the GITS_TYPER of the simulator's GICv4.0 ITS:
// [KVMITSTyper] with Virtual (bit 1) and VMOVP (bit 37) set and 12-byte
// ITT entries, room for the virtual ITE ([VirtualITE]).
const GICv4ITSTyper = KVMITSTyper&^(0xF<<4) | 1<<1 | (VirtualITESize-1)<<4 | 1<<37

// VMOVP reports GITS_TYPER.VMOVP (bit 37): VMOVP needs no ITSList and
// SequenceNumber, the ITS tells the others itself.
func (t ITSTyper) VMOVP() bool { return t>>37&1 != 0 }

// VLPI_base frame registers, as offsets from RD_base: a GICv4
// redistributor's third 64 KiB frame, at RD_base + 0x20000 (IHI 0069,
// 12.11; GICv4.0 forms).
const (
	GICR_VLPI_base  GICRRegister = 0x20000
	GICR_VPROPBASER GICRRegister = GICR_VLPI_base + 0x70
	GICR_VPENDBASER GICRRegister = GICR_VLPI_base + 0x78
)

// GICR_TYPER bits a GICv4 redistributor adds: VLPIS (virtual LPIs
// supported) and Dirty (GICR_VPENDBASER.Dirty is implemented).
const (
	GICR_TYPER_VLPIS = uint64(1) << 1
	GICR_TYPER_Dirty = uint64(1) << 2
)

// VPropBaser is a GICR_VPROPBASER value in its GICv4.0 form: the virtual
// LPI configuration table of the vPE scheduled on this redistributor, one
// byte per vINTID from 8192, as [PropBaser] for physical LPIs.
//
//	 63    52 51              12 11:10 9:7 6:5  4      0
//	+--------+-------------------+-----+---+----+--------+
//	|  RES0  | Physical_Address  | Sh  |Inn|    | IDbits |
//	+--------+-------------------+-----+---+----+--------+
type VPropBaser uint64

// MakeVPropBaser returns GICR_VPROPBASER for a table at addr (4 KiB
// aligned) covering vINTIDs below 2^idBits (14..32).
func MakeVPropBaser(addr GPA, idBits int) (VPropBaser, error) {
	p, err := MakePropBaser(addr, idBits)
	if err != nil {
		return 0, fmt.Errorf("GICR_VPROPBASER: %w", err)
	}
	return VPropBaser(p), nil
}

func (p VPropBaser) Addr() GPA   { return PropBaser(p).Addr() }
func (p VPropBaser) IDBits() int { return PropBaser(p).IDBits() }

// VPendBaser is a GICR_VPENDBASER value in its GICv4.0 form: the virtual
// LPI pending table of the vPE scheduled on this redistributor (Valid),
// which is how a GICv4.0 redistributor knows a vPE.
//
//	 63   62   61    60   59 58:56 55 52 51               16 15:12 11:10 9:7
//	+-----+----+-----+-----+--+-----+-----+------------------+-----+-----+---+
//	|Valid|IDAI|PLast|Dirty|  |Outer|     | Physical_Address |     | Sh  |Inn|
//	+-----+----+-----+-----+--+-----+-----+------------------+-----+-----+---+
//
// IDAI says the IMPLEMENTATION DEFINED area of the table (its first 1 KiB,
// which INTIDs below 8192 would use) is not valid, so scheduling must read
// the whole table. PendingLast is set by the redistributor when Valid goes
// from 1 to 0: whether the vPE just descheduled has a pending, enabled
// vLPI. Dirty reads 1 while the redistributor is still parsing the table;
// the simulator is untimed, so it always reads 0.
type VPendBaser uint64

const (
	GICR_VPENDBASER_Valid       = uint64(1) << 63
	GICR_VPENDBASER_IDAI        = uint64(1) << 62
	GICR_VPENDBASER_PendingLast = uint64(1) << 61
	GICR_VPENDBASER_Dirty       = uint64(1) << 60
)

// MakeVPendBaser returns GICR_VPENDBASER for a table at addr (64 KiB
// aligned), with Valid and IDAI as given.
func MakeVPendBaser(addr GPA, valid, idai bool) (VPendBaser, error) {
	p, err := MakePendBaser(addr, false)
	if err != nil {
		return 0, fmt.Errorf("GICR_VPENDBASER: %w", err)
	}
	v := uint64(p)
	if valid {
		v |= GICR_VPENDBASER_Valid
	}
	if idai {
		v |= GICR_VPENDBASER_IDAI
	}
	return VPendBaser(v), nil
}

func (p VPendBaser) Addr() GPA         { return PendBaser(p).Addr() }
func (p VPendBaser) Valid() bool       { return uint64(p)&GICR_VPENDBASER_Valid != 0 }
func (p VPendBaser) IDAI() bool        { return uint64(p)&GICR_VPENDBASER_IDAI != 0 }
func (p VPendBaser) PendingLast() bool { return uint64(p)&GICR_VPENDBASER_PendingLast != 0 }
func (p VPendBaser) Dirty() bool       { return uint64(p)&GICR_VPENDBASER_Dirty != 0 }

// VTE is a vPE table entry (GITS_BASER<n>.Type = vPEs). Its format is
// IMPLEMENTATION DEFINED; the simulator uses 8-byte entries laid out as
// QEMU's emulated GICv4.0 ITS lays out its own, so that dumps of either
// read alike:
//
//	 63   58 57        42 41                 6 5       1  0
//	+-------+------------+--------------------+---------+---+
//	| RES0  |   RDbase   |  VPT_addr[51:16]   |VPT_size |V  |
//	+-------+------------+--------------------+---------+---+
//
// RDbase is the target processor number (GITS_TYPER.PTA = 0), VPT_size
// the number of vINTID bits minus one (VMAPP's VPT_size).
type VTE struct {
	Valid   bool
	VPTAddr GPA
	VPTSize uint8
	RDbase  uint16
}

// VTESize is the size in bytes of a [VTE].
const VTESize = 8

// Encode returns the entry as a little-endian doubleword, or an error naming
// the field that does not fit.
func (e VTE) Encode() (uint64, error) {
	switch {
	case !e.VPTAddr.IsAligned(64<<10) || uint64(e.VPTAddr) >= 1<<52:
		return 0, fmt.Errorf("VTE: VPT address %v must be 64 KiB aligned and below 2^52: %w", e.VPTAddr, ErrInvalidArgument)
	case e.VPTSize > 31:
		return 0, fmt.Errorf("VTE: VPT_size %d does not fit 5 bits: %w", e.VPTSize, ErrInvalidArgument)
	}
	v := uint64(e.RDbase)<<42 | uint64(e.VPTAddr)>>16<<6 | uint64(e.VPTSize)<<1
	if e.Valid {
		v |= 1
	}
	return v, nil
}

// DecodeVTE decodes a vPE table entry.
func DecodeVTE(v uint64) VTE {
	return VTE{
		Valid:   v&1 != 0,
		VPTSize: uint8(v >> 1 & 0x1F),
		VPTAddr: GPA((v >> 6 & (1<<36 - 1)) << 16),
		RDbase:  uint16(v >> 42),
	}
}

// VINTIDBits returns the number of vINTID bits the vPE's pending table
// covers: VPT_size + 1.
func (e VTE) VINTIDBits() int { return int(e.VPTSize) + 1 }

func (e VTE) String() string {
	if !e.Valid {
		return "VTE invalid"
	}
	return fmt.Sprintf("VTE valid rdbase=%d vpt=%v bits=%d", e.RDbase, e.VPTAddr, e.VINTIDBits())
}

// VirtualITESize is the smallest ITT entry that holds a [VirtualITE]: the
// simulator's GICv4 ITS needs GITS_TYPER.ITT_entry_size + 1 >= 12.
const VirtualITESize = 12

// VirtualITE is an interrupt translation entry that maps an event to a
// vLPI (VMAPTI, VMAPI). Its format is IMPLEMENTATION DEFINED; the
// simulator keeps the ABI revision 0 [ITE] shape in the first 8 bytes,
// with the vINTID where the pINTID goes and the vPEID where the ICID goes,
// and marks it virtual in a 32-bit word after it:
//
//	bytes 0..7 (doubleword):          bytes 8..11 (word):
//	 63    48 47        16 15     0    31  30    24 23              0
//	+--------+------------+--------+  +---+-------+-----------------+
//	|  next  |   vINTID   | vPEID  |  | V | RES0  |  Dbell_pINTID   |
//	+--------+------------+--------+  +---+-------+-----------------+
//
// V (bit 31) set means the entry is virtual. Dbell_pINTID is the GICv4.0
// per-event doorbell, [NoDoorbell] for none. A physical ITE has the word
// zero.
type VirtualITE struct {
	Next     uint16
	VINTID   INTID
	VPEID    VPEID
	Doorbell INTID
}

// VirtualITEFlag is bit 31 of the word after the doubleword: the entry is
// virtual.
const VirtualITEFlag = uint32(1) << 31

// Encode returns the entry's doubleword and word, or an error if the
// doorbell does not fit 24 bits.
func (e VirtualITE) Encode() (uint64, uint32, error) {
	if e.Doorbell >= 1<<24 {
		return 0, 0, fmt.Errorf("virtual ITE: doorbell pINTID %d does not fit 24 bits: %w", e.Doorbell, ErrInvalidArgument)
	}
	return uint64(e.Next)<<48 | uint64(e.VINTID)<<16 | uint64(e.VPEID), VirtualITEFlag | uint32(e.Doorbell), nil
}

// DecodeVirtualITE decodes an ITT entry's doubleword and word; ok is false
// when the entry is not virtual.
func DecodeVirtualITE(dw uint64, w uint32) (VirtualITE, bool) {
	if w&VirtualITEFlag == 0 {
		return VirtualITE{}, false
	}
	return VirtualITE{Next: uint16(dw >> 48), VINTID: INTID(dw >> 16), VPEID: VPEID(dw), Doorbell: INTID(w & (1<<24 - 1))}, true
}

func (e VirtualITE) String() string {
	db := "none"
	if e.Doorbell != NoDoorbell {
		db = fmt.Sprint(e.Doorbell)
	}
	return fmt.Sprintf("ITE vpe=%d vlpi=%d db=%s next=%d", e.VPEID, e.VINTID, db, e.Next)
}

// VirtualCPUInterface is what a backend that models GICv4.0 vPEs offers
// besides [Backend]: the virtual CPU interface (ICV_*_EL1) of the vPE
// scheduled on a redistributor. Scheduling itself is a register write
// (GICR_VPROPBASER, then GICR_VPENDBASER with Valid), as a hypervisor does
// it. Find it with a type assertion; a backend without vPEs does not
// implement it.
//
// The interface state (priority mask, active priorities) belongs to the
// vPE and travels with it, as a hypervisor saves and restores ICH_VMCR_EL2
// and ICH_AP1R<n>_EL2 around a vPE.
type VirtualCPUInterface interface {
	// PendingVirtual returns the vLPIs pending for the vPE scheduled on
	// cpu's redistributor, ascending. It fails, wrapping
	// [ErrInvalidArgument], when no vPE is scheduled there.
	PendingVirtual(cpu CPU) ([]INTID, error)
	// AcknowledgeVirtual reads ICV_IAR1_EL1 in the vPE scheduled on cpu:
	// as [Backend.Acknowledge], with the vPE's own configuration table,
	// priority mask and running priority.
	AcknowledgeVirtual(cpu CPU) (INTID, error)
	// EOIVirtual writes ICV_EOIR1_EL1 in the vPE scheduled on cpu.
	EOIVirtual(cpu CPU, vintid INTID) error
	// SetVirtualPriorityMask writes ICV_PMR_EL1 in the vPE scheduled on
	// cpu.
	SetVirtualPriorityMask(cpu CPU, pmr uint8) error
}
