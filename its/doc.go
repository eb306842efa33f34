// Package its is a functional (untimed) model of the GICv3 Interrupt
// Translation Service (Arm IHI 0069, chapters 5 and 6): its registers, the
// command queue and every GICv3 physical command, MSI translation with a
// translation cache, and Linux KVM's ITS table ABI revision 0 for save and
// restore.
//
// It owns the ITS's state: devices, interrupt translation entries and
// collections, and the device table, ITTs and collection table in guest
// memory. It does not own LPIs: it reaches the redistributors only through
// the [Redistributors] interface, which package gicr implements; it must
// not import package gicr (no package reaches sideways) and imports only the
// standard library and package model. backend/sim wires the two.
//
// # Where state lives
//
// As in QEMU's emulated ITS and in KVM combined: the device table and the
// ITTs live in guest memory and are written through by every command that
// changes them, in the ABI revision 0 entry formats of package model (DTE
// and ITE with next = 0 while live). MAPD V=0 writes a zero DTE and DISCARD
// a zero ITE, as KVM does since 6.13; freeing a device (MAPD V=0, a
// re-MAPD, or a GITS_BASER0 write with Valid=0) also writes a zero ITE
// over each of its live events, and a save zeroes every DTE slot that
// holds no mapped device, so no stale entry survives into a restore. Flat
// and two-level device tables (GITS_BASER0.Indirect) are supported, with
// 4, 16 or 64 KiB pages as
// GITS_BASER says (KVM forces 64 KiB whatever the register holds; gicits
// honours the register). The first-level entries of a two-level table are
// written by guest software; an invalid one leaves the DeviceIDs it covers
// without a DTE (MAPD reports E_ITS_MAPD_DEVICE_OOR, as KVM does, and the
// other commands *_UNMAPPED_DEVICE: the DeviceID fits, nothing maps it). GITS_BASER1 (collections) is flat only: its Indirect bit is
// RAZ/WI.
//
// A GITS_BASER0 write that changes the table while it stays valid (the ITS
// is disabled: it may move, grow, shrink or change level) carries the
// mapped devices along: each live device's DTE is written at its place in
// the new table, and a device that has none there (beyond the new table,
// its L1 entry not valid) is discarded as a Valid=0 write discards it. So
// commands, the MSI walk and a later save see the same devices (KVM keeps
// every device, and never reads the table).
//
// # ITT entry size
//
// An ITT's entries are GITS_TYPER.ITT_entry_size + 1 bytes apart (IHI 0069,
// 12.19.19; 5.2 leaves their format IMPLEMENTATION DEFINED), the size
// [Config.Typer] gives: 8 bytes by default, as KVM's (fixed), 12 as QEMU's
// emulated ITS, anything from 8 ([MinITTEntrySize]) to 16
// ([MaxITTEntrySize]); a GITS_TYPER with less is refused with
// [model.ErrNotSupported], since the entry could not hold an ITE. Whatever
// the size, an entry holds the ABI revision 0 ITE (the same 8 bytes KVM
// saves) in its first 8 bytes and zeros in the rest: every write (MAPTI,
// MOVI, DISCARD, freeing a device, a save) writes the whole entry; a read
// (the MSI walk, a restore) decodes the first 8 bytes and ignores the rest.
// So EventID n's ITE is at ITT_addr + n × size, and an ITT of b EventID
// bits takes 2^b × size bytes ([model.ITTSize]). QEMU's own layout of the
// 12 bytes is not modelled, only its stride: a table QEMU wrote is not
// restored, nor the reverse. Device and collection table entries stay 8
// bytes (GITS_BASER<n>.Entry_Size).
//
// The ITS also keeps its own record of every device and event, so a command
// never trusts guest memory for what it changed itself. The MSI slow path
// walks guest memory (DTE, through the L1 entry when indirect, then the
// ITE) as QEMU does and cross-checks what it read against that record: an
// entry that guest software overwrote while the ITS owns it
// (UNPREDICTABLE) translates to nothing.
//
// Collections live inside the ITS only, in an array indexed by ICID (absent,
// mapped to a CPU, or existing but unmapped), and reach the collection table
// only by [ITS.SaveTables]: the ABI revision 0 CTE list, sorted by ICID,
// then a zero terminator when room remains. ICIDs are checked against the
// collection table size, as KVM checks them; a GITS_BASER1 write that
// shrinks the table while valid discards the collections it can no longer
// hold (orphaning their events), so that a save never writes a CTE a
// restore would refuse.
//
// # Translation cache
//
// Successful slow-path translations (MSI or INT) fill a cache from
// (DeviceID, EventID) to the INTID and the LPI's translation generation,
// read without locks: dense per-device arrays for IDs below 2^16 (all of
// KVM's range), an open-addressing hash table above (see cache.go). The
// target CPU is not cached: it is read from the LPI's state word on every
// MSI, so a retarget needs no flush to take effect. Entries are removed
// exactly where the architecture ends a translation: DISCARD and MOVI
// (that event), MAPD of a mapped device (its events), MAPC (the events of
// that collection), and the whole cache on MOVALL, ITS disable, a
// GITS_BASER change, a successful restore and GICR_CTLR.EnableLPIs 1→0
// ([ITS.StopTranslations]). Each removal also revokes the LPI's generation
// (all of them, for a flush), which ends the cached translations of other
// events sharing the LPI too. With the cache turned off every MSI walks
// the tables in guest memory.
//
// The cache and the walk agree on every MSI, with one exception the
// architecture leaves UNPREDICTABLE: guest memory under a live DTE or ITE
// changing behind the ITS's back (software overwriting a live table, two
// devices' ITTs overlapping, a table overlapping another structure the
// ITS or a redistributor writes). The walk checks guest memory against
// the ITS's own record and blocks the MSI at once; a cached translation
// keeps delivering what the record says until a command invalidates it,
// as a hardware ITS that caches entries would. (KVM never reads the
// tables after the commands; QEMU reads nothing else.)
//
// # Concurrency
//
// Commands, register accesses, save and restore run under the ITS mutex.
// The MSI fast path takes no lock: it looks the entry up, then asks the
// redistributors to make the LPI pending only if its generation is still
// the cached one, with the check and the pending bit in one
// compare-and-swap on the LPI's state word. An invalidation revokes the
// generation before the LPI is moved or freed, so a stale hit can never
// overtake the command that invalidated it (the race behind
// CVE-2024-26598): its compare-and-swap fails and the MSI takes the slow
// path, which holds the ITS mutex for reading while it walks, makes the
// LPI pending and fills the cache. An MSI to an LPI already pending writes
// nothing shared at all, so MSIs on different cores do not contend.
//
// # Command queue
//
// Commands are processed synchronously inside the GITS_CWRITER write (as in
// KVM), read from guest memory at GITS_CBASER + GITS_CREADR, wrapping at the
// end of the queue, only while GITS_CTLR.Enabled is 1. Every command applies
// KVM's checks, plus the DeviceID, EventID and ICID widths of GITS_TYPER,
// and reports the first thing missing with its own command's code (see
// [model.ErrorCode]): a DeviceID beyond GITS_TYPER.Devbits or the device
// table is *_DEVICE_OOR, an unmapped device *_UNMAPPED_DEVICE, an EventID
// beyond the device's ITT *_ID_OOR, an unmapped event
// *_UNMAPPED_INTERRUPT, and an ICID beyond the collection table
// *_COLLECTION_OOR (KVM folds the first four into *_UNMAPPED_INTERRUPT,
// reports MAPI with MAPTI's codes and an ICID out of range as MAPC's, all
// internally). Every failure is reported as a [*model.CommandError]; the
// errors of one CWRITER write are joined into the error it returns. With
// [model.ContinueOnError] GITS_CREADR moves past a failing command (KVM);
// with [model.StallOnError] it stays on it and GITS_CREADR.Stalled is set
// (IHI 0069, 6.2.3). A stalled queue processes nothing until software
// writes GITS_CWRITER with Retry (bit 0) set, which clears Stalled and
// executes the stalled command again; to skip it instead, software disables
// the ITS, writes GITS_CREADR past it (which clears Stalled) and enables the
// ITS again. Unknown opcodes, and GICv4 ones on an ITS without
// GITS_TYPER.Virtual, are reported with the
// [*model.OpcodeError] as Cause and otherwise ignored (KVM ignores them); a
// command that cannot be read from guest memory is reported with the
// [*model.MemoryError] as Cause. INT of an LPI whose redistributor has
// GICR_CTLR.EnableLPIs 0 is ignored, not an error (IHI 0069 12.11.2; KVM
// drops its EBUSY), so it never stalls the queue. SYNC does nothing: every command's effect
// is visible when it completes. MAPTI over a mapped event leaves it
// unchanged (KVM). MAPTI while GICR_PROPBASER is unset is refused with
// E_ITS_MAPTI_PHYSICALID_OOR, as KVM's check refuses it (silently there;
// reported here with a Detail saying why).
//
// MAPC V=0 does not check RDbase, which means something only when V=1
// (QEMU agrees; KVM 6.1 refuses an RDbase beyond its vCPUs: fidelity
// catalogue entry mapc-v0-rdbase). It orphans the events of the collection
// as KVM does: they keep
// their mapping but cannot fire (MSI and INT blocked; MOVI and DISCARD
// refused), and a later MAPC V=1 of the same ICID does not re-attach them;
// only MAPD frees them. MAPTI naming an ICID that does not exist creates it,
// unmapped; a later MAPC V=1 attaches it. MOVALL moves the LPIs whose
// target is RDbase1 only, as the architecture says (KVM since 2024 moves
// every LPI: a known divergence).
//
// # Save and restore
//
// [ITS.SaveTables] and [ITS.RestoreTables] follow
// Documentation/virt/kvm/devices/arm-vgic-its.rst byte for byte: DTEs with
// next chaining in DeviceID order, ITEs with next chaining in EventID order,
// a next delta too large for its field saved as the field's maximum (as KVM
// does: restore then lands on a zero entry and steps one entry at a time to
// the next valid one). Restore reads collections first, then devices and
// their ITTs, then recreates the LPIs (configuration read, pending bit
// consumed). It builds the new state aside and swaps it in only when every
// entry checked out, so a failed restore leaves the ITS as it was, and
// replaces the whole previous state when it succeeds. It refuses what KVM
// refuses: an ITE whose next leads past its ITT, a CTE or ITE naming what
// does not exist. A CTE's RDbase is decoded as the ABI document's bits
// 51:16 (KVM keeps bits 47:16 and drops the rest).
//
// An orphaned event (MAPC V=0) is saved as a zero ITE, as KVM does since
// 6.1.191 and 6.12.113 (6.12.95 oopses: fidelity catalogue entry
// save-orphan-oops): ABI revision 0 has no ITE that keeps an event unable to
// fire, since its ICID names a collection a restore would attach it to.
// The restored event is unmapped: blocked, as it was, though a MAPTI may
// now map its EventID again. A save with GITS_BASER1 not valid writes no
// collection table (the ITS owns no memory there; KVM returns early too).
//
// # Registers
//
// GITS_IIDR reads 0x4B00043B, KVM's value (ABI revision 0); a write must
// hold revision 0. GITS_PIDR2 reads 0x3B (GICv3). Writes to GITS_BASER<n>
// and GITS_CBASER while enabled are ignored; a GITS_BASER<n> write whose
// Valid bit is 0 discards every device (n = 0) or collection (n = 1), as
// KVM does; a GITS_CBASER write sets GITS_CREADR and GITS_CWRITER to 0; a
// GITS_CWRITER offset beyond the queue is ignored whole; GITS_CTLR.Enabled
// stays 0 until GITS_BASER0, GITS_BASER1 and GITS_CBASER are all Valid;
// GITS_CREADR is writable only while disabled (else an error wrapping
// [model.ErrBusy], KVM's EBUSY). A 32-bit access to half of a 64-bit
// register fails with an error wrapping [model.ErrInvalidArgument].
//
// # GICv4 and several ITSes
//
// With GITS_TYPER.Virtual the ITS is a GICv4.0 one (with VMAPP, bit 40, a
// GICv4.1 one): GITS_BASER2 holds the vPE table, the V* commands run with
// their checks and error codes (virtual.go, virtual41.go), and an event
// mapped to a vLPI is delivered through [VirtualRedistributors], which the
// redistributors implement: to the vPE scheduled on its redistributor, or
// into its virtual LPI pending table with its doorbell rung. Several ITSes
// sharing one set of redistributors are linked ([Link], peers.go): each
// has its own number (GITS_CTLR.ITS_Number), and VMOVP moves a vPE on all
// of them (GITS_TYPER.VMOVP = 1) or, with ITSList and SequenceNumber, on
// each as software sends it (VMOVP = 0).
package its
