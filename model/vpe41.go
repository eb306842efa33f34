package model

import "fmt"

// This file is the GICv4.1 vocabulary beside the GICv4.0 one (vpe.go):
// the GITS_TYPER fields of a GICv4.1 ITS, the GICv4.1 forms of
// GICR_VPROPBASER and GICR_VPENDBASER, the vSGI registers (GICR_VSGIR,
// GICR_VSGIPENDR, GITS_SGIR) and GICD_TYPER2.
//
// Sources: the Arm register pages for GICR_VPENDBASER, GICR_VPROPBASER,
// GICR_VSGIR, GICR_VSGIPENDR and GITS_SGIR (FEAT_GICv4p1 forms); IHI 0069H
// chapter 8 "GICv4.1" for the behaviour; Linux's GICv4.1 host driver as a
// reference client. The GITS_TYPER bit positions (VSGI 39, VMAPP 40,
// SVPET 42:41, nID 43) and GICD_TYPER2 (VID 4:0, VIL 7) are taken from
// Linux's and illumos's definitions: inferred, not read in the spec.

// GITS_TYPER fields of a GICv4.1 ITS.
const (
	GITS_TYPER_VSGI       = uint64(1) << 39 // GITS_SGIR and VSGI are implemented
	GITS_TYPER_VMAPP      = uint64(1) << 40 // GICv4.1: VMAPP's 4.1 form
	GITS_TYPER_SVPETShift = 41              // SVPET, 42:41: the vPE table is shared with the redistributors
	GITS_TYPER_nID        = uint64(1) << 43 // individual (per-event) doorbells are not supported
)

// GICv41ITSTyper is the GITS_TYPER of the simulator's GICv4.1 ITS:
// [GICv4ITSTyper] with VMAPP (bit 40) and VSGI (bit 39) set, SVPET = 1
// and nID = 1. The defaults chosen:
//
//   - SVPET = 1: the ITS and the redistributors share one record of each
//     vPE (what VMAPP wrote), which is how the redistributors find a vPE
//     by its vPEID (GICR_VPENDBASER, GICR_VSGIR, GICR_INVLPIR with V).
//   - nID = 1: no per-event doorbells. A vLPI of a vPE that is not
//     resident rings only the vPE's default doorbell (VMAPP's
//     Default_Doorbell), once, when the hypervisor asked for it at
//     deschedule; VMAPTI's and VMOVI's Dbell_pINTID are ignored. Linux's
//     GICv4.1 driver writes 1023 (none) there anyway. Clear the bit for an
//     ITS that rings them as GICv4.0 does.
const GICv41ITSTyper = GICv4ITSTyper | ITSTyper(GITS_TYPER_VMAPP|GITS_TYPER_VSGI|GITS_TYPER_nID) | 1<<GITS_TYPER_SVPETShift

// VMAPP reports GITS_TYPER.VMAPP (bit 40): a GICv4.1 ITS.
func (t ITSTyper) VMAPP() bool { return uint64(t)&GITS_TYPER_VMAPP != 0 }

// VSGI reports GITS_TYPER.VSGI (bit 39): vSGIs can be injected directly
// (VSGI, GITS_SGIR).
func (t ITSTyper) VSGI() bool { return uint64(t)&GITS_TYPER_VSGI != 0 }

// SVPET returns GITS_TYPER.SVPET (bits 42:41): 0 when the vPE table is not
// shared with the redistributors, otherwise the affinity level of sharing.
func (t ITSTyper) SVPET() int { return int(t >> GITS_TYPER_SVPETShift & 3) }

// NID reports GITS_TYPER.nID (bit 43): individual doorbells (a
// per-event Dbell_pINTID) are not supported.
func (t ITSTyper) NID() bool { return uint64(t)&GITS_TYPER_nID != 0 }

// IsGICv41 reports whether the ITS is a GICv4.1 one: Virtual and VMAPP.
func (t ITSTyper) IsGICv41() bool { return t.Virtual() && t.VMAPP() }

