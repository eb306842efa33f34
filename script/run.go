package script

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/gicits/gicits/model"
)

// Options says how to run a script.
type Options struct {
	// Backend is the registered backend name (model.Open).
	Backend string
	// Verbose, when set, receives one line per statement with its effect.
	Verbose io.Writer
	// Configure, when set, adjusts the configuration the script's
	// settings produced, before the backend opens (the differential test
	// turns the translation cache off this way).
	Configure func(*model.Config)
	// Observe, when set, is called with the backend after the last
	// statement ran, before it closes.
	Observe func(model.Backend) error
	// Start, when set, is called with the backend right after the runner
	// opens it (wrapped), before the first action: itsbench's -restore
	// loads a saved state this way. It returns how many bytes at the
	// start of the layout's ITT area are in use already, which the
	// runner's allocator of ITTs and level-2 pages then skips. An error
	// fails the script before its first action.
	Start func(model.Backend) (ittsInUse uint64, err error)
	// AfterStmt, when set, is called with every statement after it ran
	// and with the backend it ran on (the differential test looks at the
	// state a failing command left this way). An error it returns fails
	// the script there.
	AfterStmt func(Stmt, model.Backend) error
	// Wrap, when set, wraps every backend the runner opens (the first one,
	// and the destination of a restore) before it is used: itsbench's
	// -trace wraps them in inspect.Trace this way.
	Wrap func(model.Backend) model.Backend
	// KeepGoing, when set, reports an unexpected action or command error
	// as a failure and goes on with the next statement, instead of ending
	// the script there, so every failure of a script shows in one run.
	KeepGoing bool
}

// Failure is an expectation that did not hold, or an action that failed
// unexpectedly (which ends the script).
type Failure struct {
	Pos  Pos
	Stmt string
	Msg  string
}

func (f Failure) String() string { return fmt.Sprintf("%s: %s: %s", f.Pos.LineString(), f.Stmt, f.Msg) }

// Skip is an expectation the backend cannot honour.
type Skip struct {
	Pos    Pos
	Stmt   string
	Reason string
}

func (s Skip) String() string {
	return fmt.Sprintf("%s: %s: skip: %s", s.Pos.LineString(), s.Stmt, s.Reason)
}

// Result is what came of running one script. Passed, Failed and Skipped
// count expectations, plus one failure for an action that failed
// unexpectedly; a script skipped whole counts all its expectations as
// skipped.
type Result struct {
	File    string
	Backend string
	Passed  int
	Failed  int
	Skipped int
	// Failures lists every failure in order.
	Failures []Failure
	// Skips lists every skipped expectation; for a script skipped whole,
	// one entry at the statement that caused it.
	Skips []Skip
	// SkipReason is set when the whole script was skipped (the backend
	// refused a setting).
	SkipReason string
	// NotRun counts the expectations after an unexpected failure ended the
	// script.
	NotRun int
	// Outcomes lists, in order, what every msi, trigger and ack statement
	// observed: where interrupts were delivered. The differential test
	// compares it between backends.
	Outcomes []Outcome
}

// Outcome is one observation of a run: a statement and what came of it.
type Outcome struct {
	Line int
	Stmt string
	Seen string
}

// OK reports whether nothing failed.
func (r *Result) OK() bool { return r.Failed == 0 }

// Run runs s on a newly opened backend and closes it. It never panics on
// any script or backend answer; a backend panic is not recovered.
func Run(s *Script, opts Options) *Result {
	r := &runner{
		s:       s,
		opts:    opts,
		res:     &Result{File: s.File, Backend: opts.Backend},
		enabled: map[model.CPU]bool{},
		routes:  map[model.GSI]model.Route{},
		acked:   map[model.CPU][]model.INTID{},
		vacked:  map[model.CPU][]model.INTID{},
	}
	r.run()
	// An unexpected error is found when the expectations after it are
	// done: list the failures in the script's order.
	slices.SortStableFunc(r.res.Failures, func(a, b Failure) int { return a.Pos.Line - b.Pos.Line })
	return r.res
}

