package replay

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gicits/gicits/model"
)

// command replays a command event: re-encoded from the trace's fields,
// with what the trace lacks inferred and the ITT remapped, submitted
// alone, and checked against what QEMU's table accesses say it did.
func (r *replayer) command(o *op) error {
	r.unprocessed = nil
	cmd, err := r.encode(o.rec)
	if cmd == nil || err != nil {
		return err
	}
	r.rep.Commands++
	err = model.SubmitCommands(r.b, cmd)
	r.logf(o.rec, "%v", cmd)
	if fatal(err) {
		return err
	}
	r.checkCommand(o, cmd, err)
	if e, ok := o.rec.Event.(CmdINT); ok && err == nil {
		return r.interrupt(o, e)
	}
	if err == nil {
		return r.checkRemap(o)
	}
	return nil
}

// checkRemap compares, after a MAPTI or MAPI of an event already mapped,
// the ITE QEMU wrote with the one the backend holds (read from a save of
// its tables): QEMU overwrites the entry, KVM keeps the old one, and the
// difference would otherwise show only if an MSI of that event follows.
func (r *replayer) checkRemap(o *op) error {
	var dev model.DeviceID
	var ev model.EventID
	switch e := o.rec.Event.(type) {
	case CmdMAPTI:
		dev, ev = e.DeviceID, e.EventID
	case CmdMAPI:
		dev, ev = e.DeviceID, e.EventID
	default:
		return nil
	}
	var wrote *Record
	for i, t := range o.tables {
		if _, ok := t.Event.(ITEWrite); ok {
			wrote = &o.tables[i]
		}
	}
	if r.guest.mapping(dev, ev) == nil || wrote == nil {
		return nil
	}
	ite := wrote.Event.(ITEWrite)
	cmd, _ := fromTrace(o.rec.Event)
	what := fmt.Sprintf("%v, of an event already mapped", cmd)
	want := fmt.Sprintf("LPI %d in collection %d, as QEMU wrote the ITE (line %d)", ite.INTID, ite.ICID, wrote.Line)
	if err := r.b.SaveTables(); err != nil {
		r.find(o.rec, what, want, "the backend's tables could not be saved to read the ITE: "+err.Error())
		return ifFatal(err)
	}
	t, err := model.ReadSavedTables(r.b)
	if err != nil {
		r.find(o.rec, what, want, "the backend's saved tables could not be read: "+err.Error())
		return nil
	}
	got, ok := t.Event(dev, ev)
	switch {
	case !ok:
		r.find(o.rec, what, want, "the backend's saved ITT has no valid ITE for the event")
	case got.ITE.INTID != ite.INTID || got.ITE.ICID != ite.ICID:
		r.find(o.rec, what, want, fmt.Sprintf("the backend keeps LPI %d in collection %d (the earlier mapping)", got.ITE.INTID, got.ITE.ICID))
	}
	return nil
}

// interrupt checks the LPI an INT made pending, as an MSI's.
func (r *replayer) interrupt(o *op, e CmdINT) error {
	what := fmt.Sprintf("INT dev=%#x ev=%d", uint32(e.DeviceID), e.EventID)
	want := r.expect(o, e.DeviceID, e.EventID)
	if want.delivered {
		return r.consume(o.rec, what, want)
	}
	if where := r.locate(); !r.ackMode && where != nothingPending {
		r.find(o.rec, what, want.String(), "delivered: "+where)
		return r.drainAll()
	}
	return nil
}

// encode returns the command to submit for a command event, or nil for
// one not replayed.
func (r *replayer) encode(rec Record) (model.Command, error) {
	switch e := rec.Event.(type) {
	case CmdMAPD:
		return r.mapd(rec, e)
	case CmdMAPTI:
		r.configure(e.INTID)
	case CmdMAPI:
		r.configure(model.INTID(e.EventID))
	case CmdSYNC:
		if p, ok := r.dumped.Packets[rec.Line]; ok {
			return p, nil
		}
		return model.SYNC{RDbase: r.syncTarget(rec)}, nil
	case CmdINVALL:
		if p, ok := r.dumped.Packets[rec.Line]; ok {
			return p, nil
		}
		return r.invall(rec), nil
	case CmdUnknown:
		r.note(Ignored, rec.Line, "unknown-command", "commands QEMU does not know (the first, opcode %#x): not replayed", e.Opcode)
		return nil, nil
	}
	cmd, _ := fromTrace(rec.Event)
	return cmd, nil
}

