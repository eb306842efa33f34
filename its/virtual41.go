package its

import (
	"fmt"

	"github.com/gicits/gicits/model"
)

// This file is the GICv4.1 half of the ITS (GITS_TYPER.VMAPP): VMAPP's
// GICv4.1 fields, INVDB, VSGI and GITS_SGIR. IHI 0069H chapter 8; the
// command section numbers (VMAPP 5.3.19; INVDB 5.3.9 and VSGI 5.3.23,
// inferred) are those of model/vcommand.go.

// VirtualRedistributors41 is what a GICv4.1 ITS needs from the
// redistributors besides [VirtualRedistributors]: the vPE record shared
// by vPEID (see package gicr, virtual41.go), default doorbells and vSGIs.
// Package gicr implements it.
type VirtualRedistributors41 interface {
	VirtualRedistributors
	// EnableGICv41 makes the redistributors GICv4.1 ones (idempotent);
	// individualDoorbells is !GITS_TYPER.nID. GICv41 reports whether they
	// are.
	EnableGICv41(individualDoorbells bool)
	GICv41() bool
	// MapVPE41 records a vPE VMAPP (V = 1) mapped and returns its handle:
	// its VPT of vintidBits bits, its vLPI configuration table vconf, its
	// default doorbell (model.NoDoorbell: none), and whether the VPT is
	// known zero.
	MapVPE41(vpeid model.VPEID, vpt model.GPA, vintidBits int, vconf model.GPA, defaultDB model.INTID, knownZero bool) (uint32, error)
	// UnmapVPE41 forgets a vPE when dealloc (VMAPP V = 0 with Alloc).
	UnmapVPE41(vpeid model.VPEID, dealloc bool)
	// InvalidateDoorbell re-reads the configuration of vPE h's default
	// doorbell (INVDB).
	InvalidateDoorbell(h uint32)
	// ConfigureVSGI, ClearVSGI and PendVSGI act on a vSGI of vPE h
	// (VSGI, GITS_SGIR).
	ConfigureVSGI(h uint32, sgi uint8, enable, group1 bool, priority uint8) error
	ClearVSGI(h uint32, sgi uint8) error
	PendVSGI(h uint32, its int, sgi uint8) error
}

// enableGICv41 makes the redistributors of a GICv4.1 ITS (GITS_TYPER
// Virtual and VMAPP) GICv4.1 ones, as a GICv4.0 ITS needs redistributors
// with VLPIS: their GICR_TYPER then reads RVPEID and VSGI, and
// GICR_VPENDBASER names a vPEID. Several ITSes may share them; the first
// one's nID decides whether per-event doorbells ring.
func enableGICv41(vrd VirtualRedistributors, typer model.ITSTyper) error {
	if !typer.IsGICv41() {
		return nil
	}
	v, ok := vrd.(VirtualRedistributors41)
	if !ok {
		return fmt.Errorf("its: GITS_TYPER %#x: VMAPP (GICv4.1), but the redistributors have no GICv4.1 support: %w", uint64(typer), model.ErrNotSupported)
	}
	v.EnableGICv41(!typer.NID())
	return nil
}

// vrd41 returns the GICv4.1 redistributors, or a failure saying they are
// not.
func (t *ITS) vrd41() (VirtualRedistributors41, *cmdFailure) {
	if v, ok := t.vrd.(VirtualRedistributors41); ok && v.GICv41() {
		return v, nil
	}
	return nil, &cmdFailure{cause: fmt.Errorf("its: GITS_TYPER.VMAPP (GICv4.1) over redistributors without GICR_TYPER.RVPEID: %w", model.ErrNotSupported), detail: "a GICv4.1 ITS needs GICv4.1 redistributors"}
}

// executeGICv41 runs INVDB or VSGI on a GICv4.1 ITS. Called with mu held
// for writing.
func (t *ITS) executeGICv41(cmd model.Command) *cmdFailure {
	switch c := cmd.(type) {
	case model.INVDB:
		return t.invdb(c)
	case model.VSGI:
		return t.vsgi(c)
	}
	return &cmdFailure{cause: &model.OpcodeError{Opcode: cmd.Opcode()}, detail: "not a GICv4 command"}
}

