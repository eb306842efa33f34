package its

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/gicits/gicits/model"
)

// VirtualRedistributors is what a GICv4.0 ITS (GITS_TYPER.Virtual) needs
// from the redistributors besides [Redistributors]: vPEs, known by the
// address of their virtual LPI pending table and named by a handle, and
// their vLPIs. Package gicr implements it.
type VirtualRedistributors interface {
	Redistributors
	// MaxIDBits returns the number of INTID bits the redistributors
	// support: the largest VPT_size + 1.
	MaxIDBits() int
	// VPEHandle returns the handle of the vPE whose VPT is at vpt.
	VPEHandle(vpt model.GPA) (uint32, error)
	// SetVPETarget records the redistributor ITS its (its number) sends
	// vPE h's vLPIs to; the calls below name the ITS too.
	SetVPETarget(h uint32, its int, cpu model.CPU) error
	// SetVPETargetAll sets every ITS's; VPETarget reads one.
	SetVPETargetAll(h uint32, cpu model.CPU) error
	VPETarget(h uint32, its int) (model.CPU, bool)
	// MapVLPI prepares vLPI vintid of vPE h for translations.
	MapVLPI(h uint32, vintid model.INTID) error
	// VirtualGeneration, RevokeVirtualTranslations,
	// RevokeAllVirtualTranslations and PendVirtualTranslated are the
	// generation scheme of Redistributors for vLPIs.
	VirtualGeneration(h uint32, vintid model.INTID) uint32
	RevokeVirtualTranslations(h uint32, vintid model.INTID)
	RevokeAllVirtualTranslations()
	// PendVirtualTranslated reports ringEvent when the vPE was not
	// scheduled: the caller rings the event's doorbell with
	// RingVPEDoorbell.
	PendVirtualTranslated(h uint32, its int, vintid model.INTID, gen uint32) (ok, ringEvent bool, err error)
	RingVPEDoorbell(h uint32, its int, doorbell model.INTID)
	// SetVirtualPending delivers vLPI vintid of vPE h: pending for the
	// scheduled vPE, or in its VPT with doorbell (the delivering
	// event's) rung.
	SetVirtualPending(h uint32, its int, vintid, doorbell model.INTID) error
	// ClearVirtualPending removes the pending state of a vLPI.
	ClearVirtualPending(h uint32, vintid model.INTID) bool
	// MoveVLPI moves a vLPI's pending state to another vPE (VMOVI).
	MoveVLPI(from, to uint32, its int, vintid, doorbell model.INTID) error
	// InvalidateVLPI and InvalidateAllVLPIs re-read vLPI configuration
	// (INV, VINVALL).
	InvalidateVLPI(h uint32, vintid model.INTID)
	InvalidateAllVLPIs(h uint32)
	// SetDefaultDoorbell replaces vPE h's GICv4.1 default doorbell
	// (VMOVP with DB).
	SetDefaultDoorbell(h uint32, doorbell model.INTID)
}

// VPEBaserReset is the reset value of GITS_BASER2 on a GICv4.0 ITS: a vPE
// table of 8-byte entries ([model.VTE]), 64 KiB pages, not valid. A GICv3
// ITS has no GITS_BASER2 (it reads 0).
var VPEBaserReset = model.MakeBaser(model.BaserVPEs, model.VTESize) | baserAttrs

// vpeRec is the ITS's record of one vPE, from VMAPP; its VTE is in the
// vPE table too.
type vpeRec struct {
	valid   bool
	rdbase  model.CPU
	vpt     model.GPA
	vptSize uint8
	handle  uint32 // the redistributors' name for it
}

// vte returns the vPE's table entry. Its fields were checked when VMAPP
// recorded them (VPT 64 KiB aligned by the command's encoding, VPT_size
// against the redistributors' INTID bits), so it encodes.
func (v *vpeRec) vte() uint64 {
	e, _ := model.VTE{Valid: true, VPTAddr: v.vpt, VPTSize: v.vptSize, RDbase: uint16(v.rdbase)}.Encode()
	return e
}

// vintidBits returns the number of vINTID bits the vPE's VPT covers.
func (v *vpeRec) vintidBits() int { return int(v.vptSize) + 1 }

// cacheVirtual marks a translation cache value naming a vLPI:
//
//	 63   62     48 47      32 31        0
//	+---+----------+----------+-----------+
//	| 1 |   gen    |  handle  |  vINTID   |
//	+---+----------+----------+-----------+
const cacheVirtual = uint64(1) << 63