type runner struct {
	s    *Script
	opts Options
	res  *Result

	cfg      model.Config
	manualL2 bool
	b        model.Backend // the ITS the statements address (its N): machine or a view of it
	machine  model.Backend // the backend opened
	its      int           // b is ITS its of machine
	caps     model.Capabilities
	layout   model.Layout
	alloc    *model.Allocator

	enabled map[model.CPU]bool
	routes  map[model.GSI]model.Route
	acked   map[model.CPU][]model.INTID // acknowledged, not yet EOId, oldest first
	vacked  map[model.CPU][]model.INTID // the same, of the vPE scheduled on the CPU

	lastMSI *model.Delivery
	// The error of the last action not yet matched by expect fail, and the
	// command errors not yet matched by expect error.
	actErr     error
	actAt      Stmt
	cmdErrs    []*model.CommandError
	cmdAt      Stmt
	tables     *model.SavedTables
	saved      bool
	stale      bool // an action ran since the last save
	stopped    bool
	skipReason string
}

// gicv4Setting returns the script's gicv4 setting, if any.
func (r *runner) gicv4Setting() Stmt {
	for _, st := range r.s.Stmts {
		switch st.(type) {
		case *GICv4Stmt:
			return st
		case Setting:
		default:
			return nil
		}
	}
	return nil
}

// errSkipScript ends a script whose remaining statements the backend
// cannot honour.
type errSkipScript struct{ reason string }

func (e *errSkipScript) Error() string { return e.reason }

func (r *runner) verbosef(st Stmt, format string, args ...any) {
	if r.opts.Verbose != nil {
		fmt.Fprintf(r.opts.Verbose, "%s: %v: %s\n", st.Position().LineString(), st, fmt.Sprintf(format, args...))
	}
}

func (r *runner) fail(st Stmt, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.res.Failed++
	r.res.Failures = append(r.res.Failures, Failure{Pos: st.Position(), Stmt: st.String(), Msg: msg})
	r.verbosef(st, "FAIL: %s", msg)
}

func (r *runner) pass(st Stmt, format string, args ...any) {
	r.res.Passed++
	r.verbosef(st, "ok: %s", fmt.Sprintf(format, args...))
}

func (r *runner) skip(st Stmt, reason string) {
	r.res.Skipped++
	r.res.Skips = append(r.res.Skips, Skip{Pos: st.Position(), Stmt: st.String(), Reason: reason})
	r.verbosef(st, "skip: %s", reason)
}

// remaining counts the expectations from index i on.
func (r *runner) remaining(i int) int {
	n := 0
	for _, st := range r.s.Stmts[i:] {
		if _, ok := st.(Expectation); ok {
			n++
		}
	}
	return n
}

func (r *runner) run() {
	r.cfg = model.Config{}
	i := 0
	for ; i < len(r.s.Stmts); i++ {
		set, ok := r.s.Stmts[i].(Setting)
		if !ok {
			break
		}
		if err := set.apply(&r.cfg); err != nil {
			r.fail(set, "%v", err)
			return
		}
		if t, ok := set.(*TableStmt); ok && !t.Collections {
			r.manualL2 = t.ManualL2
		}
	}
	if r.opts.Configure != nil {
		r.opts.Configure(&r.cfg)
	}
	b, err := r.open()
	if err != nil {
		r.openFailed(i, err)
		return
	}
	r.setBackend(b)
	defer func() { r.machine.Close() }()
	if r.opts.Start != nil && !r.start() {
		return
	}
	if vt := r.vpeTableSetting(); vt != nil {
		if err := r.programVPETable(vt); err != nil {
			r.fail(vt, "%v", err)
			r.res.NotRun = r.s.Expectations()
			return
		}
	}
	for ; i < len(r.s.Stmts) && !r.stopped; i++ {
		st := r.s.Stmts[i]
		if _, isExp := st.(Expectation); !isExp {
			if !r.checkConsumed(i) {
				return
			}
		}
		err := r.exec(st)
		var skipErr *errSkipScript
		switch {
		case errors.As(err, &skipErr):
			r.skipReason = skipErr.reason
			n := r.remaining(i + 1)
			r.res.Skipped += n
			r.res.Skips = append(r.res.Skips, Skip{Pos: st.Position(), Stmt: st.String(), Reason: fmt.Sprintf("%s (%d expectations after it skipped)", skipErr.reason, n)})
			r.verbosef(st, "skip: %s", skipErr.reason)
			return
		case err != nil:
			// The runner itself could not carry the statement out.
			r.fail(st, "%v", err)
			r.res.NotRun = r.remaining(i + 1)
			return
		}
		if r.opts.AfterStmt != nil {
			if err := r.opts.AfterStmt(st, r.b); err != nil {
				r.fail(st, "after the statement: %v", err)
				r.res.NotRun = r.remaining(i + 1)
				return
			}
		}
	}
	if !r.stopped {
		if !r.checkConsumed(len(r.s.Stmts)) {
			return
		}
		if r.opts.Observe != nil {
			if err := r.opts.Observe(r.machine); err != nil {
				r.res.Failures = append(r.res.Failures, Failure{Pos: Pos{File: r.s.File}, Stmt: "observe", Msg: err.Error()})
				r.res.Failed++
			}
		}
	}
}

