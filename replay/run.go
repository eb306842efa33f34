package replay

import (
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/gicits/gicits/model"
)

// Options tune a replay.
type Options struct {
	// Log, when not nil, receives a line for every event replayed: its
	// trace line, the event and what the backend did.
	Log io.Writer
	// Memory holds dumps of the guest's memory (QEMU's pmemsave), taken
	// at the end of the run: with the command queue's, the commands
	// still in it are replayed from their exact packets (SYNC's target,
	// INVALL's collection); with the LPI property table's, each LPI's
	// priority comes from it. See [FindDumped].
	Memory *Memory
}

// InferredLPIConfig is the configuration byte a replay writes for every
// LPI before the command that first maps it: the trace does not record the
// property table. It is what Linux's ITS driver writes for an LPI in use:
// priority 0xa0 (LPI_PROP_DEFAULT_PRIO), Group 1 (the RES1 bit), enabled;
// model.MakeLPIConfig(0xa0, true).
const InferredLPIConfig model.LPIConfig = 0xa3

// BackendConfig returns the configuration to open a backend for
// replaying tr: as many CPUs as [CPUs] finds; everything else the
// backend's defaults.
func BackendConfig(tr *Trace) model.Config {
	n, _ := CPUs(tr)
	return model.Config{CPUs: n}
}

// Run replays tr on b and checks that b does what QEMU did.
//
// It rebuilds the guest's set-up on b: b's own tables stay where b's
// layout puts them (the guest's addresses are in a RAM b does not have),
// each MAPD's ITT is placed anew in b's ITT area, and every LPI is given
// [InferredLPIConfig]. It then replays, in trace order, every command
// (re-encoded from the trace's fields and submitted with
// [model.SubmitCommands]), every MSI (with [model.Backend.SignalMSI]),
// GITS_CTLR.Enabled, GICR_CTLR.EnableLPIs and GICR_INVLPIR/INVALLR
// writes, and every acknowledge the trace shows. It checks:
//
//   - that each MSI and INT lands on the LPI and the CPU QEMU's table
//     reads name (or, without table reads in the trace, the guest's
//     mappings), or nowhere when QEMU dropped it;
//   - that a command b rejects was rejected by QEMU too (QEMU wrote no
//     table entry for it), and the reverse when b reports command errors;
//   - when the trace has the CPU interface's acknowledges
//     (gicv3_icc_iar1_read), that b acknowledges the same LPIs in the same
//     order on each CPU. Without them, every LPI is acknowledged as soon
//     as it is delivered, and must be the one expected.
//
// b must have at least the CPUs [CPUs] finds ([BackendConfig]); it is
// best opened fresh, as [model.Open] leaves it. What was inferred,
// remapped or ignored is in [Report.Notes], every disagreement in
// [Report.Findings]. The error is for what stops the replay: too few
// CPUs, a closed backend, an ITT area too small for the guest's ITTs.
func Run(tr *Trace, b model.Backend, opts Options) (*Report, error) {
	r, err := newReplayer(tr, b, opts)
	if err != nil {
		return nil, err
	}
	for _, rec := range tr.Records {
		if err := r.step(rec); err != nil {
			return r.rep, err
		}
	}
	if err := r.flush(); err != nil {
		return r.rep, err
	}
	r.summarise()
	return r.rep, nil
}

// replayer is one replay in progress.
type replayer struct {
	tr    *Trace
	b     model.Backend
	caps  model.Capabilities
	opts  Options
	guest *Guest
	rep   *Report
	notes map[string]*Note
	// dumped is what opts.Memory says about the trace.
	dumped *Dumped

	// itts maps each guest ITT address to the backend ITT it stands for.
	itts  map[model.GPA]*ITTMapping
	alloc *model.Allocator
	// configured are the LPIs whose configuration byte was written.
	configured map[model.INTID]bool
	// ackMode: the trace has acknowledges, so delivered LPIs stay pending
	// until the trace acknowledges them.
	ackMode bool
	// tableEvents: the trace has QEMU's table reads, so they say where
	// each MSI went; tableWrites the kinds of table write it has, so
	// their absence after a command says QEMU ignored it.
	tableEvents bool
	tableWrites map[string]bool
	// op is the event being replayed, collecting the table events that
	// follow it; unprocessed is a gicv3_its_process_command whose
	// command has not shown yet.
	op          *op
	unprocessed *Record
}

// An op is an event with the table accesses QEMU traced after it.
type op struct {
	rec    Record
	tables []Record
}

