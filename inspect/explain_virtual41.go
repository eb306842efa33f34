package inspect

import (
	"fmt"

	"github.com/gicits/gicits/model"
)

// This file is the GICv4.1 half of [Explain] (GITS_TYPER.VMAPP): a vPE is
// resident where GICR_VPENDBASER is Valid and names its vPEID, the VTE
// gives its VPT; a resident vPE is signalled its vLPIs only with
// VGrp1En; one that is not has the vLPI set in its VPT and, if its last
// deschedule asked for it (Doorbell) with nothing enabled pending, its
// default doorbell rung once on its RDbase (package gicr, virtual41.go).
// With GITS_TYPER.nID per-event doorbells do not ring. The vLPI's
// configuration is in the vPE's VCONF table and the default doorbell's
// INTID in VMAPP's Default_Doorbell: neither is in the VTE or a register,
// and the walk says so.

// Sections behind the GICv4.1 checks (inferred, as in model/vpe41.go).
const (
	secVPENDBASER41 = "8.6 (revision H, inferred) and the GICR_VPENDBASER FEAT_GICv4p1 form"
)

// schedules reports whether a GICR_VPENDBASER value v schedules the
// walk's vPE: Valid and naming its VPT (GICv4.0) or its vPEID (GICv4.1).
func (w *walk) schedules(v uint64) bool {
	if w.v41 != nil {
		p := model.VPendBaser41(v)
		return p.Valid() && p.VPEID() == w.vite.VPEID
	}
	p := model.VPendBaser(v)
	return p.Valid() && p.Addr() == w.vte.VPTAddr
}

