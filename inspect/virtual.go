package inspect

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"strings"

	"github.com/gicits/gicits/model"
)

// This file is the GICv4.0 half of [State]: the vPE table GITS_BASER2
// describes, each redistributor's VLPI_base registers (GICR_VPROPBASER,
// GICR_VPENDBASER) and the vPE they schedule, the vLPIs pending for it,
// the vINTIDs set in the virtual pending table (VPT) of each vPE that is
// not scheduled, and the virtual events of the ITTs. It reads them only on
// a backend whose Capabilities say VirtualLPIs; the vPE table entry and
// virtual ITE formats are IMPLEMENTATION DEFINED, and are read as
// [model.VTE] and [model.VirtualITE] say.

// VPEInfo is one valid entry of the vPE table (a [model.VTE]), and where
// its vLPIs are now.
type VPEInfo struct {
	ID         model.VPEID
	Addr       model.GPA // of the VTE
	RDbase     model.CPU // the redistributor VMAPP or VMOVP targets
	VPT        model.GPA // the virtual LPI pending table
	VINTIDBits int       // VPT_size + 1
	// ScheduledOn is the CPU whose GICR_VPENDBASER is Valid with this
	// VPT, nil when none is.
	ScheduledOn *model.CPU
	// VPTPending is, for a vPE that is not scheduled, the vINTIDs set in
	// its VPT in guest memory (8192 up to 2^VINTIDBits), at most
	// [MaxVPTListed] of them, ascending; VPTPendingMore counts the others
	// set. A scheduled vPE's VPT is the redistributor's to keep: see
	// [VirtualRedistributor.Pending] instead.
	VPTPending     []model.INTID
	VPTPendingMore int
	// VPTError says why the VPT could not be read ("" when it was).
	VPTError string
	// VSGIPending is, on a GICv4.1 ITS with vSGIs (GITS_TYPER.VSGI), the
	// vSGIs (0..15) pending for the vPE, read through GICR_VSGIR and
	// GICR_VSGIPENDR; nil where they are not read.
	VSGIPending []model.INTID
}

// MaxVPTListed is how many vINTIDs set in a VPT [ReadState] lists; it
// counts the rest.
const MaxVPTListed = 64

// VirtualRedistributor is a GICv4 redistributor's VLPI_base registers
// and the vPE scheduled on it.
type VirtualRedistributor struct {
	// VPropBaser and VPendBaser are the registers' values, in their
	// GICv4.0 forms unless GICv41 (then see [VirtualRedistributor.VPropBaser41]
	// and [VirtualRedistributor.VPendBaser41]).
	VPropBaser model.VPropBaser
	VPendBaser model.VPendBaser
	// GICv41 says the ITS is a GICv4.1 one (GITS_TYPER.VMAPP), so the
	// registers are in their GICv4.1 forms: GICR_VPROPBASER points at the
	// vPE configuration table and GICR_VPENDBASER names a vPEID.
	GICv41 bool
	// VPEIDs are, when GICR_VPENDBASER is Valid, the vPEs scheduled: on
	// GICv4.0 those whose VTE names its VPT (normally one; none when no
	// VTE names it), on GICv4.1 the vPE it names when a valid VTE holds
	// it.
	VPEIDs []model.VPEID
	// VPT is the scheduled vPE's virtual pending table: GICR_VPENDBASER's
	// Physical_Address on GICv4.0, the VPT_addr of the named vPE's VTE on
	// GICv4.1 (0 when no valid VTE holds it).
	VPT model.GPA
	// Pending is the vLPIs pending for the scheduled vPE
	// ([model.VirtualCPUInterface.PendingVirtual]), ascending; nil when
	// GICR_VPENDBASER is not Valid or the backend cannot say.
	Pending []model.INTID
}

// Scheduled reports whether a vPE is scheduled (GICR_VPENDBASER.Valid).
func (v *VirtualRedistributor) Scheduled() bool { return v.VPendBaser.Valid() }

// VirtualEvent is what a virtual ITE ([model.VirtualITE]) maps an event
// to: vLPI VINTID of vPE VPEID, with a GICv4.0 doorbell.
type VirtualEvent struct {
	VPEID  model.VPEID
	VINTID model.INTID
	// Doorbell is the physical LPI made pending on the vPE's
	// redistributor when it is not scheduled; [model.NoDoorbell] for
	// none.
	Doorbell model.INTID
}