func newReplayer(tr *Trace, b model.Backend, opts Options) (*replayer, error) {
	if tr == nil || b == nil {
		return nil, errors.New("replay: Run needs a trace and a backend")
	}
	n, from := CPUs(tr)
	caps := b.Capabilities()
	if caps.CPUs < n {
		return nil, fmt.Errorf("replay: the trace's guest has %d CPUs (%s); the %s backend has %d: open it with BackendConfig: %w", n, from, b.Name(), caps.CPUs, model.ErrInvalidArgument)
	}
	r := &replayer{
		tr: tr, b: b, caps: caps, opts: opts,
		guest:       NewGuest(tr),
		notes:       map[string]*Note{},
		itts:        map[model.GPA]*ITTMapping{},
		alloc:       b.Layout().ITTAllocator(),
		configured:  map[model.INTID]bool{},
		tableWrites: map[string]bool{},
		dumped:      FindDumped(tr, opts.Memory),
	}
	r.rep = &Report{Backend: b.Name(), CPUs: n, Lines: tr.Lines, Events: len(tr.Records), Guest: r.guest}
	for _, rec := range tr.Records {
		switch e := rec.Event.(type) {
		case ICCIAR1Read:
			r.ackMode = r.ackMode || isLPI(e.Value)
		case DTERead, ITERead, CTERead:
			r.tableEvents = true
		case DTEWrite, ITEWrite, CTEWrite:
			r.tableWrites[e.Name()] = true
		}
	}
	r.note(Inferred, 0, "cpus", "CPUs: %d, as %s", n, from)
	for i, text := range r.dumped.describe() {
		r.note(FromDump, 0, fmt.Sprintf("dump-%d", i), "%s", text)
	}
	if !r.tableEvents {
		r.note(Inferred, 0, "no-table-reads", "where MSIs land: the trace has no table reads (gicv3_its_dte_read, _ite_read, _cte_read), so each MSI's expected LPI and CPU come from the guest's commands, not from what QEMU did: a weaker check (capture with -trace 'gicv3_its*' to have them)")
	}
	return r, nil
}

func isLPI(v uint64) bool { return v >= uint64(model.LPIBase) && v < 1<<32 }

// step replays one record: a table access joins the event before it; any
// other event first completes that one.
func (r *replayer) step(rec Record) error {
	switch rec.Event.(type) {
	case DTERead, DTEWrite, DTEReadFault, ITERead, ITEWrite, ITEReadFault, CTERead, CTEWrite, CTEReadFault:
		if r.op != nil {
			r.op.tables = append(r.op.tables, rec)
		}
		return nil
	}
	if err := r.flush(); err != nil {
		return err
	}
	r.op = &op{rec: rec}
	return nil
}

// flush replays the event in progress, then applies it to the guest.
func (r *replayer) flush() error {
	o := r.op
	if o == nil {
		return nil
	}
	r.op = nil
	var err error
	switch e := o.rec.Event.(type) {
	case TranslationWrite:
		err = r.translation(o, e)
	case ITSWrite:
		err = r.itsWrite(o.rec, e)
	case RedistWrite:
		err = r.redistWrite(o.rec, e)
	case ICCIAR1Read:
		err = r.acknowledge(o.rec, e)
	case ProcessCommand:
		r.processCommand(o.rec)
	default:
		err = r.command(o)
	}
	r.guest.Apply(o.rec)
	return err
}

// processCommand notes a command QEMU read that has no event of its own
// (a GICv4 command on a GICv3 ITS, say): it is not replayed.
func (r *replayer) processCommand(rec Record) {
	if u := r.unprocessed; u != nil {
		pc := u.Event.(ProcessCommand)
		r.note(Ignored, u.Line, "untraced-command", "commands QEMU processed without an event of their own (the first, %v, opcode %#02x, at queue index %d): not replayed", pc.Opcode, uint8(pc.Opcode), pc.Offset)
	}
	r.unprocessed = &rec
}

// fatal reports whether a backend error stops the replay.
func fatal(err error) bool { return errors.Is(err, model.ErrClosed) }

func (r *replayer) logf(rec Record, format string, args ...any) {
	if r.opts.Log != nil {
		fmt.Fprintf(r.opts.Log, "line %d: %s: %s\n", rec.Line, rec.Event.Name(), fmt.Sprintf(format, args...))
	}
}

// find reports a divergence.
func (r *replayer) find(rec Record, what, want, got string) {
	r.rep.Findings = append(r.rep.Findings, Finding{Line: rec.Line, Event: rec.Event.Name(), What: what, Want: want, Got: got})
	r.logf(rec, "DIVERGES: %s: want %s, got %s", what, want, got)
}

// note records what was inferred, remapped or ignored, once per key,
// counting repeats.
func (r *replayer) note(kind NoteKind, line int, key, format string, args ...any) {
	if n := r.notes[key]; n != nil {
		n.Count++
		return
	}
	n := &Note{Kind: kind, Line: line, Count: 1, Text: fmt.Sprintf(format, args...)}
	r.notes[key] = n
	r.rep.Notes = append(r.rep.Notes, n)
}