// start calls Options.Start, moves the allocator past the ITT memory in
// use, and notes the CPUs left with LPIs enabled, which a migration
// enables again. It reports whether the script may go on.
func (r *runner) start() bool {
	used, err := r.opts.Start(r.b)
	if err != nil {
		r.res.Failures = append(r.res.Failures, Failure{Pos: Pos{File: r.s.File, Line: 1}, Stmt: "start", Msg: err.Error()})
		r.res.Failed++
		r.res.NotRun = r.s.Expectations()
		return false
	}
	used = min(used, r.layout.ITTsSize)
	r.alloc = model.NewAllocator(r.layout.ITTs+model.GPA(used), r.layout.ITTsSize-used)
	for c := range r.caps.CPUs {
		v, err := r.b.ReadRedistributorRegister(model.CPU(c), model.GICR_CTLR)
		if err == nil && v&model.GICR_CTLR_EnableLPIs != 0 {
			r.enabled[model.CPU(c)] = true
		}
	}
	return true
}

// openFailed records why the backend did not open, blaming the last of the
// settings, which end before statement i (line 1 when there are none): a
// setting the backend cannot honour skips the whole script, any other
// error fails it.
func (r *runner) openFailed(i int, err error) {
	at := Stmt(&SaveStmt{At: At{Pos: Pos{File: r.s.File, Line: 1}}})
	if i > 0 {
		at = r.s.Stmts[i-1]
	}
	if errors.Is(err, model.ErrNotSupported) {
		reason := err.Error()
		if g := r.gicv4Setting(); g != nil && r.cfg.ITSTyper.Virtual() {
			// Blame the setting that asked for vPEs, and name it.
			at = g
			reason = fmt.Sprintf("%s (the %s setting asks for a GICv4 ITS: GITS_TYPER.Virtual = 1)", reason, g)
		} else if n := r.cfg.ITSTyper.ITTEntrySize(); r.cfg.ITSTyper != 0 && n != model.TableEntrySize && strings.Contains(reason, "GITS_TYPER") {
			// The backend's error may name GITS_TYPER only, not the
			// field that differs: say which (`itt entrysize=`, or a
			// saved state's; KVM's ITT entries are 8 bytes, fixed).
			reason = fmt.Sprintf("%s (asked for %d-byte ITT entries: GITS_TYPER.ITT_entry_size %d)", reason, n, n-1)
		}
		r.res.SkipReason = reason
		r.res.Skipped += r.s.Expectations()
		r.res.Skips = append(r.res.Skips, Skip{Pos: at.Position(), Stmt: at.String(), Reason: reason})
		return
	}
	r.res.Failures = append(r.res.Failures, Failure{Pos: at.Position(), Stmt: "open " + r.opts.Backend, Msg: err.Error()})
	r.res.Failed++
	r.res.NotRun = r.s.Expectations()
}

func (r *runner) setBackend(b model.Backend) {
	r.b, r.machine, r.its = b, b, 0
	r.caps = b.Capabilities()
	r.layout = b.Layout()
	if r.alloc == nil {
		r.alloc = r.layout.ITTAllocator()
	}
}

// checkConsumed fails the script on an action error or command error that
// no expectation matched. It reports whether the script may go on.
func (r *runner) checkConsumed(next int) bool {
	if r.actErr != nil && errors.Is(r.actErr, model.ErrNotSupported) {
		reason := fmt.Sprintf("%s cannot do this: %v", r.opts.Backend, r.actErr)
		n := r.remaining(next)
		r.res.Skipped += n
		r.res.Skips = append(r.res.Skips, Skip{Pos: r.actAt.Position(), Stmt: r.actAt.String(), Reason: fmt.Sprintf("%s (%d expectations after it skipped)", reason, n)})
		r.verbosef(r.actAt, "skip: %s", reason)
		r.actErr = nil
		r.stopped = true
		return false
	}
	failed := false
	if r.actErr != nil {
		r.fail(r.actAt, "unexpected error: %v", r.actErr)
		r.actErr, failed = nil, true
	}
	if len(r.cmdErrs) > 0 {
		msgs := make([]string, len(r.cmdErrs))
		for i, e := range r.cmdErrs {
			msgs[i] = e.Error()
		}
		r.fail(r.cmdAt, "unexpected command error: %s", strings.Join(msgs, "; "))
		r.cmdErrs, failed = nil, true
	}
	if failed && !r.opts.KeepGoing {
		r.stopped = true
		r.res.NotRun = r.remaining(next)
		return false
	}
	return true
}