func (e VirtualEvent) String() string {
	db := "none"
	if e.Doorbell != model.NoDoorbell {
		db = fmt.Sprint(e.Doorbell)
	}
	return fmt.Sprintf("vpe=%d vlpi=%d db=%s", e.VPEID, e.VINTID, db)
}

// readVirtualITE reads the word after the doubleword of the ITT entry at
// addr, and decodes the entry as a [model.VirtualITE] when it is one. On a
// backend without vPEs, or with ITT entries too small to hold one, no
// entry is virtual.
func readVirtualITE(b model.Backend, addr model.GPA, dw uint64) (model.VirtualITE, uint32, bool, error) {
	c := b.Capabilities()
	if !c.VirtualLPIs || c.ITTStride() < model.VirtualITESize {
		return model.VirtualITE{}, 0, false, nil
	}
	var w [4]byte
	if err := b.Memory().ReadAt(w[:], addr+model.TableEntrySize); err != nil {
		return model.VirtualITE{}, 0, false, err
	}
	word := binary.LittleEndian.Uint32(w[:])
	e, ok := model.DecodeVirtualITE(dw, word)
	return e, word, ok, nil
}

// markVirtualEvents replaces, in ds, the events whose ITT entry is a
// virtual ITE with what it maps.
func markVirtualEvents(b model.Backend, t *model.SavedTables, ds []DeviceInfo) error {
	for i, d := range t.Devices {
		for j, ev := range d.Events {
			vite, _, ok, err := readVirtualITE(b, ev.Addr, ev.ITE.Encode())
			if err != nil {
				return fmt.Errorf("ITT entry of device %#x event %d at %v: %w", uint32(d.ID), ev.ID, ev.Addr, err)
			}
			if ok {
				ds[i].Events[j] = EventInfo{ID: ev.ID, Virtual: &VirtualEvent{VPEID: vite.VPEID, VINTID: vite.VINTID, Doorbell: vite.Doorbell}}
			}
		}
	}
	return nil
}

// readVirtual reads the GICv4.0 state of a backend with vPEs into s and
// itses (each ITS's view, saved tables and state, by index): each ITS's
// vPE table, each redistributor's VLPI_base registers and what they
// schedule (of any ITS's vPE table), and the VPTs of the vPEs not
// scheduled.
func (s *State) readVirtual(views []model.Backend, tables []*model.SavedTables, itses []ITSInfo) error {
	for i, v := range views {
		if err := readITSVirtual(v, &itses[i]); err != nil {
			return itsError(len(views), i, err)
		}
	}
	b := views[0]
	v41 := itses[0].ITS.GICv41 != nil
	vcpu, _ := b.(model.VirtualCPUInterface)
	for i := range s.Redistributors {
		r := &s.Redistributors[i]
		vr, err := readVirtualRedistributor(b, vcpu, r.CPU)
		if err != nil {
			return err
		}
		vr.GICv41 = v41
		for k := range itses {
			for j := range itses[k].VPEs {
				p := &itses[k].VPEs[j]
				if vr.schedules(p) {
					if !slices.Contains(vr.VPEIDs, p.ID) {
						vr.VPEIDs = append(vr.VPEIDs, p.ID)
					}
					p.ScheduledOn = &r.CPU
					if vr.GICv41 {
						vr.VPT = p.VPT
					}
				}
			}
		}
		slices.Sort(vr.VPEIDs)
		r.Virtual = vr
	}
	for i, v := range views {
		if err := readVPEsPending(v, &itses[i]); err != nil {
			return itsError(len(views), i, err)
		}
		if err := markVirtualEvents(v, tables[i], itses[i].Devices); err != nil {
			return itsError(len(views), i, err)
		}
	}
	return nil
}

// readITSVirtual reads what the ITS b addresses says of vPEs: GITS_BASER2,
// GITS_TYPER's GICv4.1 fields and the vPE table.
func readITSVirtual(b model.Backend, its *ITSInfo) error {
	v, err := b.ReadITSRegister(model.GITS_BASER(2))
	if err != nil {
		return fmt.Errorf("reading GITS_BASER2: %w", err)
	}
	baser := model.Baser(v)
	tb := tableBase(baser)
	its.ITS.VPETable = &tb
	if its.ITS.GICv41, err = readITSv41(b); err != nil {
		return err
	}
	its.VPEs, err = readVPETable(b.Memory(), baser)
	return err
}