func cacheVirtualValue(h uint32, vintid model.INTID, gen uint32) uint64 {
	return cacheVirtual | uint64(gen&0x7FFF)<<48 | uint64(h&0xFFFF)<<32 | uint64(vintid)
}

// vteAddr returns where vPE vpeid's VTE is, walking GITS_BASER2 flat or
// through its level-1 entry; ok is false when it has none. why says why,
// for commands (the MSI path ignores it).
func (t *ITS) vteAddr(vpeid model.VPEID) (addr model.GPA, why string) {
	b := t.baser[2]
	if !b.Valid() {
		return 0, "GITS_BASER2 (the vPE table) is not valid"
	}
	if !b.Indirect() {
		if n := b.SizeBytes() / model.VTESize; uint64(vpeid) >= n {
			return 0, fmt.Sprintf("vPEID %d is outside the flat vPE table of %d entries", vpeid, n)
		}
		return b.Addr() + model.GPA(uint64(vpeid)*model.VTESize), ""
	}
	perPage := uint64(b.PageSize()) / model.VTESize
	l1 := uint64(vpeid) / perPage
	if n := b.SizeBytes() / model.TableEntrySize; l1 >= n {
		return 0, fmt.Sprintf("vPEID %d needs L1 entry %d of a two-level vPE table of %d", vpeid, l1, n)
	}
	v, err := t.read64(b.Addr() + model.GPA(l1*model.TableEntrySize))
	if err != nil {
		return 0, fmt.Sprintf("L1 entry %d of the vPE table is outside guest memory", l1)
	}
	e := model.DecodeL1Entry(v)
	if !e.Valid {
		return 0, fmt.Sprintf("L1 entry %d of the vPE table is not valid: no second-level page for vPEID %d", l1, vpeid)
	}
	l2 := e.Addr &^ model.GPA(b.PageSize()-1)
	return l2 + model.GPA(uint64(vpeid)%perPage*model.VTESize), ""
}

// checkDoorbell says why doorbell is neither model.NoDoorbell nor an LPI
// the redistributors could make pending, or "" when it is fine.
func (t *ITS) checkDoorbell(doorbell model.INTID) string {
	if doorbell == model.NoDoorbell {
		return ""
	}
	if limit := t.rd.LPILimit(); doorbell < model.LPIBase || doorbell >= limit {
		return fmt.Sprintf("doorbell pINTID %d is neither 1023 (none) nor an LPI below %d", doorbell, limit)
	}
	return ""
}

// executeVirtual runs one GICv4.0 command. Called with mu held for
// writing.
func (t *ITS) executeVirtual(cmd model.Command) *cmdFailure {
	switch c := cmd.(type) {
	case model.VMAPP:
		return t.vmapp(c)
	case model.VMAPTI:
		return t.vmapti(c.DeviceID, c.EventID, c.VINTID, c.VPEID, c.Doorbell, vmaptiCodes)
	case model.VMAPI:
		return t.vmapti(c.DeviceID, c.EventID, model.INTID(c.EventID), c.VPEID, c.Doorbell, vmapiCodes)
	case model.VMOVI:
		return t.vmovi(c)
	case model.VMOVP:
		return t.vmovp(c)
	case model.VSYNC:
		if _, why := t.vteAddr(c.VPEID); why != "" {
			return fail(model.E_ITS_VSYNC_VPEID_OOR, "%s", why)
		}
		return nil // the model is synchronous: every effect is already visible
	case model.VINVALL:
		if _, why := t.vteAddr(c.VPEID); why != "" {
			return fail(model.E_ITS_VINVALL_VPEID_OOR, "%s", why)
		}
		if v := t.vpes[c.VPEID]; v != nil && v.valid {
			t.vrd.InvalidateAllVLPIs(v.handle)
		}
		return nil
	}
	if t.typer.IsGICv41() {
		return t.executeGICv41(cmd)
	}
	// INVDB and VSGI: GICv4.1 commands, unknown to a GICv4.0 ITS.
	return &cmdFailure{cause: &model.OpcodeError{Opcode: cmd.Opcode()}, detail: "a GICv4.1 command on a GICv4.0 ITS: ignored"}
}