// GITS_SGIR is the ITS register a vSGI is sent through (GICv4.1, with
// GITS_TYPER.VSGI): in the third 64 KiB frame of the ITS, ITS_base +
// 0x20020. It is 64 bits wide and write-only:
//
//	 63    48 47        32 31         4 3      0
//	+--------+------------+------------+--------+
//	|  RES0  |   vPEID    |    RES0    | vINTID |
//	+--------+------------+------------+--------+
const GITS_SGIR ITSRegister = 0x20020

// MakeITSSGIR returns a GITS_SGIR value sending vSGI sgi (0..15) to vPE
// vpe.
func MakeITSSGIR(vpe VPEID, sgi uint8) (uint64, error) {
	if sgi > maxVSGI {
		return 0, fmt.Errorf("GITS_SGIR: vINTID %d is not a vSGI (0..15): %w", sgi, ErrInvalidArgument)
	}
	return uint64(vpe)<<32 | uint64(sgi), nil
}

// VLPI_base registers of a GICv4.1 redistributor for vSGIs.
const (
	GICR_VSGIR     GICRRegister = GICR_VLPI_base + 0x80 // write: vPEID 15:0, whose vSGI state to read
	GICR_VSGIPENDR GICRRegister = GICR_VLPI_base + 0x88 // read: Busy 31, Pending 15:0
)

// GICR_VSGIPENDR_Busy is GICR_VSGIPENDR.Busy: the query is in progress,
// Pending is UNKNOWN. The simulator is untimed: it reads 0.
const GICR_VSGIPENDR_Busy = uint64(1) << 31

// GICR_TYPER bits of a GICv4.1 redistributor.
const (
	GICR_TYPER_RVPEID = uint64(1) << 7  // GICR_VPENDBASER names a vPEID (GICv4.1)
	GICR_TYPER_VSGI   = uint64(1) << 26 // vSGIs: GICR_VSGIR and GICR_VSGIPENDR
)

// GICR_INVLPIR and GICR_INVALLR fields of a GICv4.1 redistributor
// (IHI 0069H, 8.7 "Register based vLPI invalidation", inferred): with V
// set they act on vPE vPEID's vLPIs, through its vLPI configuration table.
const (
	GICR_INVLPIR_V        = uint64(1) << 63
	GICR_INVLPIR_VPEShift = 32 // vPEID, 47:32
)

// MakeInvVLPIR returns a GICR_INVLPIR value invalidating vINTID vintid of
// vPE vpe, or, for GICR_INVALLR, every vLPI of it (vintid is then 0).
func MakeInvVLPIR(vpe VPEID, vintid INTID) uint64 {
	return GICR_INVLPIR_V | uint64(vpe)<<GICR_INVLPIR_VPEShift | uint64(vintid)
}

// VPropBaser41 is a GICR_VPROPBASER value in its GICv4.1 form: it points
// at the vPE configuration table (in GICv4.1 the vLPI configuration table
// comes from VMAPP's VCONF_addr instead), laid out as a GITS_BASER<n>.
//
//	 63  62 61:59 58:56  55    54:53   52 51             12 11:10 9:7 6    0
//	+-----+--+-----+-----+--------+------+--+----------------+-----+---+------+
//	|Valid|  |ESize|Outer|Indirect|PgSize|Z |Physical_Address| Sh  |Inn| Size |
//	+-----+--+-----+-----+--------+------+--+----------------+-----+---+------+
//
// Entry_Size (read-only) is the entry size in doublewords, minus one; Size
// the number of pages minus one; Z says the table is known zero.
type VPropBaser41 uint64

// GICR_VPROPBASER fields of the GICv4.1 form.
const (
	GICR_VPROPBASER41_Valid    = uint64(1) << 63
	GICR_VPROPBASER41_Indirect = uint64(1) << 55
	GICR_VPROPBASER41_Z        = uint64(1) << 52
)