// readVPEsPending reads the VPTs of its vPEs that are not scheduled and,
// on a GICv4.1 ITS with vSGIs, the vSGIs pending for each.
func readVPEsPending(b model.Backend, its *ITSInfo) error {
	for i := range its.VPEs {
		p := &its.VPEs[i]
		if p.ScheduledOn != nil {
			continue
		}
		// A VTE is guest memory: one naming a VPT outside it is shown
		// as such, not an error of the dump.
		var err error
		if p.VPTPending, p.VPTPendingMore, err = readVPTBits(b.Memory(), p.VPT, p.VINTIDBits, MaxVPTListed); err != nil {
			p.VPTPending, p.VPTPendingMore, p.VPTError = []model.INTID{}, 0, err.Error()
		}
	}
	if g := its.ITS.GICv41; g != nil && g.VSGI {
		return readVSGIs(b, its.VPEs)
	}
	return nil
}

// readVirtualRedistributor reads cpu's GICR_VPROPBASER and
// GICR_VPENDBASER and, with a vPE scheduled, its pending vLPIs.
func readVirtualRedistributor(b model.Backend, vcpu model.VirtualCPUInterface, cpu model.CPU) (*VirtualRedistributor, error) {
	prop, err := b.ReadRedistributorRegister(cpu, model.GICR_VPROPBASER)
	if err != nil {
		return nil, fmt.Errorf("reading CPU %d's GICR_VPROPBASER: %w", cpu, err)
	}
	pend, err := b.ReadRedistributorRegister(cpu, model.GICR_VPENDBASER)
	if err != nil {
		return nil, fmt.Errorf("reading CPU %d's GICR_VPENDBASER: %w", cpu, err)
	}
	vr := &VirtualRedistributor{VPropBaser: model.VPropBaser(prop), VPendBaser: model.VPendBaser(pend), VPT: model.VPendBaser(pend).Addr()}
	if vr.Scheduled() && vcpu != nil {
		p, err := vcpu.PendingVirtual(cpu)
		if err != nil {
			return nil, fmt.Errorf("the vLPIs pending for the vPE scheduled on CPU %d: %w", cpu, err)
		}
		vr.Pending = append([]model.INTID{}, p...)
	}
	return vr, nil
}

// readVPETable returns the valid VTEs of the vPE table baser describes,
// flat or two-level, by vPEID; none when it is not a valid vPE table.
func readVPETable(mem model.Memory, baser model.Baser) ([]VPEInfo, error) {
	vpes := []VPEInfo{}
	if !baser.Valid() || baser.Type() != model.BaserVPEs {
		return vpes, nil
	}
	top, err := readRaw(mem, baser.Addr(), baser.SizeBytes())
	if err != nil {
		return nil, fmt.Errorf("vPE table (GITS_BASER2): %w", err)
	}
	add := func(first uint64, base model.GPA, buf []byte) {
		for i := 0; i+model.VTESize <= len(buf); i += model.VTESize {
			if e := model.DecodeVTE(binary.LittleEndian.Uint64(buf[i:])); e.Valid {
				vpes = append(vpes, VPEInfo{ID: model.VPEID(first + uint64(i/model.VTESize)), Addr: base + model.GPA(i),
					RDbase: model.CPU(e.RDbase), VPT: e.VPTAddr, VINTIDBits: e.VINTIDBits()})
			}
		}
	}
	if !baser.Indirect() {
		add(0, baser.Addr(), top)
		return vpes, nil
	}
	per := uint64(baser.PageSize()) / model.VTESize
	for i := 0; i+model.TableEntrySize <= len(top); i += model.TableEntrySize {
		l1 := model.DecodeL1Entry(binary.LittleEndian.Uint64(top[i:]))
		if !l1.Valid {
			continue
		}
		l2 := vpeL2Page(baser, l1)
		page, err := readRaw(mem, l2, uint64(baser.PageSize()))
		if err != nil {
			return nil, fmt.Errorf("second-level vPE table page %d at %v: %w", i/model.TableEntrySize, l2, err)
		}
		add(uint64(i/model.TableEntrySize)*per, l2, page)
	}
	return vpes, nil
}

// vpeL2Page is the second-level page of the vPE table an L1 entry points
// at: its address, aligned down to the table's page size.
func vpeL2Page(baser model.Baser, l1 model.L1Entry) model.GPA {
	return l1.Addr &^ model.GPA(baser.PageSize()-1)
}