// vmapp maps (V=1) or unmaps (V=0) a vPE: its VTE names its
// redistributor and virtual LPI pending table (IHI 0069H, 5.3.19). Only
// V=1 checks RDbase and VPT_size. A vPE given another VPT, or unmapped,
// ends every cached translation.
func (t *ITS) vmapp(c model.VMAPP) *cmdFailure {
	addr, why := t.vteAddr(c.VPEID)
	if why != "" {
		return fail(model.E_ITS_VMAPP_VPEID_OOR, "%s", why)
	}
	if _, err := t.read64(addr); err != nil {
		return fail(model.E_ITS_VMAPP_VPEID_OOR, "the VTE of vPEID %d at %v is outside guest memory", c.VPEID, addr)
	}
	old := t.vpes[c.VPEID]
	if !c.Valid {
		if old != nil && old.valid {
			t.flushCache()
			delete(t.vpes, c.VPEID)
		}
		t.unmapVPE41(c)
		_ = model.WriteUint64(t.mem, addr, 0) // read above
		return nil
	}
	if c.RDbase >= uint64(t.rd.CPUs()) {
		return fail(model.E_ITS_VMAPP_PROCNUM_OOR, "RDbase %d is not a redistributor (%d CPUs)", c.RDbase, t.rd.CPUs())
	}
	bits := int(c.VPTSize) + 1
	if bits < 14 || bits > t.vrd.MaxIDBits() {
		return fail(model.E_ITS_VMAPP_VPTSIZE_OOR, "VPT_size %d: %d vINTID bits; the redistributors support 14..%d", c.VPTSize, bits, t.vrd.MaxIDBits())
	}
	var h uint32
	var err error
	if t.typer.IsGICv41() {
		if f := t.checkVMAPP41(c); f != nil {
			return f
		}
		h, err = t.mapVPE41(c)
	} else {
		h, err = t.vrd.VPEHandle(c.VPTAddr)
	}
	if err != nil {
		return &cmdFailure{cause: err, detail: "naming the vPE to the redistributors"}
	}
	_ = t.vrd.SetVPETarget(h, t.number, model.CPU(c.RDbase)) // RDbase checked above
	rec := &vpeRec{valid: true, rdbase: model.CPU(c.RDbase), vpt: c.VPTAddr, vptSize: c.VPTSize, handle: h}
	if old != nil && old.valid && (old.handle != h || old.vptSize != c.VPTSize) {
		t.flushCache()
	}
	t.vpes[c.VPEID] = rec
	_ = model.WriteUint64(t.mem, addr, rec.vte())
	t.mapVLPIs(c.VPEID, rec)
	return nil
}

// mapVLPIs prepares, at the redistributors, every vLPI that an event maps
// to vPE vpeid.
func (t *ITS) mapVLPIs(vpeid model.VPEID, v *vpeRec) {
	for _, d := range t.devices {
		d.each(func(_ model.EventID, r *iteRec) {
			if r.virtual && r.vpeid == vpeid && uint64(r.intid) < uint64(1)<<v.vintidBits() {
				_ = t.vrd.MapVLPI(v.handle, r.intid)
			}
		})
	}
}

// vmapCodes are VMAPTI's or VMAPI's error codes.
type vmapCodes struct {
	deviceOOR, unmappedDevice, idOOR, physicalIDOOR, vpeidOOR, virtualIDOOR model.ErrorCode
}

var (
	vmaptiCodes = vmapCodes{model.E_ITS_VMAPTI_DEVICE_OOR, model.E_ITS_VMAPTI_UNMAPPED_DEVICE, model.E_ITS_VMAPTI_ID_OOR, model.E_ITS_VMAPTI_PHYSICALID_OOR, model.E_ITS_VMAPTI_VPEID_OOR, model.E_ITS_VMAPTI_VIRTUALID_OOR}
	vmapiCodes  = vmapCodes{model.E_ITS_VMAPI_DEVICE_OOR, model.E_ITS_VMAPI_UNMAPPED_DEVICE, model.E_ITS_VMAPI_ID_OOR, model.E_ITS_VMAPI_PHYSICALID_OOR, model.E_ITS_VMAPI_VPEID_OOR, model.E_ITS_VMAPI_VIRTUALID_OOR}
)

// vintidLimit returns one more than the largest vINTID vPE vpeid may be
// given: 2^(VPT_size+1) of a mapped vPE, the redistributors' INTID space
// otherwise.
func (t *ITS) vintidLimit(vpeid model.VPEID) uint64 {
	if v := t.vpes[vpeid]; v != nil && v.valid {
		return uint64(1) << v.vintidBits()
	}
	return uint64(1) << t.vrd.MaxIDBits()
}

