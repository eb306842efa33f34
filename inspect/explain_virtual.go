package inspect

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/gicits/gicits/model"
)

// This file is the GICv4.0 half of [Explain]: the walk of an event whose
// ITT entry is a virtual ITE ([model.VirtualITE]) to its vLPI. Where the
// translation fails, the error named is the one an INT of the same event
// reports on a GICv4.0 ITS (E_ITS_INT_UNMAPPED_INTERRUPT: the vPE it names
// is not mapped, or the vINTID does not fit its VPT), and Why names the
// V* command error that would refuse the mapping now.

// Sections of Arm IHI 0069 behind the GICv4.0 checks. The V* commands are
// numbered as in revision H; GICR_VPENDBASER as in revision E (see
// model/vpe.go and the v4-*.its scenarios).
const (
	secVMAPP      = "5.3.19 VMAPP (revision H)"
	secVMAPTI     = "5.3.20 VMAPTI (revision H.b)"
	secVPEBaser   = "12.19.1 GITS_BASER<n>"
	secVPENDBASER = "9.11.36 GICR_VPENDBASER (revision E)"
)

// virtualTranslationEntry finishes the ITE step s for an ITT entry that
// holds a virtual ITE: vLPI VINTID of vPE VPEID, with its doorbell. The
// word after the doubleword marks it virtual.
func (w *walk) virtualTranslationEntry(s Step, raw uint64, word uint32, e model.VirtualITE) (bool, error) {
	s.Bytes = binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint64(nil, raw), word)
	s.Raw = fmt.Sprintf("%s (0x%016x, word 0x%08x)", hexBytes(s.Bytes), raw, word)
	s.Fields = []Field{{"virtual", "1 (word bit 31)"}, {"vPEID", fmt.Sprint(e.VPEID)}, {"vINTID", fmt.Sprint(e.VINTID)},
		{"Dbell_pINTID", doorbellString(e.Doorbell)}, {"next", fmt.Sprint(e.Next)}}
	s.Why = fmt.Sprintf("VMAPTI (or VMAPI) mapped the event to vLPI %d of vPE %d", e.VINTID, e.VPEID)
	w.vite = &e
	return w.next(s)
}

func doorbellString(db model.INTID) string {
	if db == model.NoDoorbell {
		return "1023 (none)"
	}
	return fmt.Sprint(db)
}

// vpeTableBase is GITS_BASER2 (IHI 0069 12.19.1), which must describe a
// valid vPE table.
func (w *walk) vpeTableBase() (bool, error) {
	v, err := w.b.ReadITSRegister(model.GITS_BASER(2))
	if err != nil {
		return false, fmt.Errorf("reading GITS_BASER2: %w", err)
	}
	vb := model.Baser(v)
	s := Step{Title: "vPE table (GITS_BASER2)", Verdict: OK, Fields: []Field{
		{"Valid", boolBit(vb.Valid())}, {"Type", vb.Type().String()}, {"Indirect", boolBit(vb.Indirect())},
		{"Entry_Size", fmt.Sprint(vb.EntrySize())}, {"Page_Size", fmt.Sprintf("%d KiB", vb.PageSize()>>10)},
		{"Size", fmt.Sprintf("%d pages", vb.Pages())}, {"Physical_Address", vb.Addr().String()},
	}}
	s.readRegister("GITS_BASER2", v, fmt.Sprintf("0x%016x", v))
	if !vb.Valid() || vb.Type() != model.BaserVPEs {
		s.Verdict, s.Check, s.Code, s.Section = Fail, "GITS_BASER2 is a valid vPE table", unmapped, secVPEBaser
		s.Why = fmt.Sprintf("no vPE table: no vPE is mapped (VMAPP fails with %v), so vLPI %d of vPE %d cannot be delivered", model.E_ITS_VMAPP_VPEID_OOR, w.vite.VINTID, w.vite.VPEID)
		return w.stop(s)
	}
	w.vbaser = vb
	return w.next(s)
}

// vpeOutOfRange is why a vPEID that has no VTE cannot be mapped now.
func (w *walk) vpeOutOfRange() string {
	return fmt.Sprintf("VMAPP and VMAPTI of vPEID %d now fail with %v and %v", w.vite.VPEID, model.E_ITS_VMAPP_VPEID_OOR, model.E_ITS_VMAPTI_VPEID_OOR)
}

