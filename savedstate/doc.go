// Package savedstate owns the saved-state file of gicits: what an ITS and
// its redistributors hold, taken from one backend ([Capture]) and given to
// another ([Restore]), so that the simulator can start from what a real
// KVM VM saved, and KVM from what the simulator did.
//
// A [State] carries what a restore needs and nothing else: the machine it
// came from (CPU count, [model.Layout], the backend's name), the ITS
// registers (GITS_CTLR, GITS_IIDR, GITS_TYPER, GITS_CBASER, GITS_CREADR,
// GITS_CWRITER, GITS_BASER0 and GITS_BASER1), each CPU's GICR_CTLR,
// GICR_PROPBASER and GICR_PENDBASER, and the guest memory the tables lie
// in, as KVM_DEV_ARM_ITS_SAVE_TABLES and
// KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES ([model.Backend.SaveTables]) leave
// it: the device table and its level-2 pages, every mapped device's ITT,
// the collection table, the LPI configuration table, every pending table,
// and the command queue.
//
// It works through package model only, as package inspect does: it never
// imports a backend and never touches the host. It changes a backend only
// in [Capture] (which saves the tables into guest memory first) and in
// [Restore]. It never panics on a file: [Parse] reports what is wrong as a
// [*FormatError] naming the byte offset and the field.
//
// # Restore order
//
// KVM creates an LPI's pending state from its pending-table bit when
// RESTORE_TABLES re-creates the LPI (vgic_v3_lpi_sync_pending_status), and
// a GICR_CTLR.EnableLPIs 0→1 afterwards would replace that state with the
// bit the restore consumed. So [Restore] programs the redistributors and
// writes guest memory before it restores the ITS, the order a VMM
// restores a guest in (Documentation/virt/kvm/devices/arm-vgic-its.rst):
// GITS_CTLR cleared; GICR_PROPBASER and GICR_PENDBASER; the memory; GITS_CBASER,
// GITS_CREADR, GITS_CWRITER, GITS_BASER0, GITS_BASER1; GICR_CTLR.EnableLPIs
// where it was set; RestoreTables; GITS_CTLR.Enabled last.
//
// # File format, version 1
//
// All integers are little-endian. Offsets up to the source name are fixed;
// the rest follow one another with no padding:
//
//	offset  size    field
//	0       8       magic "GICITSST"
//	8       2       version: 1
//	10      2       flags: 0 (every bit reserved)
//	12      4       length of the whole file in bytes, checksum included
//	16      1       n: length of the source backend's name
//	17      n       the name, printable ASCII, 1..32 bytes ("sim", "kvm")
//	        4       CPUs, 1..MaxCPUs of the layout
//	        22×8    the layout, model.Layout's fields in order: GICDBase,
//	                ITSBase, GICRBase, RAMBase, RAMSize, CommandQueue,
//	                CommandQueuePages, DeviceTable, DeviceTablePageSize,
//	                DeviceTablePages, DeviceTableIndirect (0 or 1),
//	                CollectionTable, CollectionTablePageSize,
//	                CollectionTablePages, PropTable, LPIIDBits, PendTables,
//	                Scratch, ScratchSize, ITTs, ITTsSize, MaxCPUs
//	                (a file holds one ITS: a layout's ITSes and
//	                ExtraITSBase are not in it, and read as 0, one ITS)
//	        8×8     GITS_CTLR, GITS_IIDR, GITS_TYPER, GITS_CBASER,
//	                GITS_CREADR, GITS_CWRITER, GITS_BASER0, GITS_BASER1
//	        CPUs×3×8  per CPU: GICR_CTLR, GICR_PROPBASER, GICR_PENDBASER
//	        4       region count
//	        …       the regions, each:
//	                  1  kind (RegionKind: 1 device table, 2 device table
//	                     page, 3 ITT, 4 collection table, 5 LPI
//	                     configuration table, 6 pending table, 7 command
//	                     queue)
//	                  3  reserved: 0
//	                  4  owner: the DeviceID of an ITT, the CPU of a pending
//	                     table, the level-1 index of a device table page;
//	                     0 for the others
//	                  8  guest physical address
//	                  8  size in bytes, 1..MaxRegionSize
//	                  4  extent count
//	                  …  the extents, each: 4 offset in the region, 4 length
//	                     (at least 1), then the bytes; ascending, not
//	                     overlapping. Every byte of the region outside
//	                     them is zero.
//	        4       CRC-32C (Castagnoli) of every byte before it
//
// A file is valid when, besides the above: the layout passes
// [model.Layout.Validate] for the CPU count; GITS_IIDR says ITS table ABI
// revision 0 and GITS_TYPER ITT entries of at least 8 bytes (the ITE in
// the first 8 of each: KVM's are 8 bytes, QEMU's 12); GITS_CREADR and
// GITS_CWRITER lie inside the command queue; every region lies in the
// layout's RAM, outside its scratch area; a region's kind and owner
// appear once; the device table, collection table and command queue
// regions are exactly where and as large as GITS_BASER0, GITS_BASER1 and
// GITS_CBASER say, and present when the register is valid; the LPI
// configuration table and each pending table start where GICR_PROPBASER
// (of CPU 0) and that CPU's GICR_PENDBASER point, are present when the
// address is not 0, and are no larger than GICR_PROPBASER.IDbits allows;
// a device table page is one page of an indirect GITS_BASER0, its owner
// inside the level-1 table; an ITT is 256-byte aligned and its owner fits
// GITS_TYPER.Devbits.
//
// A version this package does not know is refused, naming it; a later
// version changes the version number.
package savedstate
