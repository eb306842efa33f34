package model

import (
	"errors"
	"fmt"
)

// Layout is the guest physical memory map shared by both backends: where
// the GIC's register frames are, where RAM is, and where the ITS and LPI
// tables go. A test or workload that programs tables through a Layout does
// the same thing on the simulator and on KVM.
//
// The default ([DefaultLayout]) follows QEMU's virt machine for the GIC
// frames and puts one RAM memslot at 0x4000_0000:
//
//	0x0800_0000  GICD   64 KiB
//	0x0808_0000  GITS  128 KiB   (doorbell GITS_TRANSLATER at +0x1_0040)
//	0x080A_0000  GICR  128 KiB per CPU
//	0x4000_0000  RAM    64 MiB:
//	  +0x000_0000  command queue        64 KiB (2048 commands)
//	  +0x001_0000  device table        512 KiB (flat, 65536 DTEs)
//	  +0x009_0000  collection table     64 KiB (8192 CTEs)
//	  +0x010_0000  LPI property table   56 KiB (INTIDs 8192..65535)
//	  +0x020_0000  pending tables       64 KiB per CPU (at most 32 CPUs)
//	  +0x040_0000  scratch               4 MiB (a backend's own use)
//	  +0x080_0000  ITTs and second-level device table pages, to the end
//
// With several ITSes (ITSes > 1), ITS i >= 1 has its frames at
// 0x0850_0000 + (i-1)*128 KiB, after the frames of 32 redistributors, and
// its tables at the top of the ITT area ([Layout.ForITS]).
type Layout struct {
	GICDBase GPA // distributor frame, 64 KiB
	ITSBase  GPA // ITS control frame and translation frame, 128 KiB
	GICRBase GPA // redistributor frames, 128 KiB per CPU (RD_base, SGI_base)

	RAMBase GPA    // the one RAM range (memslot)
	RAMSize uint64 // in bytes

	CommandQueue      GPA // GITS_CBASER; 64 KiB aligned (KVM masks bits 15:12)
	CommandQueuePages int // 4 KiB pages, 1..256

	DeviceTable         GPA  // GITS_BASER0
	DeviceTablePageSize int  // PageSize4K, PageSize16K or PageSize64K
	DeviceTablePages    int  // 1..256
	DeviceTableIndirect bool // two-level: the table holds L1 entries

	CollectionTable         GPA // GITS_BASER1
	CollectionTablePageSize int
	CollectionTablePages    int

	PropTable GPA // GICR_PROPBASER, shared by all redistributors
	LPIIDBits int // GICR_PROPBASER.IDbits + 1: INTIDs below 2^LPIIDBits

	PendTables GPA // CPU n's GICR_PENDBASER is PendTables + n*PendTableStride()

	Scratch     GPA // reserved for the backend's own use (the kvm guest program)
	ScratchSize uint64

	ITTs     GPA // where guest software allocates ITTs and L2 device table pages
	ITTsSize uint64

	MaxCPUs int // pending tables are reserved for this many CPUs

	// ITSes is the number of ITSes, 1..MaxITSes (0 means 1). ITS 0 is the
	// one above; ITS i >= 1 has its frames at ExtraITSBase + (i-1)*128 KiB
	// and its command queue, device table and collection table (each
	// sized as ITS 0's) at the top of the ITT area, which they take from
	// it ([Layout.ForITS]).
	ITSes        int
	ExtraITSBase GPA
}

// DefaultLayout returns the layout described on [Layout].
func DefaultLayout() Layout {
	const ram = GPA(0x4000_0000)
	return Layout{
		GICDBase: 0x0800_0000,
		ITSBase:  0x0808_0000,
		GICRBase: 0x080A_0000,

		RAMBase: ram,
		RAMSize: 64 << 20,

		CommandQueue:      ram,
		CommandQueuePages: 16,

		DeviceTable:         ram + 0x1_0000,
		DeviceTablePageSize: PageSize64K,
		DeviceTablePages:    8,

		CollectionTable:         ram + 0x9_0000,
		CollectionTablePageSize: PageSize64K,
		CollectionTablePages:    1,

		PropTable: ram + 0x10_0000,
		LPIIDBits: 16,

		PendTables: ram + 0x20_0000,
		MaxCPUs:    32,

		Scratch:     ram + 0x40_0000,
		ScratchSize: 4 << 20,

		ITTs:     ram + 0x80_0000,
		ITTsSize: 56 << 20,

		ExtraITSBase: 0x0850_0000,
	}
}

