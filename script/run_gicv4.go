package script

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/gicits/gicits/model"
)

// This file runs the GICv4.0 statements (ast_gicv4.go): the settings, the
// hypervisor's actions on vPEs, and the expectations on vLPIs and the
// tables of a virtual ITS.

// ---- settings ----

// apply asks for a GICv4.0 ITS: [model.GICv4ITSTyper], or, after an itt
// setting, its GITS_TYPER with Virtual and VMOVP set; with version=4.1 a
// GICv4.1 one ([model.GICv41ITSTyper]'s VMAPP, VSGI, SVPET and nID too).
func (s *GICv4Stmt) apply(c *model.Config) error {
	const v41Bits = model.GICv41ITSTyper &^ model.GICv4ITSTyper
	defer func() {
		if s.NoVMOVP {
			c.ITSTyper &^= 1 << 37 // GITS_TYPER.VMOVP
		}
	}()
	if c.ITSTyper == 0 {
		c.ITSTyper = model.GICv4ITSTyper
		if s.V41 {
			c.ITSTyper = model.GICv41ITSTyper
		}
		return nil
	}
	if n := c.ITSTyper.ITTEntrySize(); n < model.VirtualITESize {
		return fmt.Errorf("gicv4: %d-byte ITT entries cannot hold a virtual ITE (%d bytes): %w", n, model.VirtualITESize, model.ErrInvalidArgument)
	}
	c.ITSTyper |= model.GICv4ITSTyper & (1<<1 | 1<<37) // Virtual, VMOVP
	if s.V41 {
		c.ITSTyper |= v41Bits
	}
	return nil
}

// apply changes nothing in the configuration: the runner programs
// GITS_BASER2 once the backend is open ([runner.programVPETable]).
func (s *VPETableStmt) apply(c *model.Config) error { return nil }

// vpeTableSetting returns the script's vpetable setting, if any.
func (r *runner) vpeTableSetting() *VPETableStmt {
	for _, st := range r.s.Stmts {
		switch st := st.(type) {
		case *VPETableStmt:
			return st
		case Setting:
		default:
			return nil
		}
	}
	return nil
}

// programVPETable does what the vpetable setting says: with the ITS
// disabled, it points GITS_BASER2 at a zeroed table, then enables the ITS
// again, as a hypervisor sets its vPE table up before it enables the ITS.
func (r *runner) programVPETable(s *VPETableStmt) error {
	v, err := r.b.ReadITSRegister(model.GITS_BASER(2))
	if err != nil {
		return fmt.Errorf("reading GITS_BASER2: %w", err)
	}
	reset := model.Baser(v)
	if reset.Type() != model.BaserVPEs {
		return fmt.Errorf("GITS_BASER2 %#x is not a vPE table (Type %v): %w", v, reset.Type(), model.ErrNotSupported)
	}
	size := uint64(s.pageSize()) * uint64(s.pages())
	addr := s.Addr
	if addr == 0 {
		if addr, err = r.alloc.Alloc(size, uint64(s.pageSize())); err != nil {
			return fmt.Errorf("allocating the vPE table (%d bytes): %w", size, err)
		}
	}
	if err := model.Zero(r.b.Memory(), addr, int(size)); err != nil {
		return fmt.Errorf("zeroing the vPE table: %w", err)
	}
	baser, err := reset.WithTable(addr, s.pageSize(), s.pages(), s.Indirect)
	if err != nil {
		return err
	}
	for _, w := range []struct {
		reg model.ITSRegister
		v   uint64
	}{
		{model.GITS_CTLR, 0},
		{model.GITS_BASER(2), uint64(baser)},
		{model.GITS_CTLR, model.GITS_CTLR_Enabled},
	} {
		if err := r.b.WriteITSRegister(w.reg, w.v); err != nil {
			return fmt.Errorf("writing %v: %w", w.reg, err)
		}
	}
	r.verbosef(s, "GITS_BASER2 = %#x (%d bytes at %v)", uint64(baser), size, addr)
	return nil
}

// ---- actions ----

// errNoVPEs is the error of a statement that needs the virtual CPU
// interface on a backend without one.
func (r *runner) errNoVPEs() error {
	return fmt.Errorf("backend %s has no vPEs (no virtual CPU interface; open it with the gicv4 setting): %w", r.opts.Backend, model.ErrNotSupported)
}