// vpeTableEntry is the vPE's VTE ([model.VTE]; its format is
// IMPLEMENTATION DEFINED), in a flat table or, through its level-1 entry,
// in a second-level page: VMAPP V=1 made it valid, and its VPT_size must
// cover the vINTID.
func (w *walk) vpeTableEntry() (bool, error) {
	vb, vpeid := w.vbaser, w.vite.VPEID
	title := fmt.Sprintf("vPE table entry VTE[%d]", vpeid)
	vteAddr := vb.Addr() + model.GPA(uint64(vpeid)*model.VTESize)
	if vb.Indirect() {
		addr, more, err := w.vpeLevel1Entry()
		if !more || err != nil {
			return more, err
		}
		vteAddr = addr
	} else if n := vb.SizeBytes() / model.VTESize; uint64(vpeid) >= n {
		return w.stop(Step{Title: title, Verdict: Fail,
			Check: "the vPEID lies within the vPE table", Code: unmapped, Section: secVPEBaser + ", " + secVMAPP,
			Why: fmt.Sprintf("the flat vPE table holds %d VTEs (vPEIDs 0..%d): vPE %d has no entry; %s", n, n-1, vpeid, w.vpeOutOfRange())})
	}
	raw, err := model.ReadUint64(w.mem, vteAddr)
	if err != nil {
		return false, err
	}
	vte := model.DecodeVTE(raw)
	s := Step{Title: title, Addr: vteAddr, Verdict: OK, Fields: []Field{
		{"V", boolBit(vte.Valid)}, {"RDbase", fmt.Sprintf("%d (CPU %d)", vte.RDbase, vte.RDbase)}, {"VPT_addr", vte.VPTAddr.String()},
		{"VPT_size", fmt.Sprintf("%d (%d vINTID bits)", vte.VPTSize, vte.VINTIDBits())},
	}}
	s.readEntry(raw)
	switch vintid := w.vite.VINTID; {
	case !vte.Valid:
		s.Verdict, s.Check, s.Code, s.Section = Fail, "the vPE is mapped (VTE valid)", unmapped, secVMAPP
		s.Why = fmt.Sprintf("no VMAPP vpe=%d with V=1 (or a VMAPP V=0 unmapped it): an MSI to its vLPI is dropped", vpeid)
		s.Fields = s.Fields[:1]
		return w.stop(s)
	case uint64(vintid) >= uint64(1)<<vte.VINTIDBits():
		s.Verdict, s.Check, s.Code, s.Section = Fail, "the vINTID fits the vPE's VPT (vINTID < 2^(VPT_size+1))", unmapped, secVMAPP+", "+secVMAPTI
		s.Why = fmt.Sprintf("vINTID %d is beyond the %s of vPE %d's VPT (vINTIDs below %d): VMAPTI of it now fails with %v, and an MSI is dropped",
			vintid, plural(vte.VINTIDBits(), "vINTID bit"), vpeid, uint64(1)<<vte.VINTIDBits(), model.E_ITS_VMAPTI_VIRTUALID_OOR)
		return w.stop(s)
	}
	w.vte = vte
	return w.next(s)
}

// vpeLevel1Entry is the entry of a two-level vPE table that covers the
// vPE: it must lie within the table and point at a second-level page. It
// returns the address of the vPE's VTE in that page.
func (w *walk) vpeLevel1Entry() (vteAddr model.GPA, more bool, err error) {
	vb, vpeid := w.vbaser, uint64(w.vite.VPEID)
	perPage := uint64(vb.PageSize()) / model.VTESize
	idx := vpeid / perPage
	l1Addr := vb.Addr() + model.GPA(idx*model.TableEntrySize)
	s := Step{Title: fmt.Sprintf("level-1 vPE table entry [%d] (vPEIDs %d..%d)", idx, idx*perPage, (idx+1)*perPage-1), Addr: l1Addr, Verdict: OK}
	if n := vb.SizeBytes() / model.TableEntrySize; idx >= n {
		s.Addr = 0
		s.Verdict, s.Check, s.Code, s.Section = Fail, "the vPEID lies within the vPE table", unmapped, secVPEBaser+", "+secVMAPP
		s.Why = fmt.Sprintf("the level-1 table has %d entries, covering vPEIDs below %d; %s", n, n*perPage, w.vpeOutOfRange())
		more, err = w.stop(s)
		return 0, more, err
	}
	raw, err := model.ReadUint64(w.mem, l1Addr)
	if err != nil {
		return 0, false, err
	}
	l1 := model.DecodeL1Entry(raw)
	s.readEntry(raw)
	s.Fields = []Field{{"V", boolBit(l1.Valid)}, {"L2 page", vpeL2Page(vb, l1).String()}}
	if !l1.Valid {
		s.Fields = s.Fields[:1]
		s.Verdict, s.Check, s.Code, s.Section = Fail, "the L1 entry is valid (a second-level page is provided)", unmapped, secVPEBaser+", "+secVMAPP
		s.Why = fmt.Sprintf("no second-level page for vPEIDs %d..%d: vPE %d has no VTE; %s", idx*perPage, (idx+1)*perPage-1, vpeid, w.vpeOutOfRange())
		more, err = w.stop(s)
		return 0, more, err
	}
	more, err = w.next(s)
	return vpeL2Page(vb, l1) + model.GPA(vpeid%perPage*model.VTESize), more, err
}

