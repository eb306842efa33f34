package model

import "fmt"

// ITSRegister is the offset of an ITS register in the ITS's 128 KiB
// register frame (IHI 0069, 12.19 "The ITS register map").
type ITSRegister uint32

// ITS register offsets. GITS_TRANSLATER is in the second 64 KiB frame.
const (
	GITS_CTLR       ITSRegister = 0x0000
	GITS_IIDR       ITSRegister = 0x0004
	GITS_TYPER      ITSRegister = 0x0008
	GITS_CBASER     ITSRegister = 0x0080
	GITS_CWRITER    ITSRegister = 0x0088
	GITS_CREADR     ITSRegister = 0x0090
	GITS_BASER0     ITSRegister = 0x0100 // GITS_BASER<n> is GITS_BASER0 + 8n, n = 0..7
	GITS_PIDR2      ITSRegister = 0xFFE8
	GITS_TRANSLATER ITSRegister = 0x10040
)

// GITS_BASER returns the offset of GITS_BASER<n>, n = 0..7.
func GITS_BASER(n int) ITSRegister { return GITS_BASER0 + ITSRegister(8*n) }

var itsRegisterNames = map[ITSRegister]string{
	GITS_CTLR: "GITS_CTLR", GITS_IIDR: "GITS_IIDR", GITS_TYPER: "GITS_TYPER",
	GITS_CBASER: "GITS_CBASER", GITS_CWRITER: "GITS_CWRITER", GITS_CREADR: "GITS_CREADR",
	GITS_PIDR2: "GITS_PIDR2", GITS_TRANSLATER: "GITS_TRANSLATER",
}

func (r ITSRegister) String() string {
	if name, ok := itsRegisterNames[r]; ok {
		return name
	}
	if r >= GITS_BASER0 && r < GITS_BASER0+64 && r%8 == 0 {
		return fmt.Sprintf("GITS_BASER%d", (r-GITS_BASER0)/8)
	}
	return fmt.Sprintf("GITS+%#x", uint32(r))
}

// Is64Bit reports whether the register is 64 bits wide (accessed as a u64
// at an 8-aligned offset).
func (r ITSRegister) Is64Bit() bool {
	switch {
	case r == GITS_TYPER, r == GITS_CBASER, r == GITS_CWRITER, r == GITS_CREADR, r == GITS_SGIR:
		return true
	case r >= GITS_BASER0 && r < GITS_BASER0+64 && r%8 == 0:
		return true
	}
	return false
}

// GITS_CTLR bits (IHI 0069, 12.19.5).
const (
	GITS_CTLR_Enabled   = uint64(1) << 0
	GITS_CTLR_Quiescent = uint64(1) << 31
	// GITS_CTLR_ITSNumberShift places ITS_Number (bits 7:4, GICv4 with
	// GITS_TYPER.VMOVP = 0): the ITS's bit in VMOVP's ITSList.
	GITS_CTLR_ITSNumberShift = 4
)

// ITSTyper is a GITS_TYPER value (IHI 0069, 12.19.19): what the ITS
// implements.
//
//	 36  35:32   31:24 19  17:13    12:8    7:4          1  0
//	+---+-------+-----+---+-------+-------+------------+--+--+
//	|CIL|CIDbits| HCC |PTA|Devbits|ID_bits|ITT_entry-1 |V |P |
//	+---+-------+-----+---+-------+-------+------------+--+--+
//
// Devbits and ID_bits hold the number of DeviceID and EventID bits minus
// one; CIDbits the number of ICID bits minus one when CIL is set (16 bits
// otherwise); P (Physical) says physical LPIs are supported, V (Virtual)
// virtual LPIs (GICv4.0: the simulator's [GICv4ITSTyper]; KVM never).
type ITSTyper uint64

// KVMITSTyper is the GITS_TYPER value Linux KVM's vITS reports: physical
// LPIs, 8-byte ITT entries, 16 EventID bits, 16 DeviceID bits, PTA = 0,
// HCC = 0, 16-bit ICIDs.
const KVMITSTyper ITSTyper = 0x1EF71

