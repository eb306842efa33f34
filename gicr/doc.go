// Package gicr models the LPI side of GICv3 redistributors and the CPU
// interface that takes LPIs: the LPI configuration cache, per-CPU pending
// state, GICR_CTLR / GICR_PROPBASER / GICR_PENDBASER / GICR_INVLPIR /
// GICR_INVALLR, and acknowledge / EOI / priority mask (ICC_IAR1_EL1,
// ICC_EOIR1_EL1, ICC_PMR_EL1).
//
// It owns the LPIs themselves. It does not own translation (package its
// decides which LPI an MSI names) and must not import package its: it
// implements the small interface package its declares
// (its.Redistributors), and backend/sim wires the two. It imports only the
// standard library and package model, and never touches the host.
//
// # LPIs, as Linux KVM models them
//
// An LPI exists while at least one ITS translation entry maps it: MapLPI
// creates it or adds a reference (an INTID mapped by two events is one
// shared LPI, as in KVM), UnmapLPI drops a reference and frees it, pending
// state included, with the last one. When an LPI is created its
// configuration byte is read from the LPI configuration table
// (IHI 0069, 5.1.1) and cached (priority = byte & 0xFC, enable = bit 0),
// and its bit in the target's pending table is consumed (read, then
// cleared). The cached configuration changes only on INV, INVALL,
// GICR_INVLPIR or GICR_INVALLR; the last two are ignored when written
// through a redistributor whose EnableLPIs is 0, whichever CPU the LPI
// targets, as KVM ignores them. A shared LPI keeps the configuration and
// target it had when its first mapping created it.
//
// GICR_PROPBASER is one value shared by every redistributor (KVM: a write
// through any of them sets it); the number of LPI INTID bits is
// min(PROPBASER.IDbits+1, the maxIDBits given to [New]) (KVM: 16). Writes
// to GICR_PROPBASER and GICR_PENDBASER through a redistributor whose
// EnableLPIs is 1 are ignored, as KVM ignores them. PTZ is remembered for
// the next enable but reads as 0.
//
// GICR_CTLR.EnableLPIs 0→1 with PTZ = 0 loads the pending table: every
// existing LPI targeting that CPU whose bit is set becomes pending, and the
// bit is consumed (cleared), as at LPI creation. (KVM's
// its_sync_lpi_pending_table replaces each LPI's pending state with the
// table bit and leaves the bit; gicits adds and consumes, so an LPI made
// pending by a restore before EnableLPIs is not lost, and no stale bit
// comes back later.) EnableLPIs 1→0 keeps the CPU's pending LPIs; while
// EnableLPIs is 0 the CPU is signalled nothing and making an LPI pending
// there fails with an error wrapping [model.ErrBusy] (KVM's EBUSY).
//
// # Pending state and the CPU interface
//
// Each LPI has one 64-bit state word, changed only by atomic operations:
// whether it exists, its target, its cached configuration byte, whether it
// is pending, and a translation generation that an ITS advances
// ([Redistributors.RevokeTranslations]) whenever it ends a translation
// naming the LPI. Making an LPI pending is one compare-and-swap of that
// word; through a translation cache ([Redistributors.PendTranslated]) the
// same compare-and-swap also checks the generation, so a revoked
// translation can never make an LPI pending. Making a pending LPI pending
// again writes nothing (MSIs coalesce). An LPI disabled in the
// configuration table can be pending; it is never acknowledged (KVM:
// "pending but not delivered"). The pending state belongs to the LPI, so
// a retarget (MOVI, MAPC, MOVALL) carries it to the new CPU.
//
// To find pending LPIs without visiting them all, each CPU keeps a hint
// bitmap with one bit per group of 64 INTIDs (and a summary level above
// it): whoever makes an LPI pending sets the group's bit on the target
// after the state word; an acknowledge that finds nothing in a group
// clears the bit and then looks again, so no pending LPI is ever left
// without its hint. Bits are set with a load first, so an MSI usually
// pays for one atomic write in all.
//
// Acknowledge returns the highest-priority (numerically lowest) pending,
// enabled LPI whose priority is below both the priority mask and the
// running priority, lowest INTID among equals, clears its pending state and
// pushes its priority; with no such LPI it returns model.SpuriousINTID. EOI
// pops, and must name the last acknowledged LPI not yet EOId. Priority
// grouping (the binary point) is not modelled: every priority bit takes
// part in preemption (BPR = 0). The priority mask resets to 0xFF, so a fresh
// CPU takes every priority except 0xFF (the value Linux and KVM's guests
// program); the architecture's reset value 0 would mask everything.
//
// # GICv4 virtual LPIs
//
// After [Redistributors.EnableVirtual] (and EnableGICv41) the
// redistributors also keep a record per vPE, found by its virtual LPI
// pending table (GICv4.0) or its vPEID (GICv4.1): its pending vLPIs and
// vSGIs, their cached configuration, and the state of its virtual CPU
// interface, which travels with it. GICR_VPROPBASER and GICR_VPENDBASER
// schedule and deschedule it (virtual.go, virtual41.go); a vLPI for a vPE
// scheduled where it is delivered is pending for its virtual CPU
// interface (vcpuif.go) at once, one for a vPE that is not goes into its
// VPT and rings its doorbell. The delivery through a translation cache
// keeps the physical path's rule: one compare-and-swap that also checks
// the translation's generation, no lock, no allocation.
package gicr