// vpeRedistributor is the redistributor the VTE names (RDbase, IHI 0069H
// 5.3.19): it must exist, and GICR_CTLR.EnableLPIs must be set for the
// ITS to deliver there. The vPE is resident when that redistributor's
// GICR_VPENDBASER is Valid and names the vPE's VPT.
func (w *walk) vpeRedistributor() (bool, error) {
	cpu := model.CPU(w.vte.RDbase)
	w.cpu = cpu
	var err error
	if w.v41, err = readITSv41(w.b); err != nil {
		return false, err
	}
	s := Step{Title: fmt.Sprintf("residency of vPE %d on its redistributor, CPU %d (GICR_VPENDBASER)", w.vite.VPEID, cpu), Verdict: OK}
	if cpus := w.b.Capabilities().CPUs; int(cpu) >= cpus {
		s.Verdict, s.Check, s.Code, s.Section = Fail, "RDbase names a redistributor", model.E_ITS_VMAPP_PROCNUM_OOR, secVMAPP
		s.Why = fmt.Sprintf("there %s", plural(cpus, "CPU"))
		return w.stop(s)
	}
	var regs [3]uint64
	for i, r := range []model.GICRRegister{model.GICR_CTLR, model.GICR_VPROPBASER, model.GICR_VPENDBASER} {
		v, err := w.b.ReadRedistributorRegister(cpu, r)
		if err != nil {
			return false, fmt.Errorf("reading CPU %d's %v: %w", cpu, r, err)
		}
		regs[i] = v
	}
	if w.v41 != nil {
		return w.residency41(s, regs)
	}
	ctl, pb := regs[0], model.VPendBaser(regs[2])
	w.gicrCTLR, w.vprop = ctl, model.VPropBaser(regs[1])
	w.resident = pb.Valid() && pb.Addr() == w.vte.VPTAddr
	s.readRegister("GICR_VPENDBASER", uint64(pb), fmt.Sprintf("GICR_VPENDBASER %#x", uint64(pb)))
	s.Fields = []Field{{"Valid", boolBit(pb.Valid())}, {"IDAI", boolBit(pb.IDAI())}, {"PendingLast", boolBit(pb.PendingLast())},
		{"Physical_Address", pb.Addr().String()}, {"vPE's VPT", w.vte.VPTAddr.String()},
		{"GICR_VPROPBASER", fmt.Sprintf("%#x (table at %v, %d INTID bits)", regs[1], w.vprop.Addr(), w.vprop.IDBits())},
		{"EnableLPIs", fmt.Sprint(ctl & model.GICR_CTLR_EnableLPIs)}}
	elsewhere, err := w.scheduledElsewhere(cpu)
	if err != nil {
		return false, err
	}
	switch {
	case w.resident:
		s.Why = fmt.Sprintf("resident: GICR_VPENDBASER.Valid = 1 names vPE %d's VPT, so the vLPI goes to the vPE directly", w.vite.VPEID)
	case elsewhere != nil:
		s.Fields = append(s.Fields, Field{"scheduled on", fmt.Sprintf("CPU %d", *elsewhere)})
		s.Verdict, s.Check, s.Section = Warn, "the vPE is scheduled on its VTE's RDbase", secVPENDBASER+", "+secVMAPP
		s.Why = fmt.Sprintf("not resident here: vPE %d is scheduled on CPU %d, but the ITS delivers its vLPIs to CPU %d (RDbase): VMOVP it to CPU %d, or schedule it on CPU %d", w.vite.VPEID, *elsewhere, cpu, *elsewhere, cpu)
	case pb.Valid():
		s.Verdict = Info
		s.Why = fmt.Sprintf("not resident: CPU %d has another vPE scheduled (VPT at %v)", cpu, pb.Addr())
	default:
		s.Verdict = Info
		s.Why = fmt.Sprintf("not resident: no vPE is scheduled on CPU %d (GICR_VPENDBASER.Valid = 0)", cpu)
	}
	if ctl&model.GICR_CTLR_EnableLPIs == 0 {
		s.Verdict, s.Check, s.Section = Warn, "GICR_CTLR.EnableLPIs = 1", "12.11.2"
		s.Why = fmt.Sprintf("CPU %d's LPIs are disabled: an MSI to a vLPI delivered there, resident or as a doorbell, is refused. ", cpu) + s.Why
	}
	return w.next(s)
}