// Doorbell returns the address devices write MSIs to: GITS_TRANSLATER.
func (l Layout) Doorbell() GPA { return l.ITSBase + GPA(GITS_TRANSLATER) }

// GICRSize is the size of one redistributor's frames (RD_base + SGI_base).
const GICRSize = 128 << 10

// PropTableSize returns the size in bytes of the LPI configuration table:
// one byte per LPI below 2^LPIIDBits.
func (l Layout) PropTableSize() uint64 { return 1<<l.LPIIDBits - uint64(LPIBase) }

// PendTableSize returns the size in bytes of one pending table: one bit per
// INTID below 2^LPIIDBits (the first 1 KiB covers non-LPIs and is unused).
func (l Layout) PendTableSize() uint64 { return 1 << l.LPIIDBits / 8 }

// PendTableStride returns the distance between two CPUs' pending tables:
// the table size rounded up to 64 KiB.
func (l Layout) PendTableStride() uint64 { return (l.PendTableSize() + 0xFFFF) &^ 0xFFFF }

// PendTable returns the address of CPU cpu's pending table.
func (l Layout) PendTable(cpu CPU) GPA { return l.PendTables + GPA(uint64(cpu)*l.PendTableStride()) }

// MaxINTID returns the largest LPI INTID the layout's property table covers.
func (l Layout) MaxINTID() INTID { return INTID(1<<l.LPIIDBits - 1) }

// PropBaser returns the GICR_PROPBASER value of the layout.
func (l Layout) PropBaser() (PropBaser, error) { return MakePropBaser(l.PropTable, l.LPIIDBits) }

// PendBaser returns CPU cpu's GICR_PENDBASER value. ptz says the table is
// known to be zero.
func (l Layout) PendBaser(cpu CPU, ptz bool) (PendBaser, error) {
	return MakePendBaser(l.PendTable(cpu), ptz)
}

// CBASER returns the GITS_CBASER value of the layout.
func (l Layout) CBASER() (CBASER, error) { return MakeCBASER(l.CommandQueue, l.CommandQueuePages) }

// DeviceBaser returns the GITS_BASER value programming the layout's device
// table into reset, the register's reset value (for its Type and
// Entry_Size).
func (l Layout) DeviceBaser(reset Baser) (Baser, error) {
	return reset.WithTable(l.DeviceTable, l.DeviceTablePageSize, l.DeviceTablePages, l.DeviceTableIndirect)
}

// CollectionBaser returns the GITS_BASER value programming the layout's
// collection table into reset.
func (l Layout) CollectionBaser(reset Baser) (Baser, error) {
	return reset.WithTable(l.CollectionTable, l.CollectionTablePageSize, l.CollectionTablePages, false)
}

type region struct {
	name  string
	addr  GPA
	size  uint64
	align uint64
}