// Fields of GITS_TYPER.
func (t ITSTyper) Physical() bool    { return t&1 != 0 }
func (t ITSTyper) Virtual() bool     { return t>>1&1 != 0 }
func (t ITSTyper) ITTEntrySize() int { return int(t>>4&0xF) + 1 }
func (t ITSTyper) EventIDBits() int  { return int(t>>8&0x1F) + 1 }
func (t ITSTyper) DeviceIDBits() int { return int(t>>13&0x1F) + 1 }
func (t ITSTyper) PTA() bool         { return t>>19&1 != 0 }
func (t ITSTyper) HCC() int          { return int(t >> 24 & 0xFF) }
func (t ITSTyper) CIL() bool         { return t>>36&1 != 0 }

// ICIDBits returns the number of ICID bits: CIDbits + 1 when CIL is set,
// 16 otherwise.
func (t ITSTyper) ICIDBits() int {
	if t.CIL() {
		return int(t>>32&0xF) + 1
	}
	return 16
}

// MakeITSTyper returns a GITS_TYPER for a physical-LPI ITS with PTA = 0,
// HCC = 0 and the given widths, or an error naming the width out of range.
func MakeITSTyper(ittEntrySize, eventIDBits, deviceIDBits, icidBits int) (ITSTyper, error) {
	switch {
	case ittEntrySize < 1 || ittEntrySize > 16:
		return 0, fmt.Errorf("GITS_TYPER: ITT entry size %d out of range 1..16: %w", ittEntrySize, ErrInvalidArgument)
	case eventIDBits < 1 || eventIDBits > 32:
		return 0, fmt.Errorf("GITS_TYPER: EventID bits %d out of range 1..32: %w", eventIDBits, ErrInvalidArgument)
	case deviceIDBits < 1 || deviceIDBits > 32:
		return 0, fmt.Errorf("GITS_TYPER: DeviceID bits %d out of range 1..32: %w", deviceIDBits, ErrInvalidArgument)
	case icidBits < 1 || icidBits > 16:
		return 0, fmt.Errorf("GITS_TYPER: ICID bits %d out of range 1..16: %w", icidBits, ErrInvalidArgument)
	}
	t := ITSTyper(1 | (ittEntrySize-1)<<4 | (eventIDBits-1)<<8 | (deviceIDBits-1)<<13)
	if icidBits != 16 {
		t |= ITSTyper(1)<<36 | ITSTyper(icidBits-1)<<32
	}
	return t, nil
}

// CBASER is a GITS_CBASER value (IHI 0069, 12.19.2): where the command
// queue is.
//
//	 63 62 61:59 58:56 55:53 52  51                12 11:10 9:8  7:0
//	+--+--+-----+-----+-----+--+--------------------+-----+----+------+
//	|V |  |Inner|     |Outer|  | Physical_Address   | Sh  |    | Size |
//	+--+--+-----+-----+-----+--+--------------------+-----+----+------+
//
// Size is the number of 4 KiB pages minus one.
type CBASER uint64

// MakeCBASER returns a valid GITS_CBASER for a queue of pages 4 KiB pages
// at addr (4 KiB aligned; KVM requires 64 KiB), with the memory attributes
// Linux programs.
func MakeCBASER(addr GPA, pages int) (CBASER, error) {
	if pages < 1 || pages > 256 {
		return 0, fmt.Errorf("GITS_CBASER: %d pages out of range 1..256: %w", pages, ErrInvalidArgument)
	}
	if !addr.IsAligned(4096) || uint64(addr) >= 1<<52 {
		return 0, fmt.Errorf("GITS_CBASER: queue address %v must be 4 KiB aligned and below 2^52: %w", addr, ErrInvalidArgument)
	}
	return CBASER(validBit | driverAttrs(ITSCacheFields) | uint64(addr) | uint64(pages-1)), nil
}

