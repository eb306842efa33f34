package script

import (
	"errors"
	"fmt"
	"slices"

	"github.com/gicits/gicits/model"
)

// observeErr handles an error from observing the backend during an
// expectation: not supported is a skip, anything else a failure.
func (r *runner) observeErr(st Stmt, what string, err error) {
	if errors.Is(err, model.ErrNotSupported) {
		r.skip(st, fmt.Sprintf("%s cannot %s: %v", r.opts.Backend, what, err))
		return
	}
	r.fail(st, "%s: %v", what, err)
}

func (r *runner) expect(st Expectation) {
	switch s := st.(type) {
	case *ExpectPendingStmt:
		r.expectPending(s)
	case *ExpectAckStmt:
		r.expectAck(s)
	case *ExpectMSIStmt:
		r.expectMSI(s)
	case *ExpectErrorStmt:
		r.expectError(s)
	case *ExpectFailStmt:
		r.expectFail(s)
	case *ExpectRegStmt:
		r.expectReg(s)
	case *ExpectMemStmt:
		r.expectMem(s)
	case *ExpectDTEStmt:
		r.expectDTE(s)
	case *ExpectITEStmt:
		r.expectITE(s)
	case *ExpectCTEStmt:
		r.expectCTE(s)
	case *ExpectTranslateStmt:
		r.expectTranslate(s)
	default:
		if !r.expectGICv4(st) {
			r.fail(st, "unknown expectation %T", st)
		}
	}
}

// expectPending checks that the LPIs are pending, or not, or exactly these.
func (r *runner) expectPending(s *ExpectPendingStmt) {
	read, what := r.b.Pending, "read the pending LPIs"
	if s.Virtual {
		read, what = r.pendingVirtual, "read the pending vLPIs"
	}
	got, err := read(s.CPU)
	if err != nil {
		r.observeErr(s, what, err)
		return
	}
	switch {
	case s.Exact:
		if !slices.Equal(got, sortedIDs(s.LPIs)) {
			r.fail(s, "got %s", pendingString(got))
			return
		}
	case s.Not:
		for _, id := range s.LPIs {
			if slices.Contains(got, id) {
				r.fail(s, "got %d pending (pending: %s)", id, pendingString(got))
				return
			}
		}
	default:
		for _, id := range s.LPIs {
			if !slices.Contains(got, id) {
				r.fail(s, "got %d not pending (pending: %s)", id, pendingString(got))
				return
			}
		}
	}
	r.pass(s, "pending: %s", pendingString(got))
}

// expectAck acknowledges and checks the INTID.
func (r *runner) expectAck(s *ExpectAckStmt) {
	ack := r.ack
	if s.Virtual {
		ack = r.vack
	}
	id, err := ack(s.CPU)
	if err != nil {
		r.observeErr(s, "acknowledge", err)
		return
	}
	if id != s.LPI && !slices.Contains(s.Or, id) {
		r.fail(s, "got %s", describeINTID(id))
		return
	}
	r.pass(s, "acknowledged %s", describeINTID(id))
}

// expectMSI checks what came of the last msi.
func (r *runner) expectMSI(s *ExpectMSIStmt) {
	if r.lastMSI == nil {
		r.fail(s, "got no MSI outcome (no msi before it, or the msi failed)")
		return
	}
	if *r.lastMSI != s.Want {
		r.fail(s, "got %v", *r.lastMSI)
		return
	}
	r.pass(s, "%v", *r.lastMSI)
}

// expectError matches one command error not yet matched, by its code.
func (r *runner) expectError(s *ExpectErrorStmt) {
	if !r.caps.ReportsCommandErrors {
		r.skip(s, r.opts.Backend+" cannot observe command errors")
		return
	}
	for i, ce := range r.cmdErrs {
		if s.Any || ce.Code != 0 && s.Accepts(ce.Code) {
			r.cmdErrs = slices.Delete(r.cmdErrs, i, i+1)
			r.pass(s, "%v", ce)
			return
		}
	}
	if len(r.cmdErrs) == 0 {
		r.fail(s, "got no command error")
		return
	}
	codes := make([]string, len(r.cmdErrs))
	for i, ce := range r.cmdErrs {
		codes[i] = ce.Code.String()
		if ce.Code == 0 {
			codes[i] = ce.Error()
		}
	}
	r.fail(s, "got %v", codes)
	r.cmdErrs = nil
}