// vcpu returns the backend's virtual CPU interface, or nil.
func (r *runner) vcpu() model.VirtualCPUInterface {
	v, _ := r.b.(model.VirtualCPUInterface)
	return v
}

// execGICv4 runs a GICv4 action; it reports false for any other
// statement.
func (r *runner) execGICv4(st Stmt) bool {
	switch s := st.(type) {
	case *VLPIStmt:
		r.configureVLPIs(s)
	case *VScheduleStmt:
		err := r.schedule(s)
		r.act(s, err, r.vpendbaserNow(s.CPU, "scheduled"))
	case *VDescheduleStmt:
		err := r.deschedule(s)
		r.act(s, err, r.vpendbaserNow(s.CPU, "descheduled"))
	case *VAckStmt:
		id, err := r.vack(s.CPU)
		r.act(s, err, describeINTID(id))
		if err == nil {
			r.outcome(s, describeINTID(id))
		}
	case *VEOIStmt:
		r.veoi(s)
	case *VPMRStmt:
		err := r.errNoVPEs()
		if v := r.vcpu(); v != nil {
			err = v.SetVirtualPriorityMask(s.CPU, s.Value)
		}
		r.act(s, err, "ICV_PMR_EL1 set")
	case *SGIRStmt:
		r.act(s, r.sgir(s), "GITS_SGIR written")
	case *VInvRStmt:
		r.act(s, r.vinvr(s), "written with V = 1")
	default:
		return false
	}
	return true
}

// configureVLPIs writes the configuration byte of every vINTID of the
// range into the virtual LPI configuration table.
func (r *runner) configureVLPIs(s *VLPIStmt) {
	n := uint64(s.Last-s.First) + 1
	addr, err := s.Table.Add(uint64(s.First - model.LPIBase))
	if err == nil {
		err = r.b.Memory().WriteAt(slices.Repeat([]byte{byte(s.Config)}, int(n)), addr)
	}
	r.act(s, err, fmt.Sprintf("%d configuration bytes %#02x at %v", n, uint8(s.Config), addr))
}

// schedule writes GICR_VPROPBASER, then GICR_VPENDBASER with Valid.
func (r *runner) schedule(s *VScheduleStmt) error {
	if s.V41 {
		return r.schedule41(s)
	}
	prop, err := model.MakeVPropBaser(s.VProp, s.Bits)
	if err != nil {
		return err
	}
	pend, err := model.MakeVPendBaser(s.VPT, true, s.IDAI)
	if err != nil {
		return err
	}
	if err := r.b.WriteRedistributorRegister(s.CPU, model.GICR_VPROPBASER, uint64(prop)); err != nil {
		return err
	}
	return r.b.WriteRedistributorRegister(s.CPU, model.GICR_VPENDBASER, uint64(pend))
}

// deschedule writes GICR_VPENDBASER back with Valid clear.
func (r *runner) deschedule(s *VDescheduleStmt) error {
	v, err := r.b.ReadRedistributorRegister(s.CPU, model.GICR_VPENDBASER)
	if err != nil {
		return err
	}
	r.vacked[s.CPU] = nil // the vPE's active vLPIs leave with it
	w := v &^ model.GICR_VPENDBASER_Valid
	if s.DB {
		if !r.cfg.ITSTyper.IsGICv41() {
			return fmt.Errorf("vdeschedule db: GICR_VPENDBASER.Doorbell is GICv4.1's (bit 62 is IDAI in GICv4.0); want the setting gicv4 version=4.1: %w", model.ErrInvalidArgument)
		}
		w |= model.GICR_VPENDBASER_Doorbell
	}
	return r.b.WriteRedistributorRegister(s.CPU, model.GICR_VPENDBASER, w)
}

// errNeedsGICv41 is the error of a GICv4.1 statement in a script without
// gicv4 version=4.1.
func (r *runner) errNeedsGICv41(what string) error {
	if r.cfg.ITSTyper.IsGICv41() {
		return nil
	}
	return fmt.Errorf("%s is GICv4.1's; want the setting gicv4 version=4.1: %w", what, model.ErrNotSupported)
}