// noteErr records an action's error for the expectations that follow. An
// error wrapping ErrNotSupported ends the script as skipped unless an
// expect fail follows at once.
func (r *runner) noteErr(st Stmt, err error) {
	cmdErrs, other := model.SplitCommandErrors(err)
	if len(cmdErrs) > 0 {
		r.cmdErrs = append(r.cmdErrs, cmdErrs...)
		r.cmdAt = st
	}
	if other != nil {
		r.actErr, r.actAt = other, st
	}
}

func (r *runner) effect(st Stmt, err error, okText string) {
	if err != nil {
		r.verbosef(st, "error: %v", err)
		return
	}
	r.verbosef(st, "%s", okText)
}

// act records what came of an action: its error, for the expectations
// that follow, and its effect, for -v.
func (r *runner) act(st Stmt, err error, okText string) {
	r.noteErr(st, err)
	r.effect(st, err, okText)
}

// exec runs one statement. It returns an error only when the runner
// itself cannot carry the statement out (which ends the script); what the
// backend answered is for the expectations that follow.
func (r *runner) exec(st Stmt) error {
	switch st.(type) {
	case Expectation, *SaveStmt:
	default:
		r.stale = true // the tables may have changed since the last save
	}
	b := r.b
	switch s := st.(type) {
	case *LPIStmt:
		r.configureLPIs(s)
	case *EnableLPIsStmt:
		r.enableLPIs(s)
	case *CommandStmt:
		return r.command(s)
	case *RepeatStmt:
		return r.repeat(s)
	case *BatchStmt:
		return r.batch(s)
	case *L2PageStmt:
		addr, err := r.provideL2(s.Dev)
		if err != nil {
			return err
		}
		r.verbosef(st, "level-2 page at %v", addr)
	case *MSIStmt:
		r.signalMSI(s)
	case *RouteStmt:
		r.routes[s.GSI] = model.Route{GSI: s.GSI, MSI: r.msi(s.Dev, s.Ev, s.DevID)}
		r.act(st, r.setRoutes(), "routing table set")
	case *UnrouteStmt:
		delete(r.routes, s.GSI)
		r.act(st, r.setRoutes(), "routing table set")
	case *TriggerStmt:
		r.act(st, b.TriggerGSI(s.GSI), "raised")
	case *AckStmt:
		id, err := r.ack(s.CPU)
		r.act(st, err, describeINTID(id))
		if err == nil {
			r.outcome(st, describeINTID(id))
		}
	case *EOIStmt:
		r.eoi(s)
	case *PMRStmt:
		r.act(st, b.SetPriorityMask(s.CPU, s.Value), "ICC_PMR_EL1 set")
	case *InvLPIRStmt:
		r.act(st, b.WriteRedistributorRegister(s.CPU, model.GICR_INVLPIR, uint64(s.LPI)), "configuration reloaded")
	case *InvAllRStmt:
		r.act(st, b.WriteRedistributorRegister(s.CPU, model.GICR_INVALLR, 0), "configuration reloaded")
	case *WriteRegStmt:
		r.act(st, r.writeRegister(s), "written")
	case *PokeStmt:
		r.act(st, model.WriteUint64(b.Memory(), s.Addr, s.Value), "written")
	case *SaveStmt:
		err := b.SaveTables()
		r.tables, r.saved = nil, err == nil
		r.act(st, err, "tables saved")
	case *RestoreStmt:
		return r.restore(s)
	case Expectation:
		r.expect(s)
	case *ITSStmt:
		r.act(s, r.selectITS(s.N), fmt.Sprintf("ITS %d addressed", s.N))
	default:
		if r.execGICv4(st) {
			return nil
		}
		return fmt.Errorf("statement %T cannot run here", st)
	}
	return nil
}

// configureLPIs writes the configuration of every LPI of the range, up to
// the first that fails.
func (r *runner) configureLPIs(s *LPIStmt) {
	for id := s.First; ; id++ {
		if err := model.SetLPIConfig(r.b, id, s.Config); err != nil {
			r.act(s, err, "")
			return
		}
		if id == s.Last {
			break
		}
	}
	r.verbosef(s, "configuration table byte %#02x", uint8(s.Config))
}