// vptReadChunk is how much of a VPT readVPTBits reads at a time.
const vptReadChunk = 64 << 10

// readVPTBits returns the first max vINTIDs whose bit is set in the VPT at
// vpt, from 8192 up to 2^vintidBits (the first 1 KiB, which vINTIDs below
// 8192 would use, is IMPLEMENTATION DEFINED), and how many more are set.
// It reads at most the table's first 64 MiB.
func readVPTBits(mem model.Memory, vpt model.GPA, vintidBits, max int) (ids []model.INTID, more int, err error) {
	ids = []model.INTID{}
	first := uint64(model.LPIBase) / 8
	end := min(uint64(1)<<min(vintidBits, 32)/8, maxTableRead)
	buf := make([]byte, vptReadChunk)
	for off := first; off < end; off += vptReadChunk {
		chunk := buf[:min(vptReadChunk, end-off)]
		if err := mem.ReadAt(chunk, vpt+model.GPA(off)); err != nil {
			return nil, 0, err
		}
		for i, c := range chunk {
			for c != 0 {
				bit := bits.TrailingZeros8(c)
				c &^= 1 << bit
				if len(ids) < max {
					ids = append(ids, model.INTID((off+uint64(i))*8+uint64(bit)))
				} else {
					more++
				}
			}
		}
	}
	return ids, more, nil
}

// writeVirtualRedistributor writes r's VLPI_base registers for people.
func writeVirtualRedistributor(b *strings.Builder, r *VirtualRedistributor) {
	if r.GICv41 {
		writeVirtualRedistributor41(b, r)
		return
	}
	if r.VPropBaser == 0 {
		b.WriteString("    GICR_VPROPBASER 0x0 (no vLPI configuration table)\n")
	} else {
		fmt.Fprintf(b, "    GICR_VPROPBASER %#x (table at %v, %d INTID bits)\n", uint64(r.VPropBaser), r.VPropBaser.Addr(), r.VPropBaser.IDBits())
	}
	pb := r.VPendBaser
	fmt.Fprintf(b, "    GICR_VPENDBASER %#x (Valid=%s IDAI=%s PendingLast=%s): ", uint64(pb), boolBit(pb.Valid()), boolBit(pb.IDAI()), boolBit(pb.PendingLast()))
	if !pb.Valid() {
		b.WriteString("no vPE scheduled\n")
		return
	}
	switch len(r.VPEIDs) {
	case 0:
		fmt.Fprintf(b, "the vPE with VPT %v scheduled (no valid VTE names it)", pb.Addr())
	case 1:
		fmt.Fprintf(b, "vPE %d scheduled (VPT at %v)", r.VPEIDs[0], pb.Addr())
	default:
		fmt.Fprintf(b, "vPEs %s scheduled (VPT at %v, named by each of their VTEs)", vpeIDList(r.VPEIDs), pb.Addr())
	}
	pend := "none"
	if len(r.Pending) > 0 {
		pend = intidRanges(r.Pending)
	}
	fmt.Fprintf(b, ", vLPIs pending: %s\n", pend)
}

// writeVPEs writes the vPE table's valid entries for people; on a
// GICv4.1 ITS, with what of each vPE the registers do not give back.
func writeVPEs(b *strings.Builder, vpes []VPEInfo, v41 bool) {
	b.WriteString("vPEs (valid vPE table entries):\n")
	if len(vpes) == 0 {
		b.WriteString("  none\n")
	} else if v41 {
		b.WriteString(vconfNote)
	}
	for _, p := range vpes {
		fmt.Fprintf(b, "  vPEID %d: RDbase CPU %d, VPT at %v, %s, ", p.ID, p.RDbase, p.VPT, plural(p.VINTIDBits, "vINTID bit"))
		if p.ScheduledOn != nil {
			fmt.Fprintf(b, "scheduled on CPU %d%s\n", *p.ScheduledOn, p.vsgiText())
			continue
		}
		set := "none"
		if p.VPTError != "" {
			set = "unreadable (" + p.VPTError + ")"
		}
		if len(p.VPTPending) > 0 {
			set = intidRanges(p.VPTPending)
		}
		if p.VPTPendingMore > 0 {
			set += fmt.Sprintf(" and %d more", p.VPTPendingMore)
		}
		fmt.Fprintf(b, "not scheduled, set in its VPT: %s%s\n", set, p.vsgiText())
	}
}

func vpeIDList(ids []model.VPEID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	return strings.Join(s, ", ")
}