// Validate checks that every table lies inside RAM, aligned as the
// architecture and KVM require, with no two overlapping, for cpus CPUs. The
// error names the first region at fault.
func (l Layout) Validate(cpus int) error {
	if cpus < 1 || cpus > l.MaxCPUs {
		return fmt.Errorf("layout: %d CPUs out of range 1..%d: %w", cpus, l.MaxCPUs, ErrInvalidArgument)
	}
	if l.LPIIDBits < 14 || l.LPIIDBits > 32 {
		return fmt.Errorf("layout: LPIIDBits %d out of range 14..32: %w", l.LPIIDBits, ErrInvalidArgument)
	}
	if _, err := l.RAMBase.Add(l.RAMSize); err != nil {
		return fmt.Errorf("layout: RAM: %w", err)
	}
	if _, err := l.CBASER(); err != nil {
		return fmt.Errorf("layout: %w", err)
	}
	dev, err := l.DeviceBaser(MakeBaser(BaserDevices, TableEntrySize))
	if err != nil {
		return fmt.Errorf("layout: device table: %w", err)
	}
	coll, err := l.CollectionBaser(MakeBaser(BaserCollections, TableEntrySize))
	if err != nil {
		return fmt.Errorf("layout: collection table: %w", err)
	}
	regions := []region{
		{"command queue", l.CommandQueue, uint64(l.CommandQueuePages) * 4096, 64 << 10},
		{"device table", l.DeviceTable, dev.SizeBytes(), uint64(l.DeviceTablePageSize)},
		{"collection table", l.CollectionTable, coll.SizeBytes(), uint64(l.CollectionTablePageSize)},
		{"LPI property table", l.PropTable, l.PropTableSize(), 4096},
		{"pending tables", l.PendTables, uint64(l.MaxCPUs) * l.PendTableStride(), 64 << 10},
		{"scratch", l.Scratch, l.ScratchSize, 4096},
		{"ITT area", l.ITTs, l.ITTsSize, 64 << 10},
	}
	if err := l.validateITSes(cpus); err != nil {
		return err
	}
	var errs []error
	for i, r := range regions {
		end, err := r.addr.Add(r.size)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("layout: %s: %w", r.name, err))
		case !r.addr.IsAligned(r.align):
			errs = append(errs, fmt.Errorf("layout: %s at %v is not %d-byte aligned: %w", r.name, r.addr, r.align, ErrInvalidArgument))
		case r.addr < l.RAMBase || end > l.RAMBase+GPA(l.RAMSize):
			errs = append(errs, fmt.Errorf("layout: %s [%v, %v) is outside RAM [%v, %#x): %w", r.name, r.addr, end, l.RAMBase, uint64(l.RAMBase)+l.RAMSize, ErrInvalidArgument))
		}
		for _, o := range regions[:i] {
			if r.addr < o.addr+GPA(o.size) && o.addr < r.addr+GPA(r.size) {
				errs = append(errs, fmt.Errorf("layout: %s [%v, +%#x) overlaps %s [%v, +%#x): %w", r.name, r.addr, r.size, o.name, o.addr, o.size, ErrInvalidArgument))
			}
		}
	}
	return errors.Join(errs...)
}

// ITTSize returns the size in bytes of an ITT for eventIDBits EventID bits
// with entries of entrySize bytes, rounded up to the 256-byte alignment ITT
// addresses need.
func ITTSize(eventIDBits, entrySize int) uint64 {
	n := uint64(1)<<eventIDBits*uint64(entrySize) + 255
	return n &^ 255
}

// Allocator hands out guest memory from one region, as guest software
// allocates ITTs and second-level device table pages. It never frees.
type Allocator struct {
	next, end GPA
}

// NewAllocator returns an allocator over [base, base+size).
func NewAllocator(base GPA, size uint64) *Allocator {
	return &Allocator{next: base, end: base + GPA(size)}
}

// ITTAllocator returns an allocator over the layout's ITT area, less the
// tables of ITSes 1 and up at its top.
func (l Layout) ITTAllocator() *Allocator {
	return NewAllocator(l.ITTs, l.ITTsSize-uint64(l.ITSCount()-1)*l.itsTablesSize())
}

// Alloc returns size bytes aligned to align (a power of two), or an error
// when the region is exhausted.
func (a *Allocator) Alloc(size, align uint64) (GPA, error) {
	p := (a.next + GPA(align-1)) &^ GPA(align-1)
	if p < a.next || size > uint64(a.end-p) || p > a.end {
		return 0, fmt.Errorf("guest allocator: no room for %d bytes aligned to %d (at %v, region ends at %v): %w", size, align, a.next, a.end, ErrOutOfRange)
	}
	a.next = p + GPA(size)
	return p, nil
}
