package gicr

import (
	"fmt"
	"sync/atomic"

	"github.com/gicits/gicits/model"
)

// This file is the GICv4.1 side of the redistributors (IHI 0069H, chapter
// 8; the section numbers below are inferred from a table of contents):
// residency by vPEID (8.6), default doorbells (8.5), vSGIs (8.8) and
// register-based vLPI invalidation (8.7).
//
// How a redistributor finds a vPE by its vPEID. In GICv4.1
// GICR_VPENDBASER names a vPEID, and with a vPE table shared between the
// ITSes and the redistributors (GITS_TYPER.SVPET != 0) a redistributor
// reads the vPE's entry from the table GICR_VPROPBASER points at. The
// simulator's vPE table entry has room for the VPT only, so the model
// shares the record VMAPP made instead: [Redistributors.MapVPE41] keys the
// vPE's state by vPEID (its VPT, VPT_size, VCONF_addr, Default_Doorbell),
// and GICR_VPENDBASER, GICR_VSGIR and GICR_INVLPIR/INVALLR with V look it
// up there. GICR_VPROPBASER (4.1 form) must be Valid before a vPE is
// scheduled (setting Valid otherwise is UNPREDICTABLE; the model refuses
// it), but its table is not read.

// gicv41 is the GICv4.1 state of a set of redistributors.
type gicv41 struct {
	// individualDB is !GITS_TYPER.nID: per-event doorbells ring too.
	individualDB bool
	// byVPEID is the shared vPE record: every vPE a VMAPP mapped, under
	// Redistributors.mu.
	byVPEID map[model.VPEID]*vpe
	// vgrp holds, per redistributor, the group enables of the resident
	// vPE (bit 0 VGrp0En, bit 1 VGrp1En); vsgir GICR_VSGIR as written.
	vgrp  []atomic.Uint32
	vsgir []atomic.Uint32
}

// vsgiConfig is the configuration of one vSGI (VSGI with Clear 0).
type vsgiConfig struct {
	enable, group1 bool
	priority       uint8
}

// EnableGICv41 makes the redistributors GICv4.1 ones: GICR_TYPER reads
// VLPIS, Dirty, RVPEID and VSGI; GICR_VPROPBASER and GICR_VPENDBASER take
// their GICv4.1 forms; GICR_VSGIR and GICR_VSGIPENDR work. Without
// individualDoorbells (GITS_TYPER.nID = 1) per-event doorbells are not
// rung. Call it before use.
func (r *Redistributors) EnableGICv41(individualDoorbells bool) {
	r.EnableVirtual()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.v41.Load() != nil {
		return
	}
	r.v41.Store(&gicv41{
		individualDB: individualDoorbells,
		byVPEID:      map[model.VPEID]*vpe{},
		vgrp:         make([]atomic.Uint32, len(r.cpus)),
		vsgir:        make([]atomic.Uint32, len(r.cpus)),
	})
}

// GICv41 reports whether [Redistributors.EnableGICv41] was called.
func (r *Redistributors) GICv41() bool { return r.v41.Load() != nil }

// individualDoorbells reports whether per-event doorbells ring: always on
// GICv4.0, on GICv4.1 unless GITS_TYPER.nID.
func (r *Redistributors) individualDoorbells() bool {
	g := r.v41.Load()
	return g == nil || g.individualDB
}