// enableLPIs enables LPIs on one CPU or all, up to the first that fails.
func (r *runner) enableLPIs(s *EnableLPIsStmt) {
	cpus := []model.CPU{s.CPU}
	if s.All {
		cpus = nil
		for c := range r.caps.CPUs {
			cpus = append(cpus, model.CPU(c))
		}
	}
	for _, c := range cpus {
		if err := model.EnableLPIs(r.b, c); err != nil {
			r.act(s, err, "")
			return
		}
		r.enabled[c] = true
	}
	r.verbosef(s, "GICR_CTLR.EnableLPIs = 1")
}

// repeat runs the body N times, stopping after the first run that left an
// error for the expectations.
func (r *runner) repeat(s *RepeatStmt) error {
	for range s.N {
		if err := r.exec(s.Body); err != nil {
			return err
		}
		if r.actErr != nil || len(r.cmdErrs) > 0 {
			break
		}
	}
	return nil
}

// signalMSI signals the MSI and records where it was delivered, for
// expect msi and the differential test.
func (r *runner) signalMSI(s *MSIStmt) {
	m := r.msi(s.Dev, s.Ev, s.DevID)
	if s.Doorbell != 0 {
		m.Doorbell = s.Doorbell
	}
	d, err := r.b.SignalMSI(m)
	r.lastMSI = nil
	if err != nil {
		r.noteErr(s, err)
		r.outcome(s, "error")
	} else {
		r.lastMSI = &d
		r.outcome(s, d.String())
	}
	r.effect(s, err, d.String())
}

// eoi ends the given LPI, or the last one acknowledged and not yet ended.
func (r *runner) eoi(s *EOIStmt) {
	id := s.LPI
	stack := r.acked[s.CPU]
	if id == 0 {
		if len(stack) == 0 {
			r.verbosef(s, "nothing acknowledged: no EOI")
			return
		}
		id = stack[len(stack)-1]
	}
	err := r.b.EOI(s.CPU, id)
	if err == nil {
		if k := slices.Index(stack, id); k >= 0 {
			r.acked[s.CPU] = slices.Delete(stack, k, k+1)
		}
	}
	r.act(s, err, fmt.Sprintf("priority drop of %d", id))
}

func (r *runner) writeRegister(s *WriteRegStmt) error {
	if s.Reg.IsRD {
		return r.b.WriteRedistributorRegister(s.CPU, s.Reg.GICR, s.Value)
	}
	return r.b.WriteITSRegister(s.Reg.ITS, s.Value)
}

// restore restores the saved tables in place, or into a fresh backend.
func (r *runner) restore(s *RestoreStmt) error {
	r.tables = nil
	if !s.InPlace {
		return r.migrate(s)
	}
	r.act(s, r.b.RestoreTables(), "tables restored in place")
	return nil
}

func (r *runner) outcome(st Stmt, seen string) {
	r.res.Outcomes = append(r.res.Outcomes, Outcome{Line: st.Position().Line, Stmt: st.String(), Seen: seen})
}

func describeINTID(id model.INTID) string {
	if id == model.SpuriousINTID {
		return "1023 (spurious)"
	}
	return fmt.Sprint(uint32(id))
}

func (r *runner) msi(dev model.DeviceID, ev model.EventID, mode DevIDMode) model.MSI {
	m := r.caps.Prepare(model.MSI{Doorbell: r.layout.Doorbell(), Data: uint32(ev), DeviceID: dev})
	switch mode {
	case DevIDNone:
		m.DeviceIDValid = false
	case DevIDValid:
		m.DeviceIDValid = true
	}
	return m
}

func (r *runner) setRoutes() error {
	gsis := slices.Sorted(maps.Keys(r.routes))
	routes := make([]model.Route, len(gsis))
	for i, g := range gsis {
		routes[i] = r.routes[g]
	}
	return r.b.SetGSIRouting(routes)
}

func (r *runner) ack(cpu model.CPU) (model.INTID, error) {
	id, err := r.b.Acknowledge(cpu)
	if err == nil && id != model.SpuriousINTID {
		r.acked[cpu] = append(r.acked[cpu], id)
	}
	return id, err
}

// command submits one command statement's command.
func (r *runner) command(s *CommandStmt) error {
	cmd, err := r.prepare(s)
	if err != nil {
		return err
	}
	r.submit(s, cmd)
	return nil
}