// scheduledElsewhere returns the CPU other than rd whose GICR_VPENDBASER
// schedules the vPE, nil when there is none.
func (w *walk) scheduledElsewhere(rd model.CPU) (*model.CPU, error) {
	for c := range w.b.Capabilities().CPUs {
		cpu := model.CPU(c)
		if cpu == rd {
			continue
		}
		v, err := w.b.ReadRedistributorRegister(cpu, model.GICR_VPENDBASER)
		if err != nil {
			return nil, fmt.Errorf("reading CPU %d's GICR_VPENDBASER: %w", cpu, err)
		}
		if w.schedules(v) {
			return &cpu, nil
		}
	}
	return nil, nil
}

// virtualDelivery is where an MSI of the event puts its vLPI now: pending
// for the resident vPE's virtual CPU interface, or, the vPE not resident,
// in its VPT, with the doorbell made pending on the vPE's redistributor.
func (w *walk) virtualDelivery() (bool, error) {
	switch {
	case w.v41 != nil && w.resident:
		return w.residentDelivery41()
	case w.v41 != nil:
		return w.vptDelivery41()
	case w.resident:
		return w.residentDelivery()
	}
	return w.vptDelivery()
}

// residentDelivery is the vLPI at the virtual CPU interface of the vPE
// scheduled on the target: its configuration byte (GICR_VPROPBASER's
// table) and whether it is pending now (PendingVirtual, where the backend
// offers it).
func (w *walk) residentDelivery() (bool, error) {
	vintid := w.vite.VINTID
	s := Step{Title: fmt.Sprintf("vLPI %d for the vPE scheduled on CPU %d (virtual CPU interface)", vintid, w.cpu), Verdict: OK}
	delivered := fmt.Sprintf("delivered to the vPE scheduled on CPU %d (pending for its virtual CPU interface)", w.cpu)
	enabled := true
	if bits := w.vprop.IDBits(); w.vprop.Addr() == 0 || uint64(vintid) >= uint64(1)<<bits {
		s.Verdict, s.Check, s.Section = Warn, "GICR_VPROPBASER covers the vINTID", secVPENDBASER
		s.Why = fmt.Sprintf("CPU %d's GICR_VPROPBASER (table at %v, vINTIDs below %d) gives the vLPI no configuration byte: it can become pending but is never signalled. ", w.cpu, w.vprop.Addr(), uint64(1)<<bits)
		enabled = false
	} else {
		addr := w.vprop.Addr() + model.GPA(vintid-model.LPIBase)
		var one [1]byte
		if err := w.mem.ReadAt(one[:], addr); err != nil {
			return false, err
		}
		cfg := model.LPIConfig(one[0])
		s.Addr = addr
		s.readByte(one[0])
		s.Fields = []Field{{"Priority", fmt.Sprintf("%#02x", cfg.Priority())}, {"Enable", boolBit(cfg.Enabled())}}
		if !cfg.Enabled() {
			s.Verdict, s.Check, s.Section = Warn, "the vLPI is enabled (bit 0 of its byte in GICR_VPROPBASER's table)", "5.1.1"
			s.Why = "the vLPI is disabled: it can become pending, but is never signalled to the vPE. "
			enabled = false
		}
	}
	return w.virtualPending(s, delivered, enabled)
}