// schedule41 writes GICR_VPENDBASER in its GICv4.1 form, after pointing
// GICR_VPROPBASER at the vPE table GITS_BASER2 holds if it is not valid.
func (r *runner) schedule41(s *VScheduleStmt) error {
	if err := r.errNeedsGICv41("vschedule vpe="); err != nil {
		return err
	}
	prop, err := r.b.ReadRedistributorRegister(s.CPU, model.GICR_VPROPBASER)
	if err != nil {
		return err
	}
	if !model.VPropBaser41(prop).Valid() {
		v, err := r.b.ReadITSRegister(model.GITS_BASER(2))
		if err != nil {
			return fmt.Errorf("reading GITS_BASER2: %w", err)
		}
		b := model.Baser(v)
		p, err := model.MakeVPropBaser41(b.Addr(), b.PageSize(), max(1, int(b.SizeBytes()/uint64(b.PageSize()))), b.Indirect(), false)
		if err != nil {
			return fmt.Errorf("GICR_VPROPBASER from GITS_BASER2 %#x: %w", v, err)
		}
		if err := r.b.WriteRedistributorRegister(s.CPU, model.GICR_VPROPBASER, uint64(p)); err != nil {
			return err
		}
	}
	return r.b.WriteRedistributorRegister(s.CPU, model.GICR_VPENDBASER, uint64(model.MakeVPendBaser41(s.VPE, true, s.Grp0, s.Grp1, false)))
}

// sgir writes GITS_SGIR.
func (r *runner) sgir(s *SGIRStmt) error {
	if err := r.errNeedsGICv41("sgir"); err != nil {
		return err
	}
	v, err := model.MakeITSSGIR(s.VPE, s.SGI)
	if err != nil {
		return err
	}
	return r.b.WriteITSRegister(model.GITS_SGIR, v)
}

// vinvr writes GICR_INVLPIR or GICR_INVALLR with V = 1.
func (r *runner) vinvr(s *VInvRStmt) error {
	if err := r.errNeedsGICv41(map[bool]string{true: "vinvallr", false: "vinvlpir"}[s.All]); err != nil {
		return err
	}
	if s.All {
		return r.b.WriteRedistributorRegister(s.CPU, model.GICR_INVALLR, model.MakeInvVLPIR(s.VPE, 0))
	}
	return r.b.WriteRedistributorRegister(s.CPU, model.GICR_INVLPIR, model.MakeInvVLPIR(s.VPE, s.VLPI))
}

// vack acknowledges in the vPE scheduled on cpu.
func (r *runner) vack(cpu model.CPU) (model.INTID, error) {
	v := r.vcpu()
	if v == nil {
		return 0, r.errNoVPEs()
	}
	id, err := v.AcknowledgeVirtual(cpu)
	if err == nil && id != model.SpuriousINTID {
		r.vacked[cpu] = append(r.vacked[cpu], id)
	}
	return id, err
}

// veoi ends the given vLPI, or the last one vack'd and not yet ended.
func (r *runner) veoi(s *VEOIStmt) {
	v := r.vcpu()
	if v == nil {
		r.act(s, r.errNoVPEs(), "")
		return
	}
	id := s.VLPI
	stack := r.vacked[s.CPU]
	if id == 0 {
		if len(stack) == 0 {
			r.verbosef(s, "nothing acknowledged: no EOI")
			return
		}
		id = stack[len(stack)-1]
	}
	err := v.EOIVirtual(s.CPU, id)
	if err == nil {
		if k := slices.Index(stack, id); k >= 0 {
			r.vacked[s.CPU] = slices.Delete(stack, k, k+1)
		}
	}
	r.act(s, err, fmt.Sprintf("priority drop of %d", id))
}

// prepareVMAPP provides, in a two-level vPE table, the level-2 page the
// vPE's entry needs, as a hypervisor does before VMAPP.
func (r *runner) prepareVMAPP(m model.VMAPP) error {
	if !m.Valid {
		return nil
	}
	v, err := r.b.ReadITSRegister(model.GITS_BASER(2))
	if err != nil {
		return fmt.Errorf("reading GITS_BASER2: %w", err)
	}
	if b := model.Baser(v); !b.Valid() || !b.Indirect() || b.Type() != model.BaserVPEs {
		return nil
	}
	if _, err := r.provideL2In(2, uint64(m.VPEID), "vPE"); err != nil && !errors.Is(err, errOutsideL1) {
		return err
	}
	return nil
}

// ---- expectations ----