// checkVMAPP41 checks VMAPP's GICv4.1 fields (V = 1): Default_Doorbell
// is 1023 (none) or an LPI. A GICv4.0-form packet on a GICv4.1 ITS has
// Default_Doorbell 0, taken as none (inferred: 0 is no LPI, and the form
// has no other way to say "none").
func (t *ITS) checkVMAPP41(c model.VMAPP) *cmdFailure {
	if c.DefaultDoorbell == 0 {
		return nil
	}
	if why := t.checkDoorbell(c.DefaultDoorbell); why != "" {
		return fail(model.E_ITS_VMAPP_PHYSICALID_OOR, "Default_Doorbell: %s", why)
	}
	return nil
}

// mapVPE41 tells the redistributors about the vPE VMAPP (V = 1) maps: on
// a GICv4.1 ITS its vLPI configuration table is VCONF_addr (in GICv4.1
// GICR_VPROPBASER points at the vPE configuration table instead), and
// with PTZ and Alloc its VPT is known zero: nothing is read from it at the
// first scheduling. PTZ without Alloc is ignored (inferred: only the
// first map of a vPE can know its table is empty).
func (t *ITS) mapVPE41(c model.VMAPP) (uint32, error) {
	vrd, f := t.vrd41()
	if f != nil {
		return 0, f.cause
	}
	db := c.DefaultDoorbell
	if db == 0 {
		db = model.NoDoorbell
	}
	return vrd.MapVPE41(c.VPEID, c.VPTAddr, c.VINTIDBits(), c.VCONFAddr, db, c.PTZ && c.Alloc)
}

// unmapVPE41 tells the redistributors a vPE is unmapped (VMAPP V = 0): with
// Alloc this is the last ITS to unmap it, and no redistributor finds it by
// vPEID any more.
func (t *ITS) unmapVPE41(c model.VMAPP) {
	if !t.typer.IsGICv41() {
		return
	}
	if vrd, f := t.vrd41(); f == nil {
		vrd.UnmapVPE41(c.VPEID, c.Alloc)
	}
}

// invdb carries out INVDB: the redistributors read the configuration of
// the vPE's default doorbell again (package gicr's InvalidateDoorbell says what that is).
// A vPE that is not mapped has nothing to invalidate.
func (t *ITS) invdb(c model.INVDB) *cmdFailure {
	if _, why := t.vteAddr(c.VPEID); why != "" {
		return fail(model.E_ITS_INVDB_VPEID_OOR, "%s", why)
	}
	vrd, f := t.vrd41()
	if f != nil {
		return f
	}
	if v := t.vpes[c.VPEID]; v != nil && v.valid {
		vrd.InvalidateDoorbell(v.handle)
	}
	return nil
}

// vsgi carries out VSGI: with Clear it clears the vSGI's pending state and
// leaves its configuration; without, it writes Enable, Group and Priority
// and leaves the pending state (IHI 0069H, 8.8, inferred). A vPE that is
// not mapped is left alone (UNPREDICTABLE).
func (t *ITS) vsgi(c model.VSGI) *cmdFailure {
	if _, why := t.vteAddr(c.VPEID); why != "" {
		return fail(model.E_ITS_VSGI_VPEID_OOR, "%s", why)
	}
	vrd, f := t.vrd41()
	if f != nil {
		return f
	}
	v := t.vpes[c.VPEID]
	if v == nil || !v.valid {
		return nil
	}
	var err error
	if c.Clear {
		err = vrd.ClearVSGI(v.handle, c.VINTID)
	} else {
		err = vrd.ConfigureVSGI(v.handle, c.VINTID, c.Enable, c.Group, c.Priority)
	}
	if err != nil {
		return &cmdFailure{cause: err, detail: "the vSGI"}
	}
	return nil
}

// writeSGIR carries out a GITS_SGIR write: vSGI v[3:0] of vPE v[47:32] is
// made pending. The write is ignored while the ITS is disabled, and for a
// vPE this ITS has not mapped (inferred: the ITS translates the vPEID
// through its vPE table, as it does a vLPI's). Called with mu held.
func (t *ITS) writeSGIR(v uint64) error {
	if !t.enabled {
		return nil
	}
	vrd, f := t.vrd41()
	if f != nil {
		return f.cause
	}
	rec := t.vpes[model.VPEID(v>>32)]
	if rec == nil || !rec.valid {
		return nil
	}
	return vrd.PendVSGI(rec.handle, t.number, uint8(v&0xF))
}