// virtualPending finishes the step s of a vLPI delivered to the resident
// vPE: whether it is pending at the virtual CPU interface now, where the
// backend says (PendingVirtual). enabled says it would be signalled.
func (w *walk) virtualPending(s Step, delivered string, enabled bool) (bool, error) {
	vintid := w.vite.VINTID
	vcpu, ok := w.b.(model.VirtualCPUInterface)
	if !ok {
		s.Why += "an MSI now is " + delivered + "; this backend cannot say which vLPIs are pending there"
		return w.next(s)
	}
	pending, err := vcpu.PendingVirtual(w.cpu)
	if err != nil {
		return false, fmt.Errorf("the vLPIs pending for the vPE scheduled on CPU %d: %w", w.cpu, err)
	}
	isPending := slices.Contains(pending, vintid)
	s.Fields = append(s.Fields, Field{"pending", yesNo(isPending)})
	switch {
	case isPending:
		s.Why += delivered + ": pending now; ICV_IAR1_EL1 in the vPE acknowledges it"
	default:
		s.Why += "an MSI now is " + delivered + "; not pending now: no MSI or INT since it was last acknowledged or CLEARed"
		if enabled {
			s.Verdict = Info
		}
	}
	return w.next(s)
}

// vptDelivery is the vLPI of a vPE that is not resident: an MSI sets its
// bit in the vPE's VPT (IHI 0069H chapter 7, inferred) and, with a
// doorbell, makes that physical LPI pending on the vPE's redistributor.
func (w *walk) vptDelivery() (bool, error) {
	vintid, vpt, db := w.vite.VINTID, w.vte.VPTAddr, w.vite.Doorbell
	byteAddr := vpt + model.GPA(vintid/8)
	var b [1]byte
	if err := w.mem.ReadAt(b[:], byteAddr); err != nil {
		return false, err
	}
	s := Step{Title: fmt.Sprintf("vPE %d's virtual pending table (not resident)", w.vite.VPEID), Addr: byteAddr, Verdict: Info}
	s.readByte(b[0])
	s.Fields = []Field{{"VPT bit", fmt.Sprintf("byte %v bit %d = %d", byteAddr, vintid%8, b[0]>>(vintid%8)&1)}, {"Dbell_pINTID", doorbellString(db)}}
	if db == model.NoDoorbell {
		s.Why = fmt.Sprintf("not resident: an MSI sets vINTID %d's bit in the VPT at %v; no doorbell (Dbell_pINTID 1023): nothing tells the hypervisor, and the vPE sees the vLPI when it is next scheduled", vintid, vpt)
		return w.next(s)
	}
	s.Why = fmt.Sprintf("not resident: an MSI sets vINTID %d's bit in the VPT at %v, and doorbell pINTID %d is made pending on CPU %d", vintid, vpt, db, w.cpu)
	return w.eventDoorbell(s, db)
}

// eventDoorbell finishes the step s of a vLPI whose per-event doorbell db
// rings: whether it is pending, and whether it can ring and be signalled.
func (w *walk) eventDoorbell(s Step, db model.INTID) (bool, error) {
	pending, err := w.b.Pending(w.cpu)
	if err != nil {
		return false, err
	}
	s.Fields = append(s.Fields, Field{"doorbell pending", yesNo(slices.Contains(pending, db))})
	pbv, err := w.b.ReadRedistributorRegister(w.cpu, model.GICR_PROPBASER)
	if err != nil {
		return false, err
	}
	w.propBaser = model.PropBaser(pbv)
	if bits := w.propBaser.IDBits(); db < model.LPIBase || (bits < 32 && uint64(db) >= uint64(1)<<bits) {
		s.Verdict, s.Check, s.Section = Warn, "the doorbell is an LPI GICR_PROPBASER covers", "5.1.1, "+secVMAPTI
		s.Why += fmt.Sprintf(", but GICR_PROPBASER.IDbits covers INTIDs below %d: no doorbell rings", uint64(1)<<bits)
		return w.next(s)
	}
	cfg, _, err := w.lpiConfig(db)
	if err != nil {
		return false, err
	}
	s.Fields = append(s.Fields, Field{"doorbell Priority", fmt.Sprintf("%#02x", cfg.Priority())}, Field{"doorbell Enable", boolBit(cfg.Enabled())})
	if !cfg.Enabled() {
		s.Verdict, s.Check, s.Section = Warn, "the doorbell LPI is enabled", "5.1.1"
		s.Why += ", but the doorbell LPI is disabled in its configuration byte: it becomes pending and is never signalled"
	}
	return w.next(s)
}
