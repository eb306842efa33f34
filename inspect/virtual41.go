package inspect

import (
	"fmt"
	"strings"

	"github.com/gicits/gicits/model"
)

// This file is the GICv4.1 half of [State] (GITS_TYPER.VMAPP): GICR_VPROPBASER
// and GICR_VPENDBASER in their GICv4.1 forms (model/vpe41.go), residency
// by vPEID, and the vSGIs pending for each vPE (GICR_VSGIR, GICR_VSGIPENDR).
//
// What it cannot show: VMAPP's VCONF_addr (the vPE's vLPI configuration
// table) and Default_Doorbell are not in the vPE table entry ([model.VTE]
// holds the VPT only) and no register reads them back; the simulator
// keeps them in the redistributors' own record of the vPE. The output
// says so rather than guess.

// vconfNote is what [State.WriteText] says of a GICv4.1 vPE's VCONF and
// default doorbell.
const vconfNote = "  (GICv4.1: a vPE's VCONF table and default doorbell, from VMAPP, are in no VTE or register: not shown)\n"

// readITSv41 reads GITS_TYPER: what it says of a GICv4.1 ITS, nil for any
// other.
func readITSv41(b model.Backend) (*ITSv41, error) {
	v, err := b.ReadITSRegister(model.GITS_TYPER)
	if err != nil {
		return nil, fmt.Errorf("reading GITS_TYPER: %w", err)
	}
	t := model.ITSTyper(v)
	if !t.IsGICv41() {
		return nil, nil
	}
	return &ITSv41{NID: t.NID(), VSGI: t.VSGI()}, nil
}

// VPropBaser41 is GICR_VPROPBASER in its GICv4.1 form.
func (v *VirtualRedistributor) VPropBaser41() model.VPropBaser41 {
	return model.VPropBaser41(v.VPropBaser)
}

// VPendBaser41 is GICR_VPENDBASER in its GICv4.1 form.
func (v *VirtualRedistributor) VPendBaser41() model.VPendBaser41 {
	return model.VPendBaser41(v.VPendBaser)
}

// schedules reports whether v's GICR_VPENDBASER schedules vPE p: Valid
// and naming its VPT (GICv4.0) or its vPEID (GICv4.1).
func (v *VirtualRedistributor) schedules(p *VPEInfo) bool {
	if !v.Scheduled() {
		return false
	}
	if v.GICv41 {
		return v.VPendBaser41().VPEID() == p.ID
	}
	return v.VPendBaser.Addr() == p.VPT
}

// maxVSGIBusy bounds the reads of GICR_VSGIPENDR while it says Busy.
const maxVSGIBusy = 16

// readVSGIs reads the vSGIs pending for each of vpes: it writes the vPEID to
// CPU 0's GICR_VSGIR and reads GICR_VSGIPENDR. That write is the one
// change it makes to a redistributor: GICR_VSGIR is a query register,
// write-only, and holds nothing else.
func readVSGIs(b model.Backend, vpes []VPEInfo) error {
	if b.Capabilities().CPUs == 0 {
		return nil
	}
	typer, err := b.ReadRedistributorRegister(0, model.GICR_TYPER)
	if err != nil {
		return fmt.Errorf("reading CPU 0's GICR_TYPER: %w", err)
	}
	if typer&model.GICR_TYPER_VSGI == 0 {
		return nil
	}
	for i := range vpes {
		p := &vpes[i]
		if err := b.WriteRedistributorRegister(0, model.GICR_VSGIR, uint64(p.ID)); err != nil {
			return fmt.Errorf("writing CPU 0's GICR_VSGIR (vPE %d): %w", p.ID, err)
		}
		for range maxVSGIBusy {
			v, err := b.ReadRedistributorRegister(0, model.GICR_VSGIPENDR)
			if err != nil {
				return fmt.Errorf("reading CPU 0's GICR_VSGIPENDR (vPE %d): %w", p.ID, err)
			}
			if v&model.GICR_VSGIPENDR_Busy != 0 {
				continue
			}
			p.VSGIPending = []model.INTID{}
			for sgi := range model.INTID(16) {
				if v>>sgi&1 != 0 {
					p.VSGIPending = append(p.VSGIPending, sgi)
				}
			}
			break
		}
	}
	return nil
}