// ITTMapping is where a guest ITT went on the backend.
type ITTMapping struct {
	Guest, Backend model.GPA
	DeviceID       model.DeviceID
	// EventIDBits is the size the backend ITT was allocated for.
	EventIDBits int
	// Line is the MAPD that first named the guest ITT.
	Line int
}

// mapd remaps a MAPD's ITT: the guest's address is in RAM the backend
// does not have, so the first MAPD naming a guest ITT (or naming it for
// more EventIDs than before) allocates one in the backend's ITT area,
// sized for the backend's entries, and later MAPDs naming it reuse it.
func (r *replayer) mapd(rec Record, e CmdMAPD) (model.Command, error) {
	cmd := model.MAPD{DeviceID: e.DeviceID, Size: uint8(e.Size), Valid: e.Valid}
	if e.Size > 31 {
		r.find(rec, fmt.Sprintf("MAPD dev=%#x", uint32(e.DeviceID)), "a Size the command can encode", fmt.Sprintf("Size %#x does not fit DW1[4:0]", e.Size))
		return nil, nil
	}
	guest, bits := e.ITT(), int(e.Size)+1
	m := r.itts[guest]
	if e.Valid && (m == nil || m.EventIDBits < bits) {
		addr, err := r.alloc.Alloc(model.ITTSize(bits, r.caps.ITTEntrySize), 256)
		if err != nil {
			return nil, fmt.Errorf("replay: line %d: no room for the ITT of device %#x (%d EventID bits) after %d ITTs: %w", rec.Line, uint32(e.DeviceID), bits, len(r.rep.ITTs), err)
		}
		m = &ITTMapping{Guest: guest, Backend: addr, DeviceID: e.DeviceID, EventIDBits: bits, Line: rec.Line}
		r.itts[guest] = m
		r.rep.ITTs = append(r.rep.ITTs, *m)
	}
	if m != nil {
		cmd.ITTAddr = m.Backend
	}
	return cmd, nil
}

// configure writes an LPI's configuration byte before the command that
// first maps it: the dumped property table's priority when a
// dump holds it, else [InferredLPIConfig]; enabled either way, because a
// dump shows the end of the run, when LPIs in use earlier may have been
// disabled.
func (r *replayer) configure(intid model.INTID) {
	if r.configured[intid] {
		return
	}
	r.configured[intid] = true
	cfg, dumped := r.dumped.LPIConfig(intid)
	if !dumped {
		cfg = InferredLPIConfig
	}
	if err := model.SetLPIConfig(r.b, intid, model.MakeLPIConfig(cfg.Priority(), true)); err != nil {
		return
	}
	switch {
	case !dumped:
		r.note(Inferred, 0, "lpi-config", "LPI configuration: the trace does not record the property table; every LPI mapped is configured %#02x (priority %#02x, RES1 bit set, enabled: what Linux writes for an LPI in use) before the command that first maps it", uint8(InferredLPIConfig), InferredLPIConfig.Priority())
	case !cfg.Enabled():
		r.note(FromDump, 0, "lpi-config-disabled", "LPI configuration: LPIs the property-table dump shows disabled (the first, LPI %d, %#02x) are replayed enabled, with the dump's priority: the dump shows the end of the run, and QEMU delivered what the trace shows", intid, uint8(cfg))
	}
}

// syncTarget infers SYNC's RDbase, which QEMU does not trace: the CPU of
// the collection the previous command named, as Linux's
// its_send_single_command targets it, else CPU 0.
func (r *replayer) syncTarget(rec Record) uint64 {
	r.note(Inferred, rec.Line, "sync", "SYNC's RDbase, which QEMU does not trace: the CPU of the collection the previous command named (as Linux's ITS driver targets it), else CPU 0 (give the command queue's dump with -mem for the exact one)")
	if icid, ok := r.guest.LastCollection(); ok {
		if c := r.guest.Collections[icid]; c != nil && int(c.CPU) < r.caps.CPUs {
			return uint64(c.CPU)
		}
	}
	return 0
}