// expectFail matches the error of the last action, by its kind.
func (r *runner) expectFail(s *ExpectFailStmt) {
	err := r.actErr
	r.actErr = nil
	if err == nil {
		r.fail(s, "got no error")
		return
	}
	if want := s.Kind.sentinel(); want != nil && !errors.Is(err, want) {
		r.fail(s, "got a different error: %v", err)
		return
	}
	r.pass(s, "%v", err)
}

// expectReg reads a register and checks the bits of the mask.
func (r *runner) expectReg(s *ExpectRegStmt) {
	var v uint64
	var err error
	if s.Reg.IsRD {
		v, err = r.b.ReadRedistributorRegister(s.CPU, s.Reg.GICR)
	} else {
		v, err = r.b.ReadITSRegister(s.Reg.ITS)
	}
	if err != nil {
		r.observeErr(s, "read "+s.Reg.Name, err)
		return
	}
	if !r.masked(s, v, s.Value, s.Mask, "register") {
		return
	}
	// A stall is also an action error of the command that stalled.
	if s.Reg.ITS == model.GITS_CREADR && !s.Reg.IsRD && s.Mask == model.GITS_CREADR_Stalled && s.Value == 1 {
		r.actErr = nil
	}
	r.pass(s, "%#x", v)
}

// masked fails st unless the bits of mask (all of them when 0) of v, a
// register or doubleword (what), are want; it reports whether they are.
func (r *runner) masked(st Stmt, v, want, mask uint64, what string) bool {
	if mask == 0 {
		mask = ^uint64(0)
	}
	if v&mask != want {
		r.fail(st, "got %#x (%s %#x)", v&mask, what, v)
		return false
	}
	return true
}

// expectMem reads a doubleword of guest memory and checks the bits of the
// mask.
func (r *runner) expectMem(s *ExpectMemStmt) {
	v, err := model.ReadUint64(r.b.Memory(), s.Addr)
	if err != nil {
		r.observeErr(s, "read guest memory", err)
		return
	}
	if r.masked(s, v, s.Value, s.Mask, "doubleword") {
		r.pass(s, "%#x", v)
	}
}

// expectDTE checks a device table entry of the last save.
func (r *runner) expectDTE(s *ExpectDTEStmt) {
	t := r.savedTables(s)
	if t == nil {
		return
	}
	d, ok := t.Device(s.Dev)
	e := d.DTE
	switch {
	case s.Invalid && ok:
		r.fail(s, "got %v", e)
	case s.Invalid:
		r.pass(s, "no valid DTE")
	case !ok:
		r.fail(s, "got no valid DTE")
	case s.Bits != nil && int(e.Size)+1 != *s.Bits,
		s.ITT != nil && e.ITTAddr != *s.ITT,
		s.Next != nil && int(e.Next) != *s.Next:
		r.fail(s, "got %v", e)
	default:
		r.pass(s, "%v", e)
	}
}

// expectITE checks an interrupt translation entry of the last save.
func (r *runner) expectITE(s *ExpectITEStmt) {
	t := r.savedTables(s)
	if t == nil {
		return
	}
	if _, ok := t.Device(s.Dev); !ok && !s.Invalid {
		r.fail(s, "got no valid DTE for device %#x", uint32(s.Dev))
		return
	}
	se, ok := t.Event(s.Dev, s.Ev)
	e := se.ITE
	switch {
	case s.Invalid && ok:
		r.fail(s, "got %v", e)
	case s.Invalid:
		r.pass(s, "no valid ITE")
	case !ok:
		r.fail(s, "got no valid ITE")
	default:
		dw, err := model.ReadUint64(r.b.Memory(), se.Addr)
		if err != nil {
			r.observeErr(s, "read the ITT entry", err)
			return
		}
		r.checkVirtualITE(s, se.Addr, dw, e)
	}
}