// vmapti maps an event to vLPI vintid of vPE vpeid, with a GICv4.0
// doorbell (IHI 0069H.b, 5.3.20; VMAPI, 5.3.18 (inferred), is VMAPTI with
// the vINTID the EventID). The vPE need not be mapped yet. An event
// already mapped is left unchanged (UNPREDICTABLE), as MAPTI leaves it.
func (t *ITS) vmapti(dev model.DeviceID, ev model.EventID, vintid model.INTID, vpeid model.VPEID, doorbell model.INTID, codes vmapCodes) *cmdFailure {
	d, f := t.mapSlot(dev, ev, codes.deviceOOR, codes.unmappedDevice, codes.idOOR)
	if f != nil {
		return f
	}
	if _, why := t.vteAddr(vpeid); why != "" {
		return fail(codes.vpeidOOR, "%s", why)
	}
	if limit := t.vintidLimit(vpeid); vintid < model.LPIBase || uint64(vintid) >= limit {
		return fail(codes.virtualIDOOR, "vINTID %d is not a vLPI below %d (vPE %d's VPT_size, or the redistributors' INTID bits)", vintid, limit, vpeid)
	}
	if why := t.checkDoorbell(doorbell); why != "" {
		return fail(codes.physicalIDOOR, "%s", why)
	}
	if _, ok := d.get(ev); ok {
		return nil // already mapped: UNPREDICTABLE; left unchanged
	}
	if v := t.vpes[vpeid]; v != nil && v.valid {
		if err := t.vrd.MapVLPI(v.handle, vintid); err != nil {
			return &cmdFailure{cause: err, detail: "preparing the vLPI"}
		}
	}
	r := iteRec{intid: vintid, virtual: true, vpeid: vpeid, doorbell: doorbell}
	t.writeBackVirtualITE(d, ev, r)
	d.put(ev, r)
	return nil
}

// writeBackVirtualITE writes event ev's virtual ITE (see
// [model.VirtualITE]): probed by the command, so it cannot fail.
func (t *ITS) writeBackVirtualITE(d *device, ev model.EventID, r iteRec) {
	t.writeVirtualITE(d, ev, r, 0)
}

// writeVirtualITE writes event ev's virtual ITE with next.
func (t *ITS) writeVirtualITE(d *device, ev model.EventID, r iteRec, next uint16) {
	dw, w, err := model.VirtualITE{Next: next, VINTID: r.intid, VPEID: r.vpeid, Doorbell: r.doorbell}.Encode()
	if err != nil {
		return // doorbells are checked against the LPI space, below 2^24
	}
	b := make([]byte, t.iteSize)
	binary.LittleEndian.PutUint64(b, dw)
	binary.LittleEndian.PutUint32(b[8:], w)
	_ = t.mem.WriteAt(b, t.iteAddr(d.itt, ev))
}

// vmovi moves a virtual event to vPE c.VPEID, its pending state with it,
// and with D set replaces its doorbell (IHI 0069H.b, 5.3.21).
func (t *ITS) vmovi(c model.VMOVI) *cmdFailure {
	d, r, f := t.findEvent(c.DeviceID, c.EventID, vmoviCodes)
	if f != nil {
		return f
	}
	if !r.virtual {
		return fail(model.E_ITS_VMOVI_UNMAPPED_INTERRUPT, "event %d of device %#x maps a physical LPI; MOVI moves it", c.EventID, uint32(c.DeviceID))
	}
	if _, why := t.vteAddr(c.VPEID); why != "" {
		return fail(model.E_ITS_VMOVI_VPEID_OOR, "%s", why)
	}
	doorbell := r.doorbell
	if c.D {
		if why := t.checkDoorbell(c.Doorbell); why != "" {
			return fail(model.E_ITS_VMOVI_PHYSICALID_OOR, "%s", why)
		}
		doorbell = c.Doorbell
	}
	if limit := t.vintidLimit(c.VPEID); uint64(r.intid) >= limit {
		return fail(model.E_ITS_VMOVI_VIRTUALID_OOR, "vINTID %d does not fit vPE %d's %d-entry VPT", r.intid, c.VPEID, limit)
	}
	t.invalidateEvent(c.DeviceID, c.EventID, &r)
	from, to := t.vpes[r.vpeid], t.vpes[c.VPEID]
	switch {
	case to != nil && to.valid && from != nil && from.valid:
		if err := t.vrd.MoveVLPI(from.handle, to.handle, t.number, r.intid, doorbell); err != nil {
			return &cmdFailure{cause: err, detail: "moving the vLPI's pending state"}
		}
	case to != nil && to.valid:
		if err := t.vrd.MapVLPI(to.handle, r.intid); err != nil {
			return &cmdFailure{cause: err, detail: "preparing the vLPI"}
		}
	}
	r.vpeid, r.doorbell = c.VPEID, doorbell
	d.put(c.EventID, r)
	t.writeBackVirtualITE(d, c.EventID, r)
	return nil
}