// invall infers INVALL's ICID, which QEMU does not trace: the collection
// the previous command named (Linux sends INVALL right after the MAPC of
// a CPU's collection), else the lowest mapped one; with none mapped the
// INVALL invalidates nothing and is not replayed.
func (r *replayer) invall(rec Record) model.Command {
	icid, ok := r.guest.LastCollection()
	if !ok || r.guest.Collections[icid] == nil {
		mapped := r.guest.MappedCollections()
		if len(mapped) == 0 {
			r.note(Ignored, rec.Line, "invall-none", "INVALLs while no collection is mapped: they invalidate nothing and are not replayed")
			return nil
		}
		icid = mapped[0]
	}
	r.note(Inferred, rec.Line, "invall", "INVALL's ICID, which QEMU does not trace: the collection the previous command named (Linux sends INVALL right after a CPU's MAPC), else the lowest mapped one (give the command queue's dump with -mem for the exact one)")
	return model.INVALL{ICID: icid}
}

// checkCommand compares the backend's answer to a command with QEMU's,
// as far as each is known: a command error from the backend, a table
// write (or the lookup of a mapped event) in the trace.
func (r *replayer) checkCommand(o *op, cmd model.Command, err error) {
	cmdErrs, other := model.SplitCommandErrors(err)
	what := cmd.String()
	if other != nil {
		r.find(o.rec, what, "the command run", other.Error())
		return
	}
	accepted, evidence, known := r.qemuAccepted(o)
	switch {
	case len(cmdErrs) > 0 && known && !accepted:
		r.note(Rejected, o.rec.Line, "rejected", "commands QEMU and the backend both rejected (the first: %v: %s; the backend: %v)", cmd, evidence, cmdErrs[0].Code)
	case len(cmdErrs) > 0 && known:
		r.find(o.rec, what, "accepted: "+evidence, "rejected: "+rejection(cmdErrs[0]))
	case len(cmdErrs) > 0:
		r.find(o.rec, what, "accepted (the trace has no table accesses to say what QEMU did)", "rejected: "+rejection(cmdErrs[0]))
	case known && !accepted && r.caps.ReportsCommandErrors:
		r.find(o.rec, what, "rejected: "+evidence, "accepted")
	}
}

func rejection(ce *model.CommandError) string {
	var b strings.Builder
	b.WriteString(ce.Code.String())
	if ce.Detail != "" {
		b.WriteString(": " + ce.Detail)
	}
	if ce.Cause != nil {
		b.WriteString(": " + ce.Cause.Error())
	}
	return b.String()
}

// qemuAccepted says whether QEMU carried a command out, from the table
// accesses that followed it, and what shows it; known is false when the
// trace cannot say: a command that accesses no table (SYNC, INVALL,
// MOVALL), or a trace with no table access of the kind that would show it
// (captured with a narrower -trace pattern, say).
func (r *replayer) qemuAccepted(o *op) (accepted bool, evidence string, known bool) {
	wrote := func(table string, kind Event) (bool, string, bool) {
		if !r.tableWrites[kind.Name()] {
			return false, "", false
		}
		for _, t := range o.tables {
			if t.Event.Name() == kind.Name() {
				return true, fmt.Sprintf("QEMU wrote the %s at line %d", table, t.Line), true
			}
		}
		return false, fmt.Sprintf("QEMU wrote no %s after it: it ignored the command", table), true
	}
	switch o.rec.Event.(type) {
	case CmdMAPD:
		return wrote("DTE", DTEWrite{})
	case CmdMAPC:
		return wrote("CTE", CTEWrite{})
	case CmdMAPTI, CmdMAPI, CmdMOVI, CmdDISCARD:
		return wrote("ITE", ITEWrite{})
	case CmdINT, CmdCLEAR, CmdINV:
		if !r.tableEvents {
			return false, "", false
		}
		out := qemuLookup(o.tables)
		if out.delivered {
			return true, "QEMU found its mapping (" + out.why + ")", true
		}
		return false, "QEMU ignored it: " + out.why, true
	}
	return false, "", false
}