// driverAttrs are the memory attributes Linux's ITS and redistributor
// drivers program into every table-base register: Normal Inner
// Read-allocate Write-allocate Write-back, Inner Shareable. Both KVM and
// the simulator keep them as written.
func driverAttrs(f CacheFields) uint64 {
	const raWaWb, innerShareable = 7, 1
	return raWaWb<<f.Inner | innerShareable<<f.Shareability
}

func (c CBASER) Valid() bool    { return uint64(c)&validBit != 0 }
func (c CBASER) Addr() GPA      { return GPA(uint64(c) & (1<<52 - 1) &^ (1<<12 - 1)) }
func (c CBASER) Pages() int     { return int(c&0xFF) + 1 }
func (c CBASER) SizeBytes() int { return c.Pages() * 4096 }

// Offset masks of GITS_CWRITER and GITS_CREADR (IHI 0069, 12.19.4, 12.19.3):
// Offset in bits 19:5 (a command index times 32), Retry / Stalled in bit 0.
const (
	GITS_CQ_OffsetMask  = uint64(0xFFFE0)
	GITS_CWRITER_Retry  = uint64(1)
	GITS_CREADR_Stalled = uint64(1)
	CommandSize         = 32
)

// BaserType is GITS_BASER<n>.Type: what the table holds.
type BaserType uint8

const (
	BaserUnimplemented BaserType = 0
	BaserDevices       BaserType = 1
	BaserVPEs          BaserType = 2
	BaserCollections   BaserType = 4
)

func (t BaserType) String() string {
	switch t {
	case BaserUnimplemented:
		return "unimplemented"
	case BaserDevices:
		return "devices"
	case BaserVPEs:
		return "vPEs"
	case BaserCollections:
		return "collections"
	}
	return fmt.Sprintf("type %d", uint8(t))
}

// Baser is a GITS_BASER<n> value (IHI 0069, 12.19.1): where one ITS table
// is and how it is laid out.
//
//	 63 62  61:59 58:56 55:53  52:48     47               12 11:10  9:8    7:0
//	+--+---+-----+-----+-----+----------+------------------+-----+--------+------+
//	|V |Ind|Inner|Type |Outer|EntrySz-1 | Physical_Address |  Sh |PageSize| Size |
//	+--+---+-----+-----+-----+----------+------------------+-----+--------+------+
//
// Size is the number of pages minus one; PageSize 0, 1, 2 are 4, 16 and
// 64 KiB. With 64 KiB pages bits 15:12 hold address bits 51:48.
type Baser uint64

// Page sizes of GITS_BASER<n>.
const (
	PageSize4K  = 4 << 10
	PageSize16K = 16 << 10
	PageSize64K = 64 << 10
)

func (b Baser) Valid() bool       { return uint64(b)&validBit != 0 }
func (b Baser) Indirect() bool    { return b>>62&1 != 0 }
func (b Baser) Type() BaserType   { return BaserType(b >> 56 & 7) }
func (b Baser) EntrySize() int    { return int(b>>48&0x1F) + 1 }
func (b Baser) Pages() int        { return int(b&0xFF) + 1 }
func (b Baser) SizeBytes() uint64 { return uint64(b.Pages()) * uint64(b.PageSize()) }

// PageSize returns the table's page size in bytes (4, 16 or 64 KiB; the
// reserved encoding 3 reads as 64 KiB, as KVM treats every value).
func (b Baser) PageSize() int {
	switch b >> 8 & 3 {
	case 0:
		return PageSize4K
	case 1:
		return PageSize16K
	}
	return PageSize64K
}

// Addr returns the table's base address.
func (b Baser) Addr() GPA {
	a := uint64(b) & (1<<48 - 1) &^ (1<<12 - 1)
	if b.PageSize() == PageSize64K {
		hi := a >> 12 & 0xF
		a = a&^(0xF<<12) | hi<<48
	}
	return GPA(a)
}