// MakeVPropBaser41 returns a valid GICR_VPROPBASER (4.1 form) for a vPE
// configuration table of pages pages (1..128) of pageSize bytes (4, 16 or
// 64 KiB) at addr, flat or two-level, with Z as given.
func MakeVPropBaser41(addr GPA, pageSize, pages int, indirect, z bool) (VPropBaser41, error) {
	var ps uint64
	switch pageSize {
	case PageSize4K:
		ps = 0
	case PageSize16K:
		ps = 1
	case PageSize64K:
		ps = 2
	default:
		return 0, fmt.Errorf("GICR_VPROPBASER: page size %d: want 4, 16 or 64 KiB: %w", pageSize, ErrInvalidArgument)
	}
	switch {
	case pages < 1 || pages > 128:
		return 0, fmt.Errorf("GICR_VPROPBASER: %d pages: Size (6:0) holds 1..128: %w", pages, ErrInvalidArgument)
	case !addr.IsAligned(uint64(pageSize)) || uint64(addr) >= 1<<52:
		return 0, fmt.Errorf("GICR_VPROPBASER: table %v must be aligned to its %d-byte pages and below 2^52: %w", addr, pageSize, ErrInvalidArgument)
	}
	v := GICR_VPROPBASER41_Valid | driverAttrs(RedistCacheFields) | ps<<53 | uint64(addr) | uint64(pages-1)
	if indirect {
		v |= GICR_VPROPBASER41_Indirect
	}
	if z {
		v |= GICR_VPROPBASER41_Z
	}
	return VPropBaser41(v), nil
}

func (p VPropBaser41) Valid() bool    { return uint64(p)&GICR_VPROPBASER41_Valid != 0 }
func (p VPropBaser41) Indirect() bool { return uint64(p)&GICR_VPROPBASER41_Indirect != 0 }
func (p VPropBaser41) Z() bool        { return uint64(p)&GICR_VPROPBASER41_Z != 0 }
func (p VPropBaser41) Addr() GPA      { return GPA(uint64(p) & (1<<52 - 1) &^ (1<<12 - 1)) }
func (p VPropBaser41) Pages() int     { return int(p&0x7F) + 1 }

// EntrySize returns the size in bytes of an entry (Entry_Size + 1
// doublewords).
func (p VPropBaser41) EntrySize() int { return (int(p>>59&7) + 1) * 8 }

// PageSize returns the table's page size in bytes.
func (p VPropBaser41) PageSize() int {
	switch p >> 53 & 3 {
	case 0:
		return PageSize4K
	case 1:
		return PageSize16K
	}
	return PageSize64K
}

// VPendBaser41 is a GICR_VPENDBASER value in its GICv4.1 form: the
// redistributor knows the vPE by its vPEID, not by its pending table.
//
//	 63    62     61    60     59      58    57       16 15     0
//	+-----+--+-----+-----+-------+-------+-----------+--------+
//	|Valid|DB|PLast|Dirty|VGrp0En|VGrp1En|   RES0    | vPEID  |
//	+-----+--+-----+-----+-------+-------+-----------+--------+
//
// Doorbell (DB), written with Valid going from 1 to 0, asks for the vPE's
// default doorbell; it is treated as 0 when the vPE has enabled pending
// interrupts (PendingLast then reads 1) or when PendingLast is written as
// 1. VGrp0En and VGrp1En say which groups of virtual interrupts the
// resident vPE is signalled. Dirty reads 0 in the untimed simulator.
type VPendBaser41 uint64

// GICR_VPENDBASER fields of the GICv4.1 form (Valid, PendingLast and
// Dirty are the GICv4.0 bits).
const (
	GICR_VPENDBASER_Doorbell  = uint64(1) << 62 // IDAI in GICv4.0
	GICR_VPENDBASER_VGrp0En   = uint64(1) << 59
	GICR_VPENDBASER_VGrp1En   = uint64(1) << 58
	GICR_VPENDBASER_VPEIDMask = uint64(0xFFFF)
)

// MakeVPendBaser41 returns GICR_VPENDBASER (4.1 form) naming vPE vpe, with
// Valid, the group enables and Doorbell as given.
func MakeVPendBaser41(vpe VPEID, valid, grp0, grp1, doorbell bool) VPendBaser41 {
	v := uint64(vpe)
	for _, f := range []struct {
		on  bool
		bit uint64
	}{{valid, GICR_VPENDBASER_Valid}, {grp0, GICR_VPENDBASER_VGrp0En}, {grp1, GICR_VPENDBASER_VGrp1En}, {doorbell, GICR_VPENDBASER_Doorbell}} {
		if f.on {
			v |= f.bit
		}
	}
	return VPendBaser41(v)
}