// MapVPE41 records vPE vpeid (GICv4.1 VMAPP, V = 1) and returns its
// handle: its VPT (vpt, 64 KiB aligned, vintidBits = VPT_size + 1 bits),
// its vLPI configuration table (VCONF_addr), its default doorbell
// (model.NoDoorbell: none), and knownZero (PTZ with Alloc: the first
// scheduling need not read the VPT). The vPE's state is still keyed by its
// VPT, so a vPEID mapped again to the same VPT keeps its pending state.
func (r *Redistributors) MapVPE41(vpeid model.VPEID, vpt model.GPA, vintidBits int, vconf model.GPA, defaultDB model.INTID, knownZero bool) (uint32, error) {
	g := r.v41.Load()
	if g == nil {
		return 0, fmt.Errorf("gicr: GICv4.1 VMAPP to GICv4.0 redistributors (GICR_TYPER.RVPEID = 0): %w", model.ErrNotSupported)
	}
	if vintidBits < 14 || vintidBits > r.maxIDBits {
		return 0, fmt.Errorf("gicr: vPE %d: %d vINTID bits; want 14..%d: %w", vpeid, vintidBits, r.maxIDBits, model.ErrInvalidArgument)
	}
	if defaultDB >= 1<<24 {
		return 0, fmt.Errorf("gicr: vPE %d: default doorbell %d does not fit 24 bits: %w", vpeid, defaultDB, model.ErrInvalidArgument)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	v, err := r.vpeLocked(vpt)
	if err != nil {
		return 0, err
	}
	v.mu.Lock()
	v.mapped41, v.vpeid, v.vconf, v.vbits = true, vpeid, vconf, vintidBits
	if knownZero {
		// The table is declared zero now: what the record held from before
		// is gone, and the next scheduling reads nothing; what is
		// delivered from here on is kept (scheduleVPE).
		v.ptz = true
		v.each(func(w *atomic.Uint64, _ model.INTID) { w.And(^vPending) })
	}
	v.mu.Unlock()
	v.defaultDB.Store(uint32(defaultDB))
	if old := g.byVPEID[vpeid]; old != nil && old != v {
		old.mu.Lock()
		old.mapped41 = false
		old.mu.Unlock()
	}
	g.byVPEID[vpeid] = v
	return v.handle, nil
}

// UnmapVPE41 forgets vPE vpeid (GICv4.1 VMAPP, V = 0) when dealloc (Alloc:
// the last ITS that mapped it unmaps it): no redistributor finds it by its
// vPEID any more. Without dealloc another ITS still maps it, and the
// record stays.
func (r *Redistributors) UnmapVPE41(vpeid model.VPEID, dealloc bool) {
	g := r.v41.Load()
	if g == nil || !dealloc {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(g.byVPEID, vpeid)
}

// InvalidateDoorbell carries out INVDB for vPE h: the redistributors drop
// what they cached of the vPE's default doorbell, an LPI whose
// configuration (enable, priority) is in the LPI configuration table, and
// read it again. Linux masks and unmasks a GICv4.1 vPE's doorbell so:
// write the byte, then INVDB (its mask/unmask callbacks; the reference
// client, not the spec). INVDB neither rings the doorbell nor changes
// whether it is requested.
func (r *Redistributors) InvalidateDoorbell(h uint32) {
	v := r.vpeOf(h)
	if v == nil {
		return
	}
	if db := model.INTID(v.defaultDB.Load()); db != model.NoDoorbell {
		r.InvalidateLPI(db)
	}
}

// takeDefaultDoorbell returns the default doorbell to ring for vINTID
// vintid (a vLPI, or a vSGI below 16) made pending while v is not
// resident, disarming it, or model.NoDoorbell: only a GICv4.1 vPE whose
// last deschedule asked for the doorbell (and had no enabled pending
// interrupt) rings it, once, and only for an enabled interrupt. Called
// with v.mu held.
func (r *Redistributors) takeDefaultDoorbell(v *vpe, vintid model.INTID) model.INTID {
	if !v.mapped41 || !v.dbArmed.Load() {
		return model.NoDoorbell
	}
	if vintid >= model.LPIBase {
		if cfg, err := r.readVConfig(nil, v, vintid); err != nil || !cfg.Enabled() {
			return model.NoDoorbell
		}
	}
	db := model.INTID(v.defaultDB.Load())
	if db == model.NoDoorbell || !v.dbArmed.CompareAndSwap(true, false) {
		return model.NoDoorbell
	}
	return db
}

// ---- vSGIs ----

// ConfigureVSGI writes the configuration of vSGI sgi (0..15) of vPE h
// (VSGI with Clear 0): its pending state is left as it is.
func (r *Redistributors) ConfigureVSGI(h uint32, sgi uint8, enable, group1 bool, priority uint8) error {
	v, err := r.vsgiTarget(h, sgi)
	if err != nil {
		return err
	}
	v.ifMu.Lock()
	v.sgiCfg[sgi] = vsgiConfig{enable: enable, group1: group1, priority: priority}
	v.ifMu.Unlock()
	return nil
}

// ClearVSGI removes the pending state of vSGI sgi of vPE h (VSGI with
// Clear 1): its configuration is left as it is.
func (r *Redistributors) ClearVSGI(h uint32, sgi uint8) error {
	v, err := r.vsgiTarget(h, sgi)
	if err != nil {
		return err
	}
	v.sgiPending.And(^(uint32(1) << sgi))
	return nil
}

// PendVSGI makes vSGI sgi of vPE h pending (GITS_SGIR). A vPE resident
// anywhere sees it at once; one that is not keeps it in its record and, if
// the vSGI is enabled and the vPE's default doorbell is armed, rings that
// on the redistributor ITS its delivers the vPE's interrupts to.
func (r *Redistributors) PendVSGI(h uint32, its int, sgi uint8) error {
	v, err := r.vsgiTarget(h, sgi)
	if err != nil {
		return err
	}
	bit := uint32(1) << sgi
	if v.sgiPending.Or(bit)&bit != 0 {
		return nil // already pending
	}
	r.mu.Lock()
	_, resident := r.residentOn(v)
	r.mu.Unlock()
	if resident {
		return nil
	}
	v.ifMu.Lock()
	enabled := v.sgiCfg[sgi].enable
	v.ifMu.Unlock()
	if !enabled {
		return nil
	}
	v.mu.Lock()
	ring := r.takeDefaultDoorbell(v, model.INTID(sgi))
	v.mu.Unlock()
	if ring != model.NoDoorbell {
		r.ringDoorbell(r.cpus[v.target[its].Load()], ring)
	}
	return nil
}

func (r *Redistributors) vsgiTarget(h uint32, sgi uint8) (*vpe, error) {
	if sgi > 15 {
		return nil, fmt.Errorf("gicr: vINTID %d is not a vSGI (0..15): %w", sgi, model.ErrInvalidArgument)
	}
	v := r.vpeOf(h)
	if v == nil {
		return nil, fmt.Errorf("gicr: no vPE with handle %d: %w", h, model.ErrInvalidArgument)
	}
	return v, nil
}

// enabledVSGIPending reports whether v has a pending, enabled vSGI.
func (v *vpe) enabledVSGIPending() bool {
	p := v.sgiPending.Load()
	if p == 0 {
		return false
	}
	v.ifMu.Lock()
	defer v.ifMu.Unlock()
	for i := range v.sgiCfg {
		if p>>i&1 != 0 && v.sgiCfg[i].enable {
			return true
		}
	}
	return false
}

// ---- registers ----

// Writable bits of GICR_VPROPBASER, GICv4.1 form: Valid 63, OuterCache
// 58:56, Indirect 55, Page_Size 54:53, Z 52, Physical_Address 51:12,
// Shareability 11:10, InnerCache 9:7, Size 6:0. Entry_Size (61:59) is
// read-only 0: one doubleword, the simulator's 8-byte vPE table entry.
const vpropBaser41Mask = model.GICR_VPROPBASER41_Valid | uint64(7)<<56 | model.GICR_VPROPBASER41_Indirect | uint64(3)<<53 | model.GICR_VPROPBASER41_Z | (uint64(1)<<52-1)&^(uint64(1)<<12-1) | 0xF80 | 0x7F

// Writable bits of GICR_VPENDBASER, GICv4.1 form: Valid, Doorbell,
// PendingLast (written as 1 it suppresses the doorbell), VGrp0En, VGrp1En
// and vPEID. Dirty reads 0 (untimed).
const vpendBaser41Mask = model.GICR_VPENDBASER_Valid | model.GICR_VPENDBASER_Doorbell | model.GICR_VPENDBASER_PendingLast | model.GICR_VPENDBASER_VGrp0En | model.GICR_VPENDBASER_VGrp1En | model.GICR_VPENDBASER_VPEIDMask

// readVirtualRegister41 reads a VLPI_base register of a GICv4.1
// redistributor. Called with r.mu held.
func (r *Redistributors) readVirtualRegister41(g *gicv41, c *cpuState, reg model.GICRRegister) uint64 {
	switch reg {
	case model.GICR_VPROPBASER:
		return c.vpropbaser
	case model.GICR_VPENDBASER:
		return c.vpendbaser
	case model.GICR_VSGIPENDR:
		// Busy reads 0: the query ends as GICR_VSGIR is written.
		if v := g.byVPEID[model.VPEID(g.vsgir[c.id].Load())]; v != nil {
			return uint64(v.sgiPending.Load() & 0xFFFF)
		}
		return 0
	}
	return 0 // GICR_VSGIR is write-only
}

// writeVirtualRegister41 writes a VLPI_base register of a GICv4.1
// redistributor. Called with r.mu held.
func (r *Redistributors) writeVirtualRegister41(g *gicv41, c *cpuState, reg model.GICRRegister, v uint64) error {
	valid := model.VPendBaser41(c.vpendbaser).Valid()
	switch reg {
	case model.GICR_VPROPBASER:
		if !valid { // writing it while a vPE is resident is UNPREDICTABLE: ignored
			c.vpropbaser = model.SanitiseCacheability(v&vpropBaser41Mask, model.RedistCacheFields)
		}
		return nil
	case model.GICR_VSGIR:
		g.vsgir[c.id].Store(uint32(v & 0xFFFF))
		return nil
	case model.GICR_VSGIPENDR:
		return nil // read-only
	}
	nv := model.VPendBaser41(v & vpendBaser41Mask)
	switch {
	case valid && !nv.Valid():
		requestDB := nv.Doorbell() && !nv.PendingLast()
		last := r.deschedule(c, requestDB)
		g.vgrp[c.id].Store(0)
		c.vpendbaser = c.vpendbaser &^ (model.GICR_VPENDBASER_Valid | model.GICR_VPENDBASER_PendingLast | model.GICR_VPENDBASER_Doorbell)
		if last {
			c.vpendbaser |= model.GICR_VPENDBASER_PendingLast
		}
		if requestDB && !last {
			c.vpendbaser |= model.GICR_VPENDBASER_Doorbell
		}
	case valid:
		// UNPREDICTABLE: ignored.
	case nv.Valid():
		if !model.VPropBaser41(c.vpropbaser).Valid() {
			return fmt.Errorf("redistributor %d: GICR_VPENDBASER.Valid = 1 with GICR_VPROPBASER.Valid = 0 (no vPE configuration table) is UNPREDICTABLE; refused: %w", c.id, model.ErrInvalidArgument)
		}
		vp := g.byVPEID[nv.VPEID()]
		if vp == nil {
			return fmt.Errorf("redistributor %d: GICR_VPENDBASER names vPEID %d, which no VMAPP has mapped: %w", c.id, nv.VPEID(), model.ErrInvalidArgument)
		}
		if err := r.scheduleVPE(c, vp, false); err != nil {
			return err
		}
		var grp uint32
		if nv.VGrp0En() {
			grp |= 1
		}
		if nv.VGrp1En() {
			grp |= 2
		}
		g.vgrp[c.id].Store(grp)
		c.vpendbaser = uint64(nv) &^ (model.GICR_VPENDBASER_PendingLast | model.GICR_VPENDBASER_Doorbell)
	default:
		c.vpendbaser = uint64(nv) &^ model.GICR_VPENDBASER_Valid
	}
	return nil
}

// groupEnabled reports whether the vPE resident on c is signalled
// interrupts of group 1 (group1) or group 0: always on GICv4.0.
func (r *Redistributors) groupEnabled(c *cpuState, group1 bool) bool {
	g := r.v41.Load()
	if g == nil {
		return true
	}
	bit := uint32(1)
	if group1 {
		bit = 2
	}
	return g.vgrp[c.id].Load()&bit != 0
}

// invalidateByRegister carries out a GICR_INVLPIR or GICR_INVALLR write
// with V = 1 (GICv4.1): vINTID v[31:0] (INVLPIR) or every vLPI (INVALLR)
// of vPE v[47:32] has its configuration read again from the vPE's vLPI
// configuration table, whether or not it is resident. A vPEID no VMAPP
// mapped is ignored.
func (r *Redistributors) invalidateByRegister(g *gicv41, reg model.GICRRegister, val uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := g.byVPEID[model.VPEID(val>>model.GICR_INVLPIR_VPEShift)]
	if v == nil {
		return
	}
	if reg == model.GICR_INVLPIR {
		r.reloadVConfig(nil, v, model.INTID(uint32(val)))
		return
	}
	r.reloadAllVConfig(nil, v)
}

// SetDefaultDoorbell replaces vPE h's GICv4.1 default doorbell (VMOVP
// with DB; model.NoDoorbell: none). An armed doorbell stays armed and
// rings the new one.
func (r *Redistributors) SetDefaultDoorbell(h uint32, doorbell model.INTID) {
	if v := r.vpeOf(h); v != nil && doorbell < 1<<24 {
		v.defaultDB.Store(uint32(doorbell))
	}
}
