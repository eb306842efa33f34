package difftest

import (
	"fmt"
	"math"
	"slices"

	"github.com/google/go-cmp/cmp"

	"github.com/gicits/gicits/model"
	"github.com/gicits/gicits/script"
)

// Item is one thing a run observed: the outcome of an msi or ack, or one
// part of the state (what is pending on a CPU, a saved DTE, ITE or CTE)
// after a failing command's expect error and at the end of the stream.
type Item struct {
	Line int    // of the statement observed; EndLine for the end state
	Stmt string // the statement, or "end"
	What string // what was looked at, e.g. "ack cpu=1", "pending cpu=0", "ite dev=0x10 ev=3"
	Seen string
}

// EndLine is the Line of the items of the end state.
const EndLine = math.MaxInt

func (it Item) key() string { return fmt.Sprintf("%d %s", it.Line, it.What) }

// Observation is what a run of a stream leaves to compare, in stream
// order: collections keyed by ICID (KVM saves them in list order, which the
// architecture does not fix), and the run's failures.
type Observation struct {
	Items    []Item
	Failures []string
}

// Variant is one side of a differential run: a backend and how to adjust
// its configuration.
type Variant struct {
	Name      string
	Backend   string
	Configure func(*model.Config)
}

// Observe runs s on v and returns what it observed.
func Observe(s *script.Script, v Variant) *Observation {
	o := &Observation{}
	res := script.Run(s, script.Options{
		Backend:   v.Backend,
		Configure: v.Configure,
		AfterStmt: o.afterStmt,
		Observe:   func(b model.Backend) error { return o.snapshot(b, EndLine, "end") },
	})
	for _, out := range res.Outcomes {
		o.Items = append(o.Items, Item{Line: out.Line, Stmt: out.Stmt, What: out.Stmt, Seen: out.Seen})
	}
	slices.SortStableFunc(o.Items, func(a, b Item) int { return a.Line - b.Line })
	for _, f := range res.Failures {
		o.Failures = append(o.Failures, f.String())
	}
	if res.SkipReason != "" {
		o.Failures = append(o.Failures, "skipped: "+res.SkipReason)
	}
	return o
}

// afterStmt looks at the state a failing command left: after each expect
// error (which KVM, unable to see command errors, skips) it records what
// is pending and the saved tables.
func (o *Observation) afterStmt(st script.Stmt, b model.Backend) error {
	if _, ok := st.(*script.ExpectErrorStmt); !ok {
		return nil
	}
	return o.snapshot(b, st.Position().Line, st.String())
}

// snapshot records what is pending on every CPU of b and the tables
// every ITS of b saves now.
func (o *Observation) snapshot(b model.Backend, line int, stmt string) error {
	add := func(what, seen string) {
		o.Items = append(o.Items, Item{Line: line, Stmt: stmt, What: what, Seen: seen})
	}
	for c := range b.Capabilities().CPUs {
		p, err := b.Pending(model.CPU(c))
		if err != nil {
			return err
		}
		add(fmt.Sprintf("pending cpu=%d", c), fmt.Sprint(p))
	}
	if err := o.snapshotVirtual(b, add); err != nil {
		return err
	}
	for i := range max(b.Capabilities().ITSes, 1) {
		if err := snapshotTables(b, i, add); err != nil {
			return err
		}
	}
	return nil
}

// snapshotTables saves ITS i's tables and records its DTEs, ITEs and
// CTEs, what an expect dte, ite or cte (and so expect translate) of that
// ITS would look at. The items of ITS i >= 1 say "its I" first; ITS 0's,
// the only ITS of a one-ITS stream, say nothing, as before there were
// several.
func snapshotTables(b model.Backend, i int, add func(what, seen string)) error {
	v, err := model.ITSOf(b, i)
	if err != nil {
		return err
	}
	prefix := ""
	if i > 0 {
		prefix = fmt.Sprintf("its %d ", i)
	}
	if err := v.SaveTables(); err != nil {
		return fmt.Errorf("saving ITS %d's tables: %w", i, err)
	}
	t, err := model.ReadSavedTables(v)
	if err != nil {
		return fmt.Errorf("ITS %d: %w", i, err)
	}
	for _, d := range t.Devices {
		add(fmt.Sprintf("%sdte dev=%#x", prefix, uint32(d.ID)), fmt.Sprintf("%+v", d.DTE))
		for _, e := range d.Events {
			add(fmt.Sprintf("%site dev=%#x ev=%d", prefix, uint32(d.ID), e.ID), fmt.Sprintf("%+v", e.ITE))
		}
	}
	ctes := slices.Clone(t.Collections)
	slices.SortFunc(ctes, func(a, b model.SavedCollection) int { return int(a.CTE.ICID) - int(b.CTE.ICID) })
	for _, c := range ctes {
		add(fmt.Sprintf("%scte icid=%d", prefix, c.CTE.ICID), fmt.Sprintf("%+v", c.CTE))
	}
	return nil
}

// Divergence is the first observation on which two runs of one stream
// disagree.
type Divergence struct {
	Line int // of the statement observed (EndLine for the end state)
	Stmt string
	What string
	A, B string // what each side saw; "(none)" when it saw nothing there
	// Index is the statement's index in the stream, len(Stmts) for the end
	// state.
	Index int
}

// Same reports whether d and e are the same divergence, wherever in the
// stream it happens: the same statement, looking at the same thing, seeing
// the same two values.
func (d *Divergence) Same(e *Divergence) bool {
	return d != nil && e != nil && d.Stmt == e.Stmt && d.What == e.What && d.A == e.A && d.B == e.B
}