// batch writes the commands of s into the queue together.
func (r *runner) batch(s *BatchStmt) error {
	cmds := make([]model.Command, len(s.Cmds))
	for i, c := range s.Cmds {
		cmd, err := r.prepare(c)
		if err != nil {
			return err
		}
		cmds[i] = cmd
	}
	r.submit(s, cmds...)
	return nil
}

// prepare returns the command of s ready to submit: a MAPD without itt=
// gets its ITT allocated, and in a two-level device table the level-2
// page its DTE needs.
func (r *runner) prepare(s *CommandStmt) (model.Command, error) {
	if v, ok := s.Cmd.(model.VMAPP); ok {
		return v, r.prepareVMAPP(v)
	}
	m, ok := s.Cmd.(model.MAPD)
	if !ok || !m.Valid {
		return s.Cmd, nil
	}
	if s.AutoITT {
		addr, err := r.autoITT(m)
		if err != nil {
			return nil, err
		}
		m.ITTAddr = addr
	}
	if !r.manualL2 && r.layout.DeviceTableIndirect {
		if _, err := r.provideL2(m.DeviceID); err != nil && !errors.Is(err, errOutsideL1) {
			return nil, err
		}
	}
	return m, nil
}

// submit writes cmds into the queue and moves GITS_CWRITER past them once.
func (r *runner) submit(st Stmt, cmds ...model.Command) {
	err := model.SubmitCommands(r.b, cmds...)
	r.noteErr(st, err)
	what := fmt.Sprint(cmds[0])
	if len(cmds) > 1 {
		what = fmt.Sprintf("%d commands, one GITS_CWRITER write", len(cmds))
	}
	if err != nil {
		r.verbosef(st, "%s: %v", what, err)
	} else {
		r.verbosef(st, "%s: done", what)
	}
}

// autoITT allocates the ITT of a MAPD that gave no itt=. A MAPD whose
// Size is beyond GITS_TYPER.ID_bits gets the ITT area's start, unallocated:
// the ITS refuses it (E_ITS_MAPD_ITTSIZE_OOR) before it would use it.
func (r *runner) autoITT(m model.MAPD) (model.GPA, error) {
	if v, err := r.b.ReadITSRegister(model.GITS_TYPER); err == nil && m.EventIDBits() > model.ITSTyper(v).EventIDBits() {
		return r.layout.ITTs, nil
	}
	size := model.ITTSize(m.EventIDBits(), r.caps.ITTEntrySize)
	addr, err := r.alloc.Alloc(size, 256)
	if err != nil {
		return 0, fmt.Errorf("allocating the ITT: %d EventID bits need %d bytes, more than the layout's ITT area has left (give itt=ADDR to place it yourself): %w", m.EventIDBits(), size, err)
	}
	return addr, nil
}

var errOutsideL1 = errors.New("beyond the level-1 table")

// provideL2 makes sure the level-1 entry covering dev points at a zeroed
// level-2 page, as guest software does before MAPD in a two-level device
// table. L2 pages are 64 KiB aligned and at least 64 KiB, as KVM requires.
func (r *runner) provideL2(dev model.DeviceID) (model.GPA, error) {
	return r.provideL2In(0, uint64(dev), "device")
}

// provideL2In does what provideL2 does for the table of GITS_BASER<n>
// ("device" or "vPE" table), whose entries are 8 bytes, and the ID id.
func (r *runner) provideL2In(n int, id uint64, what string) (model.GPA, error) {
	v, err := r.b.ReadITSRegister(model.GITS_BASER(n))
	if err != nil {
		return 0, fmt.Errorf("reading GITS_BASER%d: %w", n, err)
	}
	baser := model.Baser(v)
	if !baser.Indirect() {
		return 0, fmt.Errorf("l2page: the %s table is flat (GITS_BASER%d %#x)", what, n, v)
	}
	per := uint64(baser.PageSize()) / model.TableEntrySize
	idx := id / per
	if idx >= baser.SizeBytes()/model.TableEntrySize {
		if n == 0 {
			return 0, fmt.Errorf("DeviceID %#x: %w", id, errOutsideL1)
		}
		return 0, fmt.Errorf("%s ID %d: %w", what, id, errOutsideL1)
	}
	mem := r.b.Memory()
	entryAddr := baser.Addr() + model.GPA(idx*model.TableEntrySize)
	raw, err := model.ReadUint64(mem, entryAddr)
	if err != nil {
		return 0, err
	}
	if e := model.DecodeL1Entry(raw); e.Valid {
		return e.Addr, nil
	}
	size := max(uint64(baser.PageSize()), 64<<10)
	page, err := r.alloc.Alloc(size, 64<<10)
	if err != nil {
		return 0, fmt.Errorf("allocating a level-2 %s table page: %w", what, err)
	}
	if err := model.Zero(mem, page, int(size)); err != nil {
		return 0, err
	}
	enc, err := model.L1Entry{Valid: true, Addr: page}.Encode()
	if err != nil {
		return 0, err
	}
	return page, model.WriteUint64(mem, entryAddr, enc)
}