func (p VPendBaser41) Valid() bool       { return uint64(p)&GICR_VPENDBASER_Valid != 0 }
func (p VPendBaser41) Doorbell() bool    { return uint64(p)&GICR_VPENDBASER_Doorbell != 0 }
func (p VPendBaser41) PendingLast() bool { return uint64(p)&GICR_VPENDBASER_PendingLast != 0 }
func (p VPendBaser41) Dirty() bool       { return uint64(p)&GICR_VPENDBASER_Dirty != 0 }
func (p VPendBaser41) VGrp0En() bool     { return uint64(p)&GICR_VPENDBASER_VGrp0En != 0 }
func (p VPendBaser41) VGrp1En() bool     { return uint64(p)&GICR_VPENDBASER_VGrp1En != 0 }
func (p VPendBaser41) VPEID() VPEID      { return VPEID(uint64(p) & GICR_VPENDBASER_VPEIDMask) }

// GICDRegister is the offset of a register in the distributor's GICD
// frame (IHI 0069, 12.9).
type GICDRegister uint32

// GICD_TYPER2 (GICD + 0xC): VID 4:0 (vPEID bits - 1, when VIL is 1), VIL
// 7 (the vPEID width is VID + 1 bits, not 16), nASSGIcap 8.
const GICD_TYPER2 GICDRegister = 0x000C

func (r GICDRegister) String() string {
	if r == GICD_TYPER2 {
		return "GICD_TYPER2"
	}
	return fmt.Sprintf("GICD+%#x", uint32(r))
}

// GICDTyper2 is a GICD_TYPER2 value.
type GICDTyper2 uint64

// MakeGICDTyper2 returns GICD_TYPER2 for a GIC with vpeidBits (1..16) bits
// of vPEID: VIL = 1, VID = vpeidBits - 1.
func MakeGICDTyper2(vpeidBits int) (GICDTyper2, error) {
	if vpeidBits < 1 || vpeidBits > 16 {
		return 0, fmt.Errorf("GICD_TYPER2: %d vPEID bits: want 1..16: %w", vpeidBits, ErrInvalidArgument)
	}
	return GICDTyper2(1<<7 | uint64(vpeidBits-1)), nil
}

func (t GICDTyper2) VID() int  { return int(t & 0x1F) }
func (t GICDTyper2) VIL() bool { return t>>7&1 != 0 }

// VPEIDBits returns the number of vPEID bits: VID + 1 with VIL, 16
// without.
func (t GICDTyper2) VPEIDBits() int {
	if t.VIL() {
		return t.VID() + 1
	}
	return 16
}

// DistributorRegisters is what a backend that models a GICv4.1
// distributor's identification registers offers besides [Backend]: reads
// of the GICD frame (today GICD_TYPER2 only; other offsets inside the
// frame read 0). Find it with a type assertion.
type DistributorRegisters interface {
	ReadDistributorRegister(reg GICDRegister) (uint64, error)
}

// The names of the GICv4.1 registers, for String.
func init() {
	itsRegisterNames[GITS_SGIR] = "GITS_SGIR"
	gicrRegisterNames[GICR_VSGIR] = "GICR_VSGIR"
	gicrRegisterNames[GICR_VSGIPENDR] = "GICR_VSGIPENDR"
}

// Error codes of the GICv4.1 commands, in the scheme of the GICv4.0 ones
// (errors.go: 0x01 << 16 | opcode << 8 | reason; reason 0x10 is a vPEID
// the vPE table does not hold). Inferred: the spec's own values were not
// read.
const (
	E_ITS_VSGI_VPEID_OOR  ErrorCode = 0x012310 // scheme
	E_ITS_INVDB_VPEID_OOR ErrorCode = 0x012E10 // scheme
)

func init() {
	errorCodeNames[E_ITS_VSGI_VPEID_OOR] = "E_ITS_VSGI_VPEID_OOR"
	errorCodeNames[E_ITS_INVDB_VPEID_OOR] = "E_ITS_INVDB_VPEID_OOR"
}