func (d *Divergence) String() string {
	at := fmt.Sprintf("line %d: %s", d.Line, d.Stmt)
	if d.Line == EndLine {
		at = "end of stream"
	}
	return fmt.Sprintf("%s: %s: %s vs %s", at, d.What, d.A, d.B)
}

const none = "(none)"

// First returns the first divergence between a and b in stream order: an
// item one side saw differently or not at all, or else differing
// failures. It returns nil when they agree. s is the stream they ran.
func First(s *script.Script, a, b *Observation) *Divergence {
	seenB := map[string]string{}
	for _, it := range b.Items {
		seenB[it.key()] = it.Seen
	}
	seenA := map[string]string{}
	all := make([]Item, 0, len(a.Items)+len(b.Items))
	for _, it := range a.Items {
		seenA[it.key()] = it.Seen
		all = append(all, it)
	}
	for _, it := range b.Items {
		if _, ok := seenA[it.key()]; !ok {
			all = append(all, it)
		}
	}
	slices.SortStableFunc(all, func(x, y Item) int { return cmpLine(x.Line, y.Line) })
	for _, it := range all {
		va, okA := seenA[it.key()]
		vb, okB := seenB[it.key()]
		if !okA {
			va = none
		}
		if !okB {
			vb = none
		}
		if va != vb {
			return &Divergence{Line: it.Line, Stmt: it.Stmt, What: it.What, A: va, B: vb, Index: indexOf(s, it.Line)}
		}
	}
	if !slices.Equal(a.Failures, b.Failures) {
		return &Divergence{Line: EndLine, Stmt: "end", What: "failures", A: fmt.Sprint(a.Failures), B: fmt.Sprint(b.Failures), Index: len(s.Stmts)}
	}
	return nil
}

func cmpLine(x, y int) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// indexOf returns the index of the statement at line, len(s.Stmts) for
// the end state.
func indexOf(s *script.Script, line int) int {
	for i, st := range s.Stmts {
		if st.Position().Line == line {
			return i
		}
	}
	return len(s.Stmts)
}

// Diff runs s on a and b and returns their differences as cmp.Diff prints
// them, (-a +b), or "" when they agree.
func Diff(s *script.Script, a, b Variant) string {
	return cmp.Diff(Observe(s, a), Observe(s, b))
}

// Compare runs s on a and b and returns both observations and their
// first divergence (nil when they agree).
func Compare(s *script.Script, a, b Variant) (oa, ob *Observation, d *Divergence) {
	oa, ob = Observe(s, a), Observe(s, b)
	return oa, ob, First(s, oa, ob)
}

// Shrink removes statements from a stream on which a and b diverge, one
// at a time, keeping each removal after which they still diverge and keep
// says the divergence is still the one being shrunk. The set-up (settings,
// LPI configuration, EnableLPIs) and the final save stay; a failing
// command and its expect error go together. Without keep,
// any divergence with the same failures as the original is kept. When
// stop, if given, reports true, it returns what it has shrunk so far.
func Shrink(s *script.Script, a, b Variant, keep func(*script.Script, *Divergence) bool, stop func() bool) *script.Script {
	oa, ob := Observe(s, a), Observe(s, b)
	cur := s
	for changed := true; changed; {
		changed = false
		for i := len(cur.Stmts) - 2; i >= 0; i-- {
			if stop != nil && stop() {
				return cur
			}
			switch cur.Stmts[i].(type) {
			case script.Setting, *script.LPIStmt, *script.EnableLPIsStmt, *script.ExpectErrorStmt:
				continue
			}
			// A failing command goes with its expect error.
			end := i + 1
			if _, ok := cur.Stmts[end].(*script.ExpectErrorStmt); ok {
				end++
			}
			cand := renumber(&script.Script{File: cur.File, Stmts: slices.Delete(slices.Clone(cur.Stmts), i, end)})
			ca, cb := Observe(cand, a), Observe(cand, b)
			if !slices.Equal(ca.Failures, oa.Failures) || !slices.Equal(cb.Failures, ob.Failures) {
				continue
			}
			d := First(cand, ca, cb)
			if d == nil || (keep != nil && !keep(cand, d)) {
				continue
			}
			cur, changed = cand, true
		}
	}
	return cur
}

// renumber re-parses the printed script so that positions match the
// printed lines (every statement prints in a form that parses back).
func renumber(s *script.Script) *script.Script {
	again, err := script.Parse(s.File, []byte(s.String()))
	if err != nil {
		return s
	}
	return again
}

// snapshotVirtual records, on a backend with vPEs, what is pending for
// the vPE scheduled on each CPU (or why nothing can be) and the pending
// bits of the virtual pending tables a GICv4 stream uses.
func (o *Observation) snapshotVirtual(b model.Backend, add func(what, seen string)) error {
	v, ok := b.(model.VirtualCPUInterface)
	if !ok || !b.Capabilities().VirtualLPIs {
		return nil
	}
	for c := range b.Capabilities().CPUs {
		p, err := v.PendingVirtual(model.CPU(c))
		add(fmt.Sprintf("vpending cpu=%d", c), fmt.Sprint(p, err))
	}
	for vpe := model.VPEID(1); vpe <= genVPEs; vpe++ {
		buf := make([]byte, genVPTBytes)
		if err := b.Memory().ReadAt(buf, GenVPT(vpe)); err != nil {
			return fmt.Errorf("reading vPE %d's VPT: %w", vpe, err)
		}
		var set []int
		for i, x := range buf {
			for bit := range 8 {
				if x>>bit&1 != 0 {
					set = append(set, 8*i+bit)
				}
			}
		}
		add(fmt.Sprintf("vpt vpe=%d", vpe), fmt.Sprint(set))
	}
	return nil
}