// open opens the script's backend, wrapped as Options.Wrap says.
func (r *runner) open() (model.Backend, error) {
	b, err := model.Open(r.opts.Backend, r.cfg)
	if err != nil || r.opts.Wrap == nil {
		return b, err
	}
	return r.opts.Wrap(b), nil
}

// migrate saves nothing itself: it opens a fresh backend with the same
// configuration, copies guest memory (all of RAM but the backend's
// scratch area), enables LPIs where they were enabled, sets the GSI
// routes again, and restores the ITS tables there, the order in which a
// VMM restores a guest (redistributors before the ITS).
func (r *runner) migrate(s *RestoreStmt) error {
	nb, err := r.open()
	if err != nil {
		return fmt.Errorf("opening the destination backend: %w", err)
	}
	if err := copyRAM(r.machine, nb); err != nil {
		nb.Close()
		return fmt.Errorf("copying guest memory: %w", err)
	}
	n := max(r.caps.ITSes, 1)
	ctlrs := make([]uint64, n)
	for i := range n {
		if ctlrs[i], err = carryITS(r.machine, nb, i, r.cfg.ITSTyper.Virtual()); err != nil {
			nb.Close()
			return fmt.Errorf("carrying the registers over: %w", err)
		}
	}
	cur := r.its
	r.machine.Close()
	r.setBackend(nb)
	r.acked = map[model.CPU][]model.INTID{}
	r.vacked = map[model.CPU][]model.INTID{}
	r.lastMSI = nil
	for _, c := range slices.Sorted(maps.Keys(r.enabled)) {
		if err := model.EnableLPIs(nb, c); err != nil {
			r.act(s, err, "")
			return nil
		}
	}
	if len(r.routes) > 0 {
		if err := r.setRoutes(); err != nil {
			r.act(s, err, "")
			return nil
		}
	}
	for i := range n {
		v, err := model.ITSOf(nb, i)
		if err == nil {
			err = v.RestoreTables()
		}
		if err == nil {
			err = v.WriteITSRegister(model.GITS_CTLR, ctlrs[i]&model.GITS_CTLR_Enabled)
		}
		if err != nil {
			r.act(s, err, "")
			return nil
		}
	}
	r.act(s, r.selectITS(cur), "tables restored into a fresh backend")
	return nil
}

// carryITS is carryRegisters for ITS i of a machine with several.
func carryITS(from, to model.Backend, i int, virtual bool) (uint64, error) {
	f, err := model.ITSOf(from, i)
	if err != nil {
		return 0, err
	}
	t, err := model.ITSOf(to, i)
	if err != nil {
		return 0, err
	}
	return carryRegisters(f, t, virtual)
}

// carryRegisters gives the destination of a migration the registers the
// source's guest programmed (a script may have moved a table), in the
// order KVM's restore needs (Documentation/virt/kvm/devices/
// arm-vgic-its.rst): GITS_CTLR cleared, each CPU's GICR_PROPBASER and
// GICR_PENDBASER, then GITS_CBASER, GITS_CREADR, GITS_CWRITER, GITS_BASER0
// and GITS_BASER1, and on a virtual ITS GITS_BASER2 (the vPE table). It
// returns the source's GITS_CTLR, to enable the destination's ITS with
// after the tables are restored.
func carryRegisters(from, to model.Backend, virtual bool) (ctlr uint64, err error) {
	ctlr, err = from.ReadITSRegister(model.GITS_CTLR)
	if err != nil {
		return 0, err
	}
	if err := to.WriteITSRegister(model.GITS_CTLR, 0); err != nil {
		return 0, err
	}
	for cpu := range from.Capabilities().CPUs {
		for _, reg := range []model.GICRRegister{model.GICR_PROPBASER, model.GICR_PENDBASER} {
			v, err := from.ReadRedistributorRegister(model.CPU(cpu), reg)
			if err == nil {
				err = to.WriteRedistributorRegister(model.CPU(cpu), reg, v)
			}
			if err != nil {
				return 0, fmt.Errorf("%v of CPU %d: %w", reg, cpu, err)
			}
		}
	}
	regs := []model.ITSRegister{model.GITS_CBASER, model.GITS_CREADR, model.GITS_CWRITER, model.GITS_BASER(0), model.GITS_BASER(1)}
	if virtual {
		regs = append(regs, model.GITS_BASER(2))
	}
	for _, reg := range regs {
		v, err := from.ReadITSRegister(reg)
		if err == nil {
			err = to.WriteITSRegister(reg, v)
		}
		if err != nil {
			return 0, fmt.Errorf("%v: %w", reg, err)
		}
	}
	return ctlr, nil
}