var vmoviCodes = eventCodes{model.E_ITS_VMOVI_DEVICE_OOR, model.E_ITS_VMOVI_UNMAPPED_DEVICE, model.E_ITS_VMOVI_ID_OOR, model.E_ITS_VMOVI_UNMAPPED_INTERRUPT}

// vmovp retargets a vPE to another redistributor (IHI 0069H, 5.3.22
// (inferred)). Its pending state stays in its VPT and in the
// redistributors' record of it; doorbells ring on the new target. On a
// GICv4.1 ITS, DB replaces the vPE's default doorbell. A vPE that is not
// mapped is left alone (UNPREDICTABLE).
//
// With GITS_TYPER.VMOVP = 1 the ITS moves the vPE on every other ITS
// sharing the redistributors itself: their deliveries at once, their
// records and VTEs before the command's GITS_CWRITER write returns
// (tellPeers). With
// VMOVP = 0 software sends the same VMOVP (SequenceNumber, ITSList) to
// every ITS in ITSList, and each ITS moves only its own mapping: until
// the last has, the ITSes deliver to different redistributors
// (moveBoard).
func (t *ITS) vmovp(c model.VMOVP) *cmdFailure {
	addr, why := t.vteAddr(c.VPEID)
	if why != "" {
		return fail(model.E_ITS_VMOVP_VPEID_OOR, "%s", why)
	}
	if c.RDbase >= uint64(t.rd.CPUs()) {
		return fail(model.E_ITS_VMOVP_PROCNUM_OOR, "RDbase %d is not a redistributor (%d CPUs)", c.RDbase, t.rd.CPUs())
	}
	rd := model.CPU(c.RDbase)
	if c.DB && t.typer.VMAPP() {
		if why := t.checkDoorbell(c.DefaultDoorbell); why != "" {
			return fail(model.E_ITS_VMOVP_PHYSICALID_OOR, "Default_Doorbell: %s", why)
		}
		if v := t.vpes[c.VPEID]; v != nil && v.valid {
			t.vrd.SetDefaultDoorbell(v.handle, c.DefaultDoorbell)
		}
	}
	if !t.typer.VMOVP() {
		if c.ITSList&(1<<t.number) == 0 {
			return &cmdFailure{cause: fmt.Errorf("VMOVP ITSList %#04x does not name this ITS (GITS_CTLR.ITS_Number %d): UNPREDICTABLE: %w", c.ITSList, t.number, model.ErrInvalidArgument), detail: "command ignored"}
		}
		if late := t.board.record(c.VPEID, c.SequenceNumber, c.ITSList, t.number); late != nil {
			t.retargetVPE(c.VPEID, addr, rd)
			return &cmdFailure{cause: late, detail: "the vPE is moved on this ITS"}
		}
	} else if v := t.vpes[c.VPEID]; v != nil && v.valid {
		// Every ITS delivers to rd from now on; their records and VTEs
		// follow before the GITS_CWRITER write returns (tellPeers).
		_ = t.vrd.SetVPETargetAll(v.handle, rd) // rd checked above
		for _, p := range t.peers {
			if p != t {
				t.deferred = append(t.deferred, func() { p.followVMOVP(c.VPEID) })
			}
		}
	}
	t.retargetVPE(c.VPEID, addr, rd)
	return nil
}

// retargetVPE makes this ITS deliver vPE vpeid's vLPIs to rd: its record,
// the redistributors' target for this ITS, and its VTE at addr. Called
// with mu held.
func (t *ITS) retargetVPE(vpeid model.VPEID, addr model.GPA, rd model.CPU) {
	v := t.vpes[vpeid]
	if v == nil || !v.valid {
		return
	}
	v.rdbase = rd
	_ = t.vrd.SetVPETarget(v.handle, t.number, rd) // rd checked by the caller
	_ = model.WriteUint64(t.mem, addr, v.vte())
}