// WithTable returns b (whose read-only fields, Type and Entry_Size, are
// kept) describing a valid table at addr of pages pages of pageSize bytes,
// flat or indirect. It refuses values that do not fit rather than
// truncating them.
func (b Baser) WithTable(addr GPA, pageSize, pages int, indirect bool) (Baser, error) {
	var ps uint64
	switch pageSize {
	case PageSize4K:
		ps = 0
	case PageSize16K:
		ps = 1
	case PageSize64K:
		ps = 2
	default:
		return 0, fmt.Errorf("GITS_BASER: page size %d is not 4, 16 or 64 KiB: %w", pageSize, ErrInvalidArgument)
	}
	if pages < 1 || pages > 256 {
		return 0, fmt.Errorf("GITS_BASER: %d pages out of range 1..256: %w", pages, ErrInvalidArgument)
	}
	if !addr.IsAligned(uint64(pageSize)) || uint64(addr) >= 1<<52 {
		return 0, fmt.Errorf("GITS_BASER: table address %v must be aligned to the %d-byte page and below 2^52: %w", addr, pageSize, ErrInvalidArgument)
	}
	a := uint64(addr)
	if pageSize == PageSize64K {
		a = a&(1<<48-1) | (a>>48&0xF)<<12
	} else if a >= 1<<48 {
		return 0, fmt.Errorf("GITS_BASER: table address %v needs 64 KiB pages to reach beyond 2^48: %w", addr, ErrInvalidArgument)
	}
	v := uint64(b)&(uint64(7)<<56|uint64(0x1F)<<48|uint64(7)<<59|uint64(7)<<53|uint64(3)<<10) | validBit | a | ps<<8 | uint64(pages-1)
	if indirect {
		v |= 1 << 62
	}
	return Baser(v), nil
}

// MakeBaser returns a GITS_BASER<n> of the given type and entry size with
// no table: the reset value of an implemented register.
func MakeBaser(t BaserType, entrySize int) Baser {
	return Baser(uint64(t&7)<<56 | uint64(entrySize-1)&0x1F<<48)
}

// LPIConfig is one byte of the LPI configuration (property) table
// (IHI 0069, 5.1.1 "LPI Configuration tables").
//
//	  7           2   1    0
//	+---------------+----+----+
//	|   Priority    |RES1| En |
//	+---------------+----+----+
type LPIConfig uint8

// MakeLPIConfig returns the configuration byte for an LPI of the given
// priority (only bits 7:2 are kept by the architecture) and enable, with the
// RES1 bit set.
func MakeLPIConfig(priority uint8, enabled bool) LPIConfig {
	c := LPIConfig(priority&0xFC | 0x2)
	if enabled {
		c |= 1
	}
	return c
}

func (c LPIConfig) Priority() uint8 { return uint8(c) & 0xFC }
func (c LPIConfig) Enabled() bool   { return c&1 != 0 }

func (c LPIConfig) String() string {
	if c.Enabled() {
		return fmt.Sprintf("prio=%#02x enabled", c.Priority())
	}
	return fmt.Sprintf("prio=%#02x disabled", c.Priority())
}

// GICRRegister is the offset of a register in a redistributor's RD_base
// frame (IHI 0069, 12.11).
type GICRRegister uint32

const (
	GICR_CTLR      GICRRegister = 0x0000
	GICR_IIDR      GICRRegister = 0x0004
	GICR_TYPER     GICRRegister = 0x0008
	GICR_PROPBASER GICRRegister = 0x0070
	GICR_PENDBASER GICRRegister = 0x0078
	GICR_INVLPIR   GICRRegister = 0x00A0
	GICR_INVALLR   GICRRegister = 0x00B0
	GICR_SYNCR     GICRRegister = 0x00C0
)