// cpuOf returns the backend CPU of a redistributor or CPU-interface
// event's affinity, or notes that it has none.
func (r *replayer) cpuOf(rec Record, aff uint32) (model.CPU, bool) {
	cpu, ok := r.guest.CPUOf(aff)
	if !ok || int(cpu) >= r.caps.CPUs {
		r.note(Ignored, rec.Line, "affinity", "events of redistributors with no CPU on the backend (the first, affinity %#x): not replayed", aff)
		return 0, false
	}
	return cpu, true
}

// itsWrite mirrors GITS_CTLR.Enabled. The table-base registers are not
// replayed (summarise says so); GITS_CWRITER needs nothing: the commands
// it made QEMU process came before it and are replayed one by one.
func (r *replayer) itsWrite(rec Record, e ITSWrite) error {
	if e.Offset != uint64(model.GITS_CTLR) {
		return nil
	}
	r.rep.RegisterWrites++
	cur, err := r.b.ReadITSRegister(model.GITS_CTLR)
	if err == nil {
		want := e.Data & model.GITS_CTLR_Enabled
		if cur&model.GITS_CTLR_Enabled == want {
			r.logf(rec, "GITS_CTLR.Enabled is already %d", want)
			return nil
		}
		err = r.b.WriteITSRegister(model.GITS_CTLR, cur&^(model.GITS_CTLR_Enabled|model.GITS_CTLR_Quiescent)|want)
		r.logf(rec, "GITS_CTLR.Enabled = %d", want)
	}
	if err != nil {
		r.find(rec, "GITS_CTLR write", fmt.Sprintf("Enabled = %d", e.Data&1), err.Error())
	}
	return ifFatal(err)
}

func ifFatal(err error) error {
	if fatal(err) {
		return err
	}
	return nil
}

// redistWrite mirrors GICR_CTLR.EnableLPIs, GICR_INVLPIR and
// GICR_INVALLR on the CPU the event names.
func (r *replayer) redistWrite(rec Record, e RedistWrite) error {
	cpu, ok := r.cpuOf(rec, e.Affinity)
	if !ok {
		return nil
	}
	var err error
	switch reg := model.GICRRegister(e.Offset); {
	case reg == model.GICR_CTLR:
		err = r.enableLPIs(rec, cpu, e.Data&model.GICR_CTLR_EnableLPIs != 0)
	case (reg == model.GICR_INVLPIR || reg == model.GICR_INVALLR) && (e.Size == 8 || e.Size == 4):
		r.rep.RegisterWrites++
		err = r.b.WriteRedistributorRegister(cpu, reg, e.Data)
		r.logf(rec, "%v of CPU %d = %#x", reg, cpu, e.Data)
		if err != nil {
			r.find(rec, fmt.Sprintf("%v write on CPU %d", reg, cpu), "accepted", err.Error())
		}
	}
	return ifFatal(err)
}

// enableLPIs sets or clears GICR_CTLR.EnableLPIs of cpu when the guest
// changes it.
func (r *replayer) enableLPIs(rec Record, cpu model.CPU, on bool) error {
	if int(cpu) >= len(r.guest.Redistributors) || r.guest.Redistributors[cpu].LPIsEnabled() == on {
		return nil
	}
	r.rep.RegisterWrites++
	var err error
	if on {
		err = model.EnableLPIs(r.b, cpu)
	} else {
		var ctlr uint64
		if ctlr, err = r.b.ReadRedistributorRegister(cpu, model.GICR_CTLR); err == nil {
			err = r.b.WriteRedistributorRegister(cpu, model.GICR_CTLR, ctlr&^model.GICR_CTLR_EnableLPIs)
		}
	}
	r.logf(rec, "GICR_CTLR.EnableLPIs of CPU %d = %v", cpu, on)
	if err != nil {
		r.find(rec, fmt.Sprintf("GICR_CTLR write on CPU %d", cpu), fmt.Sprintf("EnableLPIs = %v", on), err.Error())
	}
	return ifFatal(err)
}

// acknowledge replays an acknowledge of an LPI the trace shows and checks
// the backend acknowledges the same one; it then ends it at once (EOI):
// a guest ends an LPI before it can acknowledge another of the same
// priority. Acknowledges of other interrupts (SGIs, PPIs, SPIs, spurious)
// are not the ITS's and are skipped.
func (r *replayer) acknowledge(rec Record, e ICCIAR1Read) error {
	if !isLPI(e.Value) {
		return nil
	}
	cpu, ok := r.cpuOf(rec, e.Affinity)
	if !ok {
		return nil
	}
	r.rep.Acknowledges++
	want := model.INTID(e.Value)
	got, err := r.b.Acknowledge(cpu)
	if err != nil {
		r.find(rec, fmt.Sprintf("acknowledge on CPU %d", cpu), fmt.Sprintf("LPI %d", want), err.Error())
		return ifFatal(err)
	}
	r.logf(rec, "CPU %d acknowledged %d", cpu, got)
	if got != want {
		r.find(rec, fmt.Sprintf("acknowledge on CPU %d", cpu), fmt.Sprintf("LPI %d", want), r.acked(got))
	}
	if got.IsLPI() {
		return ifFatal(r.b.EOI(cpu, got))
	}
	return nil
}