// copyRAM copies all of guest RAM from one backend to the other except the
// scratch area, which each backend keeps for its own use (the kvm guest
// program): the parts of each chunk before and after it are copied.
func copyRAM(from, to model.Backend) error {
	l := from.Layout()
	scratch, scratchEnd := l.Scratch, l.Scratch+model.GPA(l.ScratchSize)
	buf := make([]byte, 1<<20)
	for off := uint64(0); off < l.RAMSize; off += uint64(len(buf)) {
		n := min(uint64(len(buf)), l.RAMSize-off)
		addr := l.RAMBase + model.GPA(off)
		end := addr + model.GPA(n)
		chunk := buf[:n]
		if err := from.Memory().ReadAt(chunk, addr); err != nil {
			return err
		}
		for _, part := range [][2]model.GPA{{addr, min(end, scratch)}, {max(addr, scratchEnd), end}} {
			if part[0] >= part[1] {
				continue
			}
			if err := to.Memory().WriteAt(chunk[part[0]-addr:part[1]-addr], part[0]); err != nil {
				return err
			}
		}
	}
	return nil
}

// ---- settings ----

func (s *CPUsStmt) apply(c *model.Config) error { c.CPUs = s.N; return nil }

func (s *PolicyStmt) apply(c *model.Config) error { c.ErrorPolicy = s.Policy; return nil }

func (s *CacheStmt) apply(c *model.Config) error { c.NoTranslationCache = s.Off; return nil }

func ensureLayout(c *model.Config) {
	if c.Layout == (model.Layout{}) {
		c.Layout = model.DefaultLayout()
	}
}

func (s *QueueStmt) apply(c *model.Config) error {
	ensureLayout(c)
	c.Layout.CommandQueuePages = s.Pages
	if s.Addr != 0 {
		c.Layout.CommandQueue = s.Addr
	}
	return nil
}

func (s *RAMStmt) apply(c *model.Config) error {
	ensureLayout(c)
	c.Layout.RAMSize = uint64(s.MiB) << 20
	return nil
}

// apply makes GITS_TYPER KVM's but for its ITT entry size (so 8 bytes give
// KVM's own value, which the kvm backend takes); after gicv4, the GICv4.0
// one but for its ITT entry size.
func (s *ITTStmt) apply(c *model.Config) error {
	k := model.KVMITSTyper
	typer, err := model.MakeITSTyper(s.EntrySize, k.EventIDBits(), k.DeviceIDBits(), k.ICIDBits())
	if err != nil {
		return err
	}
	// Keep every GICv4 bit a gicv4 setting before this one set (Virtual,
	// VMOVP, the GICv4.1 fields): only the entry size changes.
	const sizeField = model.ITSTyper(0xF) << 4
	if c.ITSTyper.Virtual() {
		typer = c.ITSTyper&^sizeField | typer&sizeField
	}
	c.ITSTyper = typer
	return nil
}

func (s *TableStmt) apply(c *model.Config) error {
	ensureLayout(c)
	if s.Collections {
		if s.PageSize != 0 {
			c.Layout.CollectionTablePageSize = s.PageSize
		}
		if s.Pages != 0 {
			c.Layout.CollectionTablePages = s.Pages
		}
		if s.Addr != 0 {
			c.Layout.CollectionTable = s.Addr
		}
		return nil
	}
	if s.Addr != 0 {
		c.Layout.DeviceTable = s.Addr
	}
	c.Layout.DeviceTableIndirect = s.Indirect
	if s.PageSize != 0 {
		c.Layout.DeviceTablePageSize = s.PageSize
	}
	if s.Pages != 0 {
		c.Layout.DeviceTablePages = s.Pages
	}
	return nil
}