var gicrRegisterNames = map[GICRRegister]string{
	GICR_CTLR: "GICR_CTLR", GICR_IIDR: "GICR_IIDR", GICR_TYPER: "GICR_TYPER",
	GICR_PROPBASER: "GICR_PROPBASER", GICR_PENDBASER: "GICR_PENDBASER",
	GICR_INVLPIR: "GICR_INVLPIR", GICR_INVALLR: "GICR_INVALLR", GICR_SYNCR: "GICR_SYNCR",
	GICR_VPROPBASER: "GICR_VPROPBASER", GICR_VPENDBASER: "GICR_VPENDBASER",
}

func (r GICRRegister) String() string {
	if name, ok := gicrRegisterNames[r]; ok {
		return name
	}
	return fmt.Sprintf("GICR+%#x", uint32(r))
}

// Is64Bit reports whether the register is 64 bits wide: GICR_TYPER,
// GICR_PROPBASER, GICR_PENDBASER, GICR_INVLPIR, GICR_INVALLR,
// GICR_VPROPBASER and GICR_VPENDBASER (IHI 0069, 12.11). The others here
// are 32 bits wide.
func (r GICRRegister) Is64Bit() bool {
	switch r {
	case GICR_TYPER, GICR_PROPBASER, GICR_PENDBASER, GICR_INVLPIR, GICR_INVALLR, GICR_VPROPBASER, GICR_VPENDBASER:
		return true
	}
	return false
}

// GICR_CTLR and GICR_TYPER bits (IHI 0069, 12.11.2, 12.11.35).
const (
	GICR_CTLR_EnableLPIs = uint64(1) << 0
	GICR_TYPER_PLPIS     = uint64(1) << 0
	GICR_TYPER_Last      = uint64(1) << 4
)

// RedistributorTyper returns GICR_TYPER for processor number cpu of n: PLPIS,
// Last on the last one, Processor_Number, and KVM's default affinity for
// vcpu_id cpu (Aff0 = cpu & 0xF, Aff1 = cpu>>4 & 0xFF, Aff2 = cpu>>12 & 0xFF).
func RedistributorTyper(cpu CPU, n int) uint64 {
	v := GICR_TYPER_PLPIS | uint64(cpu&0xFFFF)<<8 | uint64(Affinity(cpu))<<32
	if int(cpu) == n-1 {
		v |= GICR_TYPER_Last
	}
	return v
}

// Affinity returns KVM's default MPIDR affinity (Aff2.Aff1.Aff0, packed as
// GICR_TYPER bits 55:32 hold it) of vcpu_id cpu.
func Affinity(cpu CPU) uint32 {
	return uint32(cpu&0xF) | uint32(cpu>>4&0xFF)<<8 | uint32(cpu>>12&0xFF)<<16
}

// PropBaser is a GICR_PROPBASER value (IHI 0069, 12.11.26): the LPI
// configuration table, shared by all redistributors.
//
//	 63    52 51              12 11  7 6:5  4      0
//	+--------+-------------------+----+----+--------+
//	|  RES0  | Physical_Address  |    |    | IDbits |
//	+--------+-------------------+----+----+--------+
//
// IDbits is the number of INTID bits minus one; the table holds one byte per
// LPI, 2^(IDbits+1) - 8192 bytes.
type PropBaser uint64

// MakePropBaser returns GICR_PROPBASER for a table at addr (4 KiB aligned)
// covering INTIDs below 2^idBits (idBits 14..32).
func MakePropBaser(addr GPA, idBits int) (PropBaser, error) {
	if idBits < 14 || idBits > 32 {
		return 0, fmt.Errorf("GICR_PROPBASER: %d INTID bits out of range 14..32: %w", idBits, ErrInvalidArgument)
	}
	if !addr.IsAligned(4096) || uint64(addr) >= 1<<52 {
		return 0, fmt.Errorf("GICR_PROPBASER: address %v must be 4 KiB aligned and below 2^52: %w", addr, ErrInvalidArgument)
	}
	return PropBaser(driverAttrs(RedistCacheFields) | uint64(addr) | uint64(idBits-1)), nil
}

func (p PropBaser) Addr() GPA   { return GPA(uint64(p) & (1<<52 - 1) &^ (1<<12 - 1)) }
func (p PropBaser) IDBits() int { return int(p&0x1F) + 1 }