// residency41 finishes the residency step s on a GICv4.1 ITS, given the
// RDbase's GICR_CTLR, GICR_VPROPBASER and GICR_VPENDBASER.
func (w *walk) residency41(s Step, regs [3]uint64) (bool, error) {
	cpu, ctl, pb := w.cpu, regs[0], model.VPendBaser41(regs[2])
	w.gicrCTLR, w.vpend41 = ctl, pb
	w.resident = w.schedules(regs[2])
	s.readRegister("GICR_VPENDBASER", uint64(pb), fmt.Sprintf("GICR_VPENDBASER %#x", uint64(pb)))
	s.Fields = []Field{{"Valid", boolBit(pb.Valid())}, {"vPEID", fmt.Sprint(pb.VPEID())}, {"VGrp0En", boolBit(pb.VGrp0En())},
		{"VGrp1En", boolBit(pb.VGrp1En())}, {"Doorbell", boolBit(pb.Doorbell())}, {"PendingLast", boolBit(pb.PendingLast())},
		{"vPE's VPT (VTE)", w.vte.VPTAddr.String()},
		{"GICR_VPROPBASER", fmt.Sprintf("%#x (%s)", regs[1], vpropBaser41Text(model.VPropBaser41(regs[1])))},
		{"EnableLPIs", fmt.Sprint(ctl & model.GICR_CTLR_EnableLPIs)}}
	elsewhere, err := w.scheduledElsewhere(cpu)
	if err != nil {
		return false, err
	}
	w.elsewhere = elsewhere
	switch {
	case w.resident:
		s.Why = fmt.Sprintf("resident: GICR_VPENDBASER.Valid = 1 names vPEID %d (GICv4.1 residency is by vPEID; the VTE gives its VPT), so the vLPI goes to the vPE directly", w.vite.VPEID)
	case elsewhere != nil:
		s.Fields = append(s.Fields, Field{"scheduled on", fmt.Sprintf("CPU %d", *elsewhere)})
		s.Verdict, s.Check, s.Section = Warn, "the vPE is scheduled on its VTE's RDbase", secVPENDBASER41+", "+secVMAPP
		s.Why = fmt.Sprintf("not resident here: vPE %d is scheduled on CPU %d, but the ITS delivers its vLPIs to CPU %d (RDbase): VMOVP it to CPU %d, or schedule it on CPU %d", w.vite.VPEID, *elsewhere, cpu, *elsewhere, cpu)
	case pb.Valid():
		s.Verdict = Info
		s.Why = fmt.Sprintf("not resident: CPU %d has vPE %d scheduled (GICR_VPENDBASER.vPEID)", cpu, pb.VPEID())
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

// residentDelivery41 is the vLPI at the virtual CPU interface of the vPE
// resident on the target, GICv4.1: signalled only with VGrp1En (a vLPI is
// group 1); its configuration byte is in the vPE's VCONF table, which the
// walk cannot find.
func (w *walk) residentDelivery41() (bool, error) {
	s := Step{Title: fmt.Sprintf("vLPI %d for the vPE scheduled on CPU %d (virtual CPU interface)", w.vite.VINTID, w.cpu), Verdict: OK}
	delivered := fmt.Sprintf("delivered to the vPE scheduled on CPU %d (pending for its virtual CPU interface)", w.cpu)
	s.Fields = []Field{{"configuration", "in the vPE's VCONF table (not readable)"}, {"VGrp1En", boolBit(w.vpend41.VGrp1En())}}
	s.Why = "its priority and enable bit are in the vPE's VCONF table (VMAPP's VCONF_addr, not GICR_VPROPBASER on GICv4.1), which no VTE or register gives back: not checked. "
	enabled := true
	if !w.vpend41.VGrp1En() {
		s.Verdict, s.Check, s.Section = Warn, "GICR_VPENDBASER.VGrp1En = 1 (a vLPI is group 1)", secVPENDBASER41
		s.Why += "VGrp1En = 0: the vLPI can become pending but is not signalled to the vPE (ICV_IAR1_EL1 reads 1023) until it is scheduled with VGrp1En. "
		enabled = false
	}
	return w.virtualPending(s, delivered, enabled)
}

// vptDelivery41 is the vLPI of a vPE that is not resident, GICv4.1: an
// MSI sets its bit in the VPT and may ring the vPE's default doorbell;
// per-event doorbells ring only without GITS_TYPER.nID.
func (w *walk) vptDelivery41() (bool, error) {
	vintid, vpt, db := w.vite.VINTID, w.vte.VPTAddr, w.vite.Doorbell
	byteAddr := vpt + model.GPA(vintid/8)
	var b [1]byte
	if err := w.mem.ReadAt(b[:], byteAddr); err != nil {
		return false, err
	}
	s := Step{Title: fmt.Sprintf("vPE %d's virtual pending table (not resident)", w.vite.VPEID), Addr: byteAddr, Verdict: Info}
	s.readByte(b[0])
	dbell := doorbellString(db)
	if w.v41.NID {
		dbell += ", not used (GITS_TYPER.nID = 1)"
	}
	s.Fields = []Field{{"VPT bit", fmt.Sprintf("byte %v bit %d = %d", byteAddr, vintid%8, b[0]>>(vintid%8)&1)}, {"Dbell_pINTID", dbell}}
	s.Why = fmt.Sprintf("not resident: an MSI sets vINTID %d's bit in the VPT at %v", vintid, vpt)
	if err := w.defaultDoorbell(&s); err != nil {
		return false, err
	}
	if w.v41.NID || db == model.NoDoorbell {
		return w.next(s)
	}
	s.Why += fmt.Sprintf("; and its event's doorbell pINTID %d is made pending on CPU %d (GITS_TYPER.nID = 0)", db, w.cpu)
	return w.eventDoorbell(s, db)
}

// defaultDoorbell says, in s, whether the vPE's default doorbell rings:
// what the GICR_VPENDBASER that last descheduled it says (Doorbell,
// PendingLast). The doorbell's INTID (VMAPP's Default_Doorbell) is not
// readable, nor whether it has rung since.
func (w *walk) defaultDoorbell(s *Step) error {
	vpeid := w.vite.VPEID
	if w.elsewhere != nil {
		s.Fields = append(s.Fields, Field{"default doorbell", "not armed (resident elsewhere)"})
		s.Why += fmt.Sprintf("; vPE %d is resident on CPU %d, and scheduling disarms its default doorbell: nothing rings", vpeid, *w.elsewhere)
		return nil
	}
	var last []model.CPU
	var pb model.VPendBaser41
	for c := range w.b.Capabilities().CPUs {
		v, err := w.b.ReadRedistributorRegister(model.CPU(c), model.GICR_VPENDBASER)
		if err != nil {
			return fmt.Errorf("reading CPU %d's GICR_VPENDBASER: %w", c, err)
		}
		if p := model.VPendBaser41(v); p != 0 && !p.Valid() && p.VPEID() == vpeid {
			last, pb = append(last, model.CPU(c)), p
		}
	}
	switch {
	case len(last) == 0:
		s.Fields = append(s.Fields, Field{"last deschedule", "no GICR_VPENDBASER names the vPE"})
		s.Why += fmt.Sprintf("; no GICR_VPENDBASER names vPE %d (never scheduled, or another vPE was since): whether its default doorbell is armed no register says (a vPE never descheduled has none armed)", vpeid)
	case len(last) > 1:
		s.Fields = append(s.Fields, Field{"last deschedule", fmt.Sprintf("CPUs %s name the vPE", cpuList(last))})
		s.Why += fmt.Sprintf("; the GICR_VPENDBASER of CPUs %s name vPE %d: which deschedule came last, and so whether its default doorbell is armed, no register says", cpuList(last), vpeid)
	default:
		s.Fields = append(s.Fields, Field{"last deschedule", fmt.Sprintf("CPU %d: Doorbell=%s PendingLast=%s", last[0], boolBit(pb.Doorbell()), boolBit(pb.PendingLast()))})
		switch {
		case pb.PendingLast():
			s.Why += fmt.Sprintf("; its deschedule on CPU %d found an enabled interrupt pending (PendingLast = 1), so no default doorbell is armed: nothing more tells the hypervisor, which knew the vPE had work", last[0])
		case pb.Doorbell():
			s.Why += fmt.Sprintf("; its deschedule on CPU %d asked for the default doorbell (GICR_VPENDBASER.Doorbell = 1): unless an enabled vLPI or vSGI has rung it since (it rings once), this MSI, if the vLPI is enabled in the vPE's VCONF table, makes VMAPP's Default_Doorbell pending on CPU %d (RDbase); which LPI that is, and whether it has rung, no register says", last[0], w.cpu)
		default:
			s.Why += fmt.Sprintf("; its deschedule on CPU %d asked for no doorbell (GICR_VPENDBASER.Doorbell = 0): nothing tells the hypervisor, and the vPE sees the vLPI when it is next scheduled", last[0])
		}
	}
	return nil
}

func cpuList(cpus []model.CPU) string {
	ids := make([]model.VPEID, len(cpus))
	for i, c := range cpus {
		ids[i] = model.VPEID(c)
	}
	return vpeIDList(ids)
}