// expectGICv4 checks a GICv4 expectation; it reports false for any other.
func (r *runner) expectGICv4(st Expectation) bool {
	switch s := st.(type) {
	case *ExpectVPTStmt:
		r.expectVPT(s)
	case *ExpectVTEStmt:
		r.expectVTE(s)
	case *ExpectVSGIPendingStmt:
		r.expectVSGIPending(s)
	default:
		return false
	}
	return true
}

// pendingVirtual returns the vLPIs pending in the vPE scheduled on cpu.
func (r *runner) pendingVirtual(cpu model.CPU) ([]model.INTID, error) {
	v := r.vcpu()
	if v == nil {
		return nil, r.errNoVPEs()
	}
	return v.PendingVirtual(cpu)
}

// expectVPT checks a vINTID's bit in a virtual pending table.
func (r *runner) expectVPT(s *ExpectVPTStmt) {
	addr, err := s.Addr.Add(uint64(s.VLPI / 8))
	var b [1]byte
	if err == nil {
		err = r.b.Memory().ReadAt(b[:], addr)
	}
	if err != nil {
		r.observeErr(s, "read the virtual pending table", err)
		return
	}
	pending := b[0]>>(s.VLPI%8)&1 != 0
	state := map[bool]string{true: "pending", false: "clear"}
	if pending != s.Pending {
		r.fail(s, "got %s (byte %#02x at %v)", state[pending], b[0], addr)
		return
	}
	r.pass(s, "%s (byte %#02x at %v)", state[pending], b[0], addr)
}

// expectVTE reads a vPE table entry through GITS_BASER2, after a save as
// expect dte does, and checks it.
func (r *runner) expectVTE(s *ExpectVTEStmt) {
	if r.savedTables(s) == nil {
		return
	}
	e, where, err := r.readVTE(s.VPE)
	if err != nil {
		r.observeErr(s, "read the vPE table", err)
		return
	}
	switch {
	case s.Invalid && e.Valid:
		r.fail(s, "got %v (%s)", e, where)
	case s.Invalid:
		r.pass(s, "invalid (%s)", where)
	case !e.Valid:
		r.fail(s, "got no valid VTE (%s)", where)
	case s.CPU != nil && uint64(e.RDbase) != *s.CPU,
		s.VPT != nil && e.VPTAddr != *s.VPT,
		s.Bits != nil && e.VINTIDBits() != *s.Bits:
		r.fail(s, "got %v (%s)", e, where)
	default:
		r.pass(s, "%v (%s)", e, where)
	}
}

// readVTE walks the vPE table GITS_BASER2 points at to vpe's entry; an
// entry the table does not reach reads as invalid, and where says why or
// where the entry is.
func (r *runner) readVTE(vpe model.VPEID) (e model.VTE, where string, err error) {
	v, err := r.b.ReadITSRegister(model.GITS_BASER(2))
	if err != nil {
		return e, "", fmt.Errorf("reading GITS_BASER2: %w", err)
	}
	b := model.Baser(v)
	switch {
	case b.Type() != model.BaserVPEs:
		return e, "", fmt.Errorf("GITS_BASER2 %#x is not a vPE table (Type %v)", v, b.Type())
	case !b.Valid():
		return e, "GITS_BASER2 not valid", nil
	}
	mem := r.b.Memory()
	size := uint64(b.EntrySize())
	base, idx, limit := b.Addr(), uint64(vpe), b.SizeBytes()
	if b.Indirect() {
		per := uint64(b.PageSize()) / size
		l1 := base + model.GPA(idx/per*model.TableEntrySize)
		if idx/per*model.TableEntrySize >= limit {
			return e, fmt.Sprintf("vPEID %d is beyond the level-1 table", vpe), nil
		}
		raw, err := model.ReadUint64(mem, l1)
		if err != nil {
			return e, "", err
		}
		l1e := model.DecodeL1Entry(raw)
		if !l1e.Valid {
			return e, fmt.Sprintf("level-1 entry at %v not valid", l1), nil
		}
		base, idx, limit = l1e.Addr, idx%per, uint64(b.PageSize())
	}
	if idx*size >= limit {
		return e, fmt.Sprintf("vPEID %d is beyond the %d-byte table", vpe, limit), nil
	}
	at := base + model.GPA(idx*size)
	raw, err := model.ReadUint64(mem, at)
	if err != nil {
		return e, "", err
	}
	return model.DecodeVTE(raw), fmt.Sprintf("entry at %v", at), nil
}