// PendBaser is a GICR_PENDBASER value (IHI 0069, 12.11.25): this
// redistributor's LPI pending table, one bit per INTID.
//
//	 63 62  61   52 51                16 15     0
//	+--+---+-------+--------------------+-------+
//	|  |PTZ|       |  Physical_Address  |       |
//	+--+---+-------+--------------------+-------+
//
// PTZ says the table is known to be zero, so enabling LPIs need not read it.
type PendBaser uint64

const GICR_PENDBASER_PTZ = uint64(1) << 62

// MakePendBaser returns GICR_PENDBASER for a table at addr (64 KiB aligned).
func MakePendBaser(addr GPA, ptz bool) (PendBaser, error) {
	if !addr.IsAligned(64<<10) || uint64(addr) >= 1<<52 {
		return 0, fmt.Errorf("GICR_PENDBASER: address %v must be 64 KiB aligned and below 2^52: %w", addr, ErrInvalidArgument)
	}
	v := driverAttrs(RedistCacheFields) | uint64(addr)
	if ptz {
		v |= GICR_PENDBASER_PTZ
	}
	return PendBaser(v), nil
}

func (p PendBaser) Addr() GPA { return GPA(uint64(p) & (1<<52 - 1) &^ (1<<16 - 1)) }
func (p PendBaser) PTZ() bool { return uint64(p)&GICR_PENDBASER_PTZ != 0 }

// GICR_CTLR bits that report what a redistributor implements (IHI 0069,
// 12.11.2): CES, EnableLPIs can be cleared once set; IR, GICR_INVLPIR,
// GICR_INVALLR and GICR_SYNCR are implemented. KVM (from vGIC
// implementation revision 3) and the simulator set both.
const (
	GICR_CTLR_CES = uint64(1) << 1
	GICR_CTLR_IR  = uint64(1) << 2
)

// CacheFields says where a table-base register keeps its memory attributes.
type CacheFields struct {
	Inner, Outer, Shareability uint // bit positions of InnerCache (3 bits), OuterCache (3 bits), Shareability (2 bits)
}

// The attribute fields of GITS_CBASER / GITS_BASER<n>, and of
// GICR_PROPBASER / GICR_PENDBASER.
var (
	ITSCacheFields    = CacheFields{Inner: 59, Outer: 53, Shareability: 10}
	RedistCacheFields = CacheFields{Inner: 7, Outer: 56, Shareability: 10}
)

// SanitiseCacheability returns v with the memory attributes an
// implementation does not support replaced by ones it does. Which are
// supported is IMPLEMENTATION DEFINED; this is KVM's choice
// (vgic-mmio-v3.c, vgic_sanitise_*), which the simulator follows so that
// register read-backs agree: an inner non-cacheable attribute (Device-nGnRnE
// or Normal non-cacheable) reads back as Normal Read-allocate Write-back,
// an outer attribute other than "same as inner" or non-cacheable reads back
// as "same as inner", and Outer Shareable reads back as Inner Shareable.
func SanitiseCacheability(v uint64, f CacheFields) uint64 {
	const (
		cacheNCnB, cacheNC, cacheRaWb = 0, 1, 3
		sameAsInner                   = 0
		innerShareable, outerShare    = 1, 2
	)
	field := func(shift, width uint) uint64 { return v >> shift & (1<<width - 1) }
	set := func(shift, width uint, x uint64) { v = v&^((1<<width-1)<<shift) | x<<shift }
	switch field(f.Inner, 3) {
	case cacheNCnB, cacheNC:
		set(f.Inner, 3, cacheRaWb)
	}
	switch field(f.Outer, 3) {
	case sameAsInner, cacheNC:
	default:
		set(f.Outer, 3, sameAsInner)
	}
	if field(f.Shareability, 2) == outerShare {
		set(f.Shareability, 2, innerShareable)
	}
	return v
}