func (r *replayer) acked(got model.INTID) string {
	if got == model.SpuriousINTID {
		return "no LPI pending (1023)"
	}
	return fmt.Sprintf("LPI %d", got)
}

// summarise notes what was remapped and ignored, once the replay is over.
func (r *replayer) summarise() {
	if u := r.unprocessed; u != nil {
		r.processCommand(*u)
	}
	r.noteTables()
	r.noteITTs()
	r.noteUnknown()
}

// noteTables says which of the guest's tables the backend's stand for.
func (r *replayer) noteTables() {
	g, l := r.guest, r.b.Layout()
	if cb := model.CBASER(g.ITS.CBASER); cb.Valid() {
		r.note(Remapped, g.ITS.Lines[model.GITS_CBASER], "cbaser", "GITS_CBASER: the guest's command queue at %v (%d KiB) is not the backend's (%v): every command is re-encoded (from the trace's fields, or the queue dump's packet) and written to the backend's queue by model.SubmitCommands, one at a time", cb.Addr(), cb.SizeBytes()>>10, l.CommandQueue)
	}
	for n, v := range g.ITS.BASER {
		if bs := model.Baser(v); bs.Valid() {
			r.note(Remapped, g.ITS.Lines[model.GITS_BASER(n)], fmt.Sprint("baser", n), "GITS_BASER%d: the guest's %v table at %v (%d × %d KiB pages%s, %d-byte entries) is not replayed: the backend keeps its own, as its layout places it", n, bs.Type(), bs.Addr(), bs.Pages(), bs.PageSize()>>10, indirect(bs), bs.EntrySize())
		}
	}
	for cpu, rd := range g.Redistributors {
		if rd.PROPBASER == 0 {
			continue
		}
		prop := model.PropBaser(rd.PROPBASER)
		r.note(Remapped, rd.Lines[model.GICR_PROPBASER], "propbaser", "GICR_PROPBASER: the guest's LPI configuration table at %v (INTIDs below 2^%d) is not replayed: the backend keeps its own at %v (below 2^%d)", prop.Addr(), prop.IDBits(), l.PropTable, l.LPIIDBits)
		r.note(Remapped, rd.Lines[model.GICR_PENDBASER], "pendbaser", "GICR_PENDBASER: the guest's pending tables (CPU %d's at %v) are not replayed: the backend keeps its own", cpu, model.PendBaser(rd.PENDBASER).Addr())
	}
}

func indirect(b model.Baser) string {
	if b.Indirect() {
		return ", two-level"
	}
	return ""
}

// noteITTs says where the guest's ITTs went, and why entry sizes do not
// matter.
func (r *replayer) noteITTs() {
	if len(r.rep.ITTs) == 0 {
		return
	}
	first := r.rep.ITTs[0]
	typer := "QEMU's ITS has 12-byte ITT entries (GITS_TYPER.ITT_entry_size 11)"
	if t := model.ITSTyper(r.guest.ITS.TYPER); t != 0 {
		typer = fmt.Sprintf("the guest read GITS_TYPER %#x: %d-byte ITT entries", uint64(t), t.ITTEntrySize())
	}
	r.note(Remapped, first.Line, "itts", "ITTs: %s (the first at %v, for device %#x) placed anew in the backend's ITT area from %v: %s, the backend's are %d bytes, and each ITT is sized for the backend's entries, so the difference does not matter", plural(len(r.rep.ITTs), "guest ITT"), first.Guest, uint32(first.DeviceID), first.Backend, typer, r.caps.ITTEntrySize)
}

// noteUnknown counts the lines kept aside, by event name.
func (r *replayer) noteUnknown() {
	counts := map[string]int{}
	first := map[string]int{}
	for _, l := range r.tr.Unknown {
		if counts[l.Name] == 0 {
			first[l.Name] = l.Number
		}
		counts[l.Name]++
	}
	names := make([]string, 0, len(counts))
	for name := range counts {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		n := &Note{Kind: Ignored, Line: first[name], Count: counts[name], Text: fmt.Sprintf("%s: an event this replay does not use", name)}
		r.rep.Notes = append(r.rep.Notes, n)
	}
	if len(r.tr.Foreign) > 0 {
		r.rep.Notes = append(r.rep.Notes, &Note{Kind: Ignored, Line: r.tr.Foreign[0].Number, Count: len(r.tr.Foreign), Text: "lines that are not trace events (QEMU's messages, a line cut short)"})
	}
}