// virtualITE reads the word after the ITE at addr when the ITS is virtual
// and its ITT entries hold one: the entry decoded as a virtual ITE, and
// whether it is one.
func (r *runner) virtualITE(addr model.GPA, dw uint64) (model.VirtualITE, bool, error) {
	t, err := r.b.ReadITSRegister(model.GITS_TYPER)
	if err != nil {
		return model.VirtualITE{}, false, fmt.Errorf("reading GITS_TYPER: %w", err)
	}
	if !model.ITSTyper(t).Virtual() || r.caps.ITTStride() < model.VirtualITESize {
		return model.VirtualITE{}, false, nil
	}
	var w [4]byte
	if err := r.b.Memory().ReadAt(w[:], addr+8); err != nil {
		return model.VirtualITE{}, false, err
	}
	e, ok := model.DecodeVirtualITE(dw, binary.LittleEndian.Uint32(w[:]))
	return e, ok, nil
}

// checkVirtualITE checks a valid ITT entry at addr (its doubleword dw,
// decoded as the physical ite) against s, physical or virtual.
func (r *runner) checkVirtualITE(s *ExpectITEStmt, addr model.GPA, dw uint64, ite model.ITE) {
	ve, virtual, err := r.virtualITE(addr, dw)
	if err != nil {
		r.observeErr(s, "read the ITT entry", err)
		return
	}
	switch {
	case virtual && !s.IsVirtual():
		r.fail(s, "got a virtual ITE: %v", ve)
	case !virtual && s.IsVirtual():
		r.fail(s, "got a physical ITE: %v", ite)
	case !virtual:
		if s.LPI != nil && ite.INTID != *s.LPI || s.ICID != nil && ite.ICID != *s.ICID || s.Next != nil && int(ite.Next) != *s.Next {
			r.fail(s, "got %v", ite)
			return
		}
		r.pass(s, "%v", ite)
	case *s.VPE != ve.VPEID,
		s.VLPI != nil && ve.VINTID != *s.VLPI,
		s.DB != nil && ve.Doorbell != *s.DB,
		s.Next != nil && int(ve.Next) != *s.Next:
		r.fail(s, "got %v", ve)
	default:
		r.pass(s, "%v", ve)
	}
}

// expectVSGIPending reads a vPE's pending vSGIs through GICR_VSGIR and
// GICR_VSGIPENDR and checks them.
func (r *runner) expectVSGIPending(s *ExpectVSGIPendingStmt) {
	if err := r.errNeedsGICv41("expect vsgipending"); err != nil {
		r.observeErr(s, "read GICR_VSGIPENDR", err)
		return
	}
	if err := r.b.WriteRedistributorRegister(s.CPU, model.GICR_VSGIR, uint64(s.VPE)); err != nil {
		r.observeErr(s, "write GICR_VSGIR", err)
		return
	}
	v, err := r.b.ReadRedistributorRegister(s.CPU, model.GICR_VSGIPENDR)
	if err != nil {
		r.observeErr(s, "read GICR_VSGIPENDR", err)
		return
	}
	got := v & 0xFFFF
	switch {
	case v&model.GICR_VSGIPENDR_Busy != 0:
		r.fail(s, "GICR_VSGIPENDR = %#x: Busy", v)
	case got != s.mask():
		r.fail(s, "got Pending %#04x (GICR_VSGIPENDR = %#x), want %#04x", got, v, s.mask())
	default:
		r.pass(s, "Pending %#04x", got)
	}
}

// vpendbaserNow describes GICR_VPENDBASER of cpu as it reads after a
// (de)schedule, for the -verbose trace: what the redistributor made of
// the write (PendingLast, Doorbell and the rest are in the value).
func (r *runner) vpendbaserNow(cpu model.CPU, what string) string {
	v, err := r.b.ReadRedistributorRegister(cpu, model.GICR_VPENDBASER)
	if err != nil {
		return what
	}
	p, perr := r.b.ReadRedistributorRegister(cpu, model.GICR_VPROPBASER)
	if perr != nil {
		return fmt.Sprintf("%s: GICR_VPENDBASER reads %#x", what, v)
	}
	return fmt.Sprintf("%s: GICR_VPROPBASER reads %#x, GICR_VPENDBASER %#x", what, p, v)
}
