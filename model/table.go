package model

import "fmt"

// TableEntrySize is the size in bytes of every entry of KVM's ITS table ABI
// revision 0: DTE, ITE, CTE and L1 entry.
const TableEntrySize = 8

// Field limits of the ABI revision 0 entries.
const (
	MaxDTENext = 1<<14 - 1 // DTE next, bits 62:49
	MaxITENext = 1<<16 - 1 // ITE next, bits 63:48

	// CTEUnmappedRDbase is the RDbase a saved CTE holds for a collection
	// that exists (an ITE names it) but is not mapped to a redistributor:
	// KVM's COLLECTION_NOT_MAPPED, (u32)~0.
	CTEUnmappedRDbase = 0xFFFFFFFF
)

// DTE is a device table entry in KVM's ITS table ABI revision 0
// (Documentation/virt/kvm/devices/arm-vgic-its.rst, "Device Table Entry").
// The device table is indexed by DeviceID.
//
//	 63 62        49 48                  5 4     0
//	+--+------------+---------------------+-------+
//	|V |    next    |   ITT_addr[51:8]    | Size  |
//	+--+------------+---------------------+-------+
//
// next is the DeviceID offset to the next saved valid DTE (0: this is the
// last one); Size is the number of EventID bits minus one.
type DTE struct {
	Valid   bool
	Next    uint16
	ITTAddr GPA
	Size    uint8
}

// Encode returns the entry as a little-endian doubleword, or an error naming
// the field that does not fit.
func (e DTE) Encode() (uint64, error) {
	switch {
	case e.Next > MaxDTENext:
		return 0, fmt.Errorf("DTE: next %d does not fit 14 bits: %w", e.Next, ErrInvalidArgument)
	case uint64(e.ITTAddr) > maxITTAddr || !e.ITTAddr.IsAligned(ittAlign):
		return 0, fmt.Errorf("DTE: ITT_addr %v must be 256-byte aligned and below 2^52: %w", e.ITTAddr, ErrInvalidArgument)
	case e.Size > sizeMask:
		return 0, fmt.Errorf("DTE: Size %d does not fit 5 bits: %w", e.Size, ErrInvalidArgument)
	}
	v := uint64(e.Next)<<49 | uint64(e.ITTAddr)>>8<<5 | uint64(e.Size)
	if e.Valid {
		v |= validBit
	}
	return v, nil
}

// DecodeDTE decodes a device table entry.
func DecodeDTE(v uint64) DTE {
	return DTE{
		Valid:   v&validBit != 0,
		Next:    uint16(v >> 49 & MaxDTENext),
		ITTAddr: GPA((v >> 5 & (1<<44 - 1)) << 8),
		Size:    uint8(v & sizeMask),
	}
}

func (e DTE) String() string {
	if !e.Valid {
		return "DTE invalid"
	}
	return fmt.Sprintf("DTE valid itt=%v bits=%d next=%d", e.ITTAddr, int(e.Size)+1, e.Next)
}

// ITE is an interrupt translation entry in KVM's ITS table ABI revision 0
// ("Interrupt Translation Entry"). An ITT is indexed by EventID; an entry
// whose pINTID is 0 is not mapped.
//
//	 63        48 47                  16 15      0
//	+------------+----------------------+--------+
//	|    next    |        pINTID        |  ICID  |
//	+------------+----------------------+--------+
type ITE struct {
	Next  uint16
	INTID INTID
	ICID  ICID
}

// Valid reports whether the entry maps an event (its pINTID is not 0).
func (e ITE) Valid() bool { return e.INTID != 0 }

// Encode returns the entry as a little-endian doubleword.
func (e ITE) Encode() uint64 {
	return uint64(e.Next)<<48 | uint64(e.INTID)<<16 | uint64(e.ICID)
}

// DecodeITE decodes an interrupt translation entry.
func DecodeITE(v uint64) ITE {
	return ITE{Next: uint16(v >> 48), INTID: INTID(v >> 16), ICID: ICID(v)}
}

func (e ITE) String() string {
	if !e.Valid() {
		return "ITE invalid"
	}
	return fmt.Sprintf("ITE lpi=%d icid=%d next=%d", e.INTID, e.ICID, e.Next)
}

// CTE is a collection table entry in KVM's ITS table ABI revision 0
// ("Collection Table Entry"). Saved CTEs form a list, not an array indexed
// by ICID, ended by an all-zero entry when space remains.
//
//	 63 62     52 51                16 15      0
//	+--+---------+--------------------+--------+
//	|V |  RES0   |       RDbase       |  ICID  |
//	+--+---------+--------------------+--------+
//
// RDbase is the target processor number (GITS_TYPER.PTA = 0), or
// [CTEUnmappedRDbase] for a collection that is not mapped.
type CTE struct {
	Valid  bool
	RDbase uint64
	ICID   ICID
}

// Encode returns the entry as a little-endian doubleword, or an error if
// RDbase does not fit.
func (e CTE) Encode() (uint64, error) {
	if err := checkRDbase("CTE: RDbase", e.RDbase); err != nil {
		return 0, err
	}
	v := e.RDbase<<16 | uint64(e.ICID)
	if e.Valid {
		v |= validBit
	}
	return v, nil
}

// DecodeCTE decodes a collection table entry.
func DecodeCTE(v uint64) CTE {
	return CTE{Valid: v&validBit != 0, RDbase: (v & rdbaseMask) >> 16, ICID: ICID(v)}
}

// Mapped reports whether the collection targets a redistributor.
func (e CTE) Mapped() bool { return e.Valid && e.RDbase != CTEUnmappedRDbase }

func (e CTE) String() string {
	switch {
	case !e.Valid:
		return "CTE invalid"
	case !e.Mapped():
		return fmt.Sprintf("CTE icid=%d unmapped", e.ICID)
	}
	return fmt.Sprintf("CTE icid=%d rdbase=%d", e.ICID, e.RDbase)
}

// L1Entry is a first-level entry of a two-level (indirect) device table
// (GITS_BASER<n>.Indirect = 1): it points at one page of DTEs.
//
//	 63 62     52 51                16 15      0
//	+--+---------+--------------------+--------+
//	|V |  RES0   |  L2 page [51:16]   |  RES0  |
//	+--+---------+--------------------+--------+
//
// KVM's ABI requires the second-level page to be 64 KiB aligned; the
// architecture requires alignment to the table's page size.
type L1Entry struct {
	Valid bool
	Addr  GPA
}

// L1AddrMask selects the second-level page address of an [L1Entry] (bits
// 51:12: the architecture allows 4 KiB-aligned pages; KVM's ABI uses 51:16).
const L1AddrMask = (uint64(1)<<52 - 1) &^ (1<<12 - 1)

// Encode returns the entry as a little-endian doubleword, or an error if the
// address is not 4 KiB aligned or does not fit 52 bits.
func (e L1Entry) Encode() (uint64, error) {
	if uint64(e.Addr)&^L1AddrMask != 0 {
		return 0, fmt.Errorf("L1 entry: address %v must be page aligned and below 2^52: %w", e.Addr, ErrInvalidArgument)
	}
	v := uint64(e.Addr)
	if e.Valid {
		v |= validBit
	}
	return v, nil
}

// DecodeL1Entry decodes a first-level device table entry.
func DecodeL1Entry(v uint64) L1Entry {
	return L1Entry{Valid: v&validBit != 0, Addr: GPA(v & L1AddrMask)}
}

func (e L1Entry) String() string {
	if !e.Valid {
		return "L1 invalid"
	}
	return fmt.Sprintf("L1 valid l2=%v", e.Addr)
}