// translation replays an MSI and checks where it lands.
func (r *replayer) translation(o *op, e TranslationWrite) error {
	if e.Offset != translaterOffset {
		r.note(Ignored, o.rec.Line, "translater-offset", "writes to the translation frame elsewhere than GITS_TRANSLATER (the first at offset %#x): QEMU ignores them, and so does the replay", e.Offset)
		return nil
	}
	r.rep.Translations++
	msi := model.MSI{Doorbell: r.b.Layout().Doorbell(), Data: uint32(e.Data), DeviceID: e.RequesterID, DeviceIDValid: true}
	d, err := r.b.SignalMSI(msi)
	r.logf(o.rec, "%v: %v %v", msi, d, err)
	if fatal(err) {
		return err
	}
	want := r.expect(o, e.RequesterID, model.EventID(e.Data))
	return r.deliver(o.rec, fmt.Sprintf("MSI dev=%#x ev=%d", uint32(e.RequesterID), uint32(e.Data)), want, d, err)
}

// outcome is where an MSI or INT should land, and why.
type outcome struct {
	delivered bool
	lpi       model.INTID
	cpu       model.CPU
	// why says what the expectation comes from; for an outcome not
	// delivered, why not.
	why string
}

func (w outcome) String() string {
	if w.delivered {
		return fmt.Sprintf("LPI %d on CPU %d (%s)", w.lpi, w.cpu, w.why)
	}
	return "not delivered: " + w.why
}

// qemuLookup reads what QEMU's table reads after an MSI or a command say:
// the DTE, the ITE, then the CTE, as QEMU's lookup_ite and lookup_cte
// read them. A read missing means QEMU stopped before it.
func qemuLookup(tables []Record) outcome {
	var dte *DTERead
	var ite *ITERead
	var lines []int
	for _, t := range tables {
		switch e := t.Event.(type) {
		case DTEReadFault:
			return outcome{why: fmt.Sprintf("the device table read faulted (line %d)", t.Line)}
		case ITEReadFault:
			return outcome{why: fmt.Sprintf("the ITT read faulted (line %d)", t.Line)}
		case CTEReadFault:
			return outcome{why: fmt.Sprintf("the collection table read faulted (line %d)", t.Line)}
		case DTERead:
			if dte != nil {
				continue
			}
			if dte, lines = &e, append(lines, t.Line); !e.Valid {
				return outcome{why: fmt.Sprintf("device %#x is not mapped (QEMU read an invalid DTE at line %d)", uint32(e.DeviceID), t.Line)}
			}
		case ITERead:
			if ite != nil || dte == nil {
				continue
			}
			if ite, lines = &e, append(lines, t.Line); !e.Valid || e.IntType != IntTypePhysical {
				return outcome{why: fmt.Sprintf("event %d is not mapped to a physical LPI (QEMU read the ITE at line %d)", e.EventID, t.Line)}
			}
		case CTERead:
			if ite == nil {
				continue
			}
			if !e.Valid {
				return outcome{why: fmt.Sprintf("collection %d is not mapped (QEMU read an invalid CTE at line %d)", e.ICID, t.Line)}
			}
			return outcome{delivered: true, lpi: ite.INTID, cpu: model.CPU(e.RDbase), why: fmt.Sprintf("QEMU's table reads at lines %d-%d", lines[0], t.Line)}
		}
	}
	switch {
	case dte == nil:
		return outcome{why: "QEMU read no device table entry (the ITS disabled, or the DeviceID beyond its device table)"}
	case ite == nil:
		return outcome{why: "QEMU read no ITE (the EventID beyond the device's ITT)"}
	}
	return outcome{why: "QEMU read no collection table entry (the ICID beyond its collection table)"}
}