// vsgiText is ", vSGIs pending: ..." for a vPE whose vSGIs were read, ""
// otherwise.
func (p *VPEInfo) vsgiText() string {
	if p.VSGIPending == nil {
		return ""
	}
	if len(p.VSGIPending) == 0 {
		return ", vSGIs pending: none"
	}
	return ", vSGIs pending: " + intidRanges(p.VSGIPending)
}

// vpropBaser41Text describes GICR_VPROPBASER in its GICv4.1 form.
func vpropBaser41Text(p model.VPropBaser41) string {
	if !p.Valid() {
		return "Valid=0: no vPE configuration table"
	}
	kind := "flat"
	if p.Indirect() {
		kind = "two-level"
	}
	z := ""
	if p.Z() {
		z = ", Z=1 (known zero)"
	}
	return fmt.Sprintf("Valid=1: vPE configuration table at %v, %s, %d x %d KiB %s%s", p.Addr(), kind, p.Pages(), p.PageSize()>>10, noun(p.Pages(), "page"), z)
}

// vpendBaser41Fields are GICR_VPENDBASER's GICv4.1 fields, as text.
func vpendBaser41Fields(p model.VPendBaser41) string {
	return fmt.Sprintf("Valid=%s vPEID=%d VGrp0En=%s VGrp1En=%s Doorbell=%s PendingLast=%s",
		boolBit(p.Valid()), p.VPEID(), boolBit(p.VGrp0En()), boolBit(p.VGrp1En()), boolBit(p.Doorbell()), boolBit(p.PendingLast()))
}

// descheduledText says what a GICR_VPENDBASER (GICv4.1 form) that is not
// Valid keeps of the last vPE descheduled there.
func descheduledText(p model.VPendBaser41) string {
	switch {
	case p == 0:
		return ""
	case p.PendingLast():
		return fmt.Sprintf("; vPE %d was descheduled with an enabled interrupt pending (PendingLast): no default doorbell armed", p.VPEID())
	case p.Doorbell():
		return fmt.Sprintf("; vPE %d was descheduled asking for its default doorbell (Doorbell)", p.VPEID())
	}
	return fmt.Sprintf("; vPE %d was descheduled without asking for a doorbell", p.VPEID())
}

// writeVirtualRedistributor41 writes r's VLPI_base registers, GICv4.1
// forms, for people.
func writeVirtualRedistributor41(b *strings.Builder, r *VirtualRedistributor) {
	fmt.Fprintf(b, "    GICR_VPROPBASER %#x (%s)\n", uint64(r.VPropBaser), vpropBaser41Text(r.VPropBaser41()))
	pb := r.VPendBaser41()
	fmt.Fprintf(b, "    GICR_VPENDBASER %#x (%s): ", uint64(pb), vpendBaser41Fields(pb))
	if !pb.Valid() {
		fmt.Fprintf(b, "no vPE scheduled%s\n", descheduledText(pb))
		return
	}
	if len(r.VPEIDs) == 0 {
		fmt.Fprintf(b, "vPE %d scheduled (no valid VTE holds it)", pb.VPEID())
	} else {
		fmt.Fprintf(b, "vPE %d scheduled (VPT at %v, from its VTE)", pb.VPEID(), r.VPT)
	}
	if !pb.VGrp1En() {
		b.WriteString(", vLPIs not signalled (VGrp1En=0)")
	}
	pend := "none"
	if len(r.Pending) > 0 {
		pend = intidRanges(r.Pending)
	}
	fmt.Fprintf(b, ", vLPIs pending: %s\n", pend)
}