// virtualEvent carries out INT, CLEAR, INV or DISCARD on a virtual event
// (IHI 0069H, 5.3: they act on the vLPI of the vPE the event maps to).
// Called with mu held for writing.
func (t *ITS) virtualEvent(cmd model.Command, d *device, r iteRec, unmapped model.ErrorCode) *cmdFailure {
	v := t.vpes[r.vpeid]
	mapped := v != nil && v.valid && uint64(r.intid) < uint64(1)<<v.vintidBits()
	switch c := cmd.(type) {
	case model.INT:
		if !mapped {
			return fail(unmapped, "event %d of device %#x maps vPE %d, which is not mapped (VMAPP)", c.EventID, uint32(c.DeviceID), r.vpeid)
		}
		if err := t.vrd.SetVirtualPending(v.handle, t.number, r.intid, r.doorbell); err != nil && !errors.Is(err, model.ErrBusy) {
			return &cmdFailure{cause: err, detail: "delivering the vLPI"}
		}
		t.cacheVirtualTranslation(c.DeviceID, c.EventID, v, r.intid)
	case model.CLEAR:
		if mapped {
			t.vrd.ClearVirtualPending(v.handle, r.intid)
		}
	case model.INV:
		if mapped {
			t.vrd.InvalidateVLPI(v.handle, r.intid)
		}
	case model.DISCARD:
		t.invalidateEvent(c.DeviceID, c.EventID, &r)
		if mapped {
			t.vrd.ClearVirtualPending(v.handle, r.intid)
		}
		d.del(c.EventID)
		t.writeBackITE(d, c.EventID, 0)
	}
	return nil
}

// cacheVirtualTranslation records a translation to vLPI vintid of vPE v.
// Called with mu held.
func (t *ITS) cacheVirtualTranslation(dev model.DeviceID, ev model.EventID, v *vpeRec, vintid model.INTID) {
	if t.cache != nil {
		t.cache.insert(dev, ev, cacheVirtualValue(v.handle, vintid, t.vrd.VirtualGeneration(v.handle, vintid)))
	}
}

// translateVirtual finishes the table walk of an MSI whose ITT entry is
// virtual: the entry must agree with the ITS's record, and the VTE in
// guest memory with its record of the vPE. It returns the vPE and vINTID.
// Called with mu held.
func (t *ITS) translateVirtual(itt model.GPA, ev model.EventID, dw uint64, r iteRec) (*vpeRec, model.INTID, bool) {
	var w [4]byte
	if t.mem.ReadAt(w[:], t.iteAddr(itt, ev)+model.TableEntrySize) != nil {
		return nil, 0, false
	}
	e, ok := model.DecodeVirtualITE(dw, binary.LittleEndian.Uint32(w[:]))
	if !ok || !r.virtual || e.VINTID != r.intid || e.VPEID != r.vpeid {
		return nil, 0, false
	}
	v := t.vpes[e.VPEID]
	if v == nil || !v.valid {
		return nil, 0, false
	}
	addr, why := t.vteAddr(e.VPEID)
	if why != "" {
		return nil, 0, false
	}
	raw, err := t.read64(addr)
	if err != nil {
		return nil, 0, false
	}
	vte := model.DecodeVTE(raw)
	if !vte.Valid || vte.VPTAddr != v.vpt || vte.VPTSize != v.vptSize || model.CPU(vte.RDbase) != v.rdbase {
		return nil, 0, false
	}
	if uint64(e.VINTID) >= uint64(1)<<vte.VINTIDBits() {
		return nil, 0, false
	}
	return v, e.VINTID, true
}

// vpeTableChanged keeps the mapped vPEs in step with a GITS_BASER2 that
// changed: a vPE whose VTE has no place in the new table is unmapped, and
// the others' VTEs are written where the table now has them.
func (t *ITS) vpeTableChanged() {
	for id, v := range t.vpes {
		addr, why := t.vteAddr(id)
		if why == "" {
			if model.WriteUint64(t.mem, addr, v.vte()) == nil {
				continue
			}
		}
		// No place for it: unmapped, as VMAPP V=0 (with Alloc on
		// GICv4.1: no redistributor finds it by vPEID any more). The
		// caller has flushed the translation cache.
		delete(t.vpes, id)
		t.unmapVPE41(model.VMAPP{VPEID: id, Alloc: true})
	}
}