// expectCTE checks a collection table entry of the last save.
func (r *runner) expectCTE(s *ExpectCTEStmt) {
	t := r.savedTables(s)
	if t == nil {
		return
	}
	sc, ok := t.Collection(s.ICID)
	e := sc.CTE
	switch {
	case s.State == CTEAbsent && ok:
		r.fail(s, "got %v", e)
	case s.State == CTEAbsent:
		r.pass(s, "not saved")
	case !ok:
		r.fail(s, "got no saved CTE")
	case s.State == CTEUnmapped && e.Mapped(), s.State == CTEMapped && (!e.Mapped() || e.RDbase != s.CPU):
		r.fail(s, "got %v", e)
	default:
		r.pass(s, "%v", e)
	}
}

// expectTranslate walks the translation of an event through the ITS
// tables as they are, as an MSI's would go, and checks where it lands.
func (r *runner) expectTranslate(s *ExpectTranslateStmt) {
	t := r.savedTables(s)
	if t == nil {
		return
	}
	lpi, cpu, why := walk(t, s.Dev, s.Ev)
	switch {
	case why != "" && s.Blocked:
		r.pass(s, "blocked: %s", why)
	case why != "":
		r.fail(s, "got blocked: %s", why)
	case s.Blocked:
		r.fail(s, "got LPI %d on CPU %d", lpi, cpu)
	case lpi != s.LPI || cpu != s.CPU:
		r.fail(s, "got LPI %d on CPU %d", lpi, cpu)
	default:
		r.pass(s, "LPI %d on CPU %d", lpi, cpu)
	}
}

// walk translates (dev, ev) through saved tables: the LPI and its CPU, or
// why nothing translates.
func walk(t *model.SavedTables, dev model.DeviceID, ev model.EventID) (model.INTID, model.CPU, string) {
	d, ok := t.Device(dev)
	if !ok {
		return 0, 0, fmt.Sprintf("device %#x has no valid DTE", uint32(dev))
	}
	if bits := int(d.DTE.Size) + 1; uint64(ev) >= uint64(1)<<bits {
		return 0, 0, fmt.Sprintf("EventID %d is beyond the device's %d EventID bits", ev, bits)
	}
	e, ok := t.Event(dev, ev)
	if !ok {
		return 0, 0, fmt.Sprintf("event %d of device %#x has no valid ITE", ev, uint32(dev))
	}
	c, ok := t.Collection(e.ITE.ICID)
	if !ok || !c.CTE.Mapped() {
		return 0, 0, fmt.Sprintf("collection %d is not mapped", e.ITE.ICID)
	}
	return e.ITE.INTID, model.CPU(c.CTE.RDbase), ""
}

// savedTables returns the ITS tables as they are: those of the last save,
// or, when an action ran since (or nothing saved them yet), those of a
// save made now. It fails st when they cannot be saved or read.
func (r *runner) savedTables(st Stmt) *model.SavedTables {
	if !r.saved || r.stale {
		// The live tables: save them now, as a save statement would.
		if err := r.b.SaveTables(); err != nil {
			r.observeErr(st, "save the tables (to read them)", err)
			return nil
		}
		r.tables, r.saved, r.stale = nil, true, false
	}
	if r.tables == nil {
		t, err := model.ReadSavedTables(r.b)
		if err != nil {
			r.observeErr(st, "read the saved tables", err)
			return nil
		}
		r.tables = t
	}
	return r.tables
}

func sortedIDs(ids []model.INTID) []model.INTID {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

func pendingString(ids []model.INTID) string {
	if len(ids) == 0 {
		return "nothing"
	}
	return intidList(ids)
}