// expect says where an MSI or INT should land: where QEMU's table reads
// say (or, without them in the trace, the guest's mappings), unless the
// target CPU has LPIs disabled, when QEMU drops it.
func (r *replayer) expect(o *op, dev model.DeviceID, ev model.EventID) outcome {
	var w outcome
	switch {
	case r.tableEvents:
		w = qemuLookup(o.tables)
	case !r.guest.ITS.Enabled() && r.guest.ITS.Lines[model.GITS_CTLR] != 0:
		w = outcome{why: "the guest disabled the ITS"}
	default:
		lpi, cpu, err := r.guest.Translate(dev, ev)
		w = outcome{delivered: err == nil, lpi: lpi, cpu: cpu, why: "the guest's mappings (the trace has no table reads)"}
		if err != nil {
			w.why = err.Error()
		}
	}
	if w.delivered && int(w.cpu) < len(r.guest.Redistributors) && !r.guest.Redistributors[w.cpu].LPIsEnabled() {
		return outcome{why: fmt.Sprintf("LPI %d's CPU %d has LPIs disabled (GICR_CTLR.EnableLPIs = 0): QEMU drops it", w.lpi, w.cpu)}
	}
	return w
}

// deliver checks that what the backend did with an MSI (d, err) is what
// the trace expects (want), and consumes the LPI.
func (r *replayer) deliver(rec Record, what string, want outcome, d model.Delivery, err error) error {
	got := "blocked (no translation)"
	switch {
	case errors.Is(err, model.ErrBusy):
		got = "refused: " + err.Error()
	case err != nil:
		r.find(rec, what, want.String(), err.Error())
		return nil
	case d == model.Delivered && !want.delivered:
		r.find(rec, what, want.String(), "delivered: "+r.locate())
		return r.drainAll()
	case d == model.Delivered:
		return r.consume(rec, what, want)
	}
	if want.delivered {
		r.find(rec, what, want.String(), got)
	}
	return nil
}

// consume checks a delivered LPI is where it should be. With the trace's
// acknowledges to follow, it must be pending on its CPU; without, it is
// acknowledged there at once and must be the one acknowledged.
func (r *replayer) consume(rec Record, what string, want outcome) error {
	if r.ackMode {
		pending, err := r.b.Pending(want.cpu)
		if err != nil || !slices.Contains(pending, want.lpi) {
			r.find(rec, what, want.String(), r.locate())
		}
		return ifFatal(err)
	}
	got, err := r.b.Acknowledge(want.cpu)
	if err != nil {
		r.find(rec, what, want.String(), "acknowledge failed: "+err.Error())
		return ifFatal(err)
	}
	if got == want.lpi {
		return ifFatal(r.b.EOI(want.cpu, got))
	}
	acked := fmt.Sprintf("CPU %d had no LPI to acknowledge", want.cpu)
	if got.IsLPI() {
		acked = fmt.Sprintf("CPU %d acknowledged LPI %d", want.cpu, got)
		if err := r.b.EOI(want.cpu, got); fatal(err) {
			return err
		}
	}
	r.find(rec, what, want.String(), acked+"; pending: "+r.locate())
	return r.drainAll()
}

const nothingPending = "nothing pending on any CPU"

// locate says which LPIs are pending on which CPU.
func (r *replayer) locate() string {
	var where []string
	for cpu := range r.caps.CPUs {
		pending, err := r.b.Pending(model.CPU(cpu))
		if err != nil {
			where = append(where, fmt.Sprintf("CPU %d: %v", cpu, err))
		}
		for _, lpi := range pending {
			where = append(where, fmt.Sprintf("LPI %d on CPU %d", lpi, cpu))
		}
	}
	if len(where) == 0 {
		return nothingPending
	}
	return strings.Join(where, ", ")
}

// drainAll acknowledges and ends every LPI pending anywhere, after a
// divergence, so that the next check starts clean.
func (r *replayer) drainAll() error {
	if r.ackMode {
		return nil
	}
	for cpu := range r.caps.CPUs {
		for range 1 << 16 {
			got, err := r.b.Acknowledge(model.CPU(cpu))
			if err != nil || !got.IsLPI() {
				if fatal(err) {
					return err
				}
				break
			}
			if err := r.b.EOI(model.CPU(cpu), got); fatal(err) {
				return err
			}
		}
	}
	return nil
}
