package ledger

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gicits/gicits/model"
)

// Ledger accounts for every LPI delivery and acknowledgement of a
// concurrent run, to prove afterwards that nothing was lost and nothing
// duplicated: every acknowledgement is matched to its own delivery (one
// that began before the acknowledgement ended and ended after the last
// acknowledgement that finished before this one began, since anything
// earlier was consumed or coalesced by that one), and the last delivery of
// every LPI before each barrier and before the end is followed by an
// acknowledgement or by a removal that may legitimately drop it.
//
// A removal (DISCARD, MAPD, an EnableLPIs toggle) is recorded with its
// [Cause]; the [Rules] given to [Ledger.Check] say what each cause does to
// a pending LPI on the backend under test ([Effect]): keep it, drop it,
// or either.
//
// Each operation is recorded as a span of a global sequence: call Begin
// before the operation and the matching method after it. Safe for
// concurrent use.
type Ledger struct {
	seq atomic.Uint64

	mu       sync.Mutex
	lpis     map[model.INTID]*ledgerLPI
	barriers []barrier
}

// barrier is one [Ledger.Barrier]: its sequence number and what it
// follows.
type barrier struct {
	seq  uint64
	name string
}

type span struct{ start, end uint64 }

// removal is one recorded removal of an LPI's pending state.
type removal struct {
	span
	cause Cause
	// certain: the operation surely applied to the LPI; otherwise it may
	// have (the recorder could not tell which CPU the LPI targeted).
	certain bool
}

type ledgerLPI struct {
	delivered, acked []span
	removed          []removal
}

// New returns an empty ledger.
func New() *Ledger { return &Ledger{lpis: map[model.INTID]*ledgerLPI{}} }

// Begin returns the sequence number an operation starts at.
func (l *Ledger) Begin() uint64 { return l.seq.Add(1) }

func (l *Ledger) lpi(id model.INTID) *ledgerLPI {
	p := l.lpis[id]
	if p == nil {
		p = &ledgerLPI{}
		l.lpis[id] = p
	}
	return p
}

// Delivered records that an MSI begun at start made id pending (SignalMSI
// answered Delivered).
func (l *Ledger) Delivered(id model.INTID, start uint64) {
	s := span{start, l.seq.Add(1)}
	l.mu.Lock()
	l.lpi(id).delivered = append(l.lpi(id).delivered, s)
	l.mu.Unlock()
}

// Acknowledged records that an Acknowledge begun at start returned id.
func (l *Ledger) Acknowledged(id model.INTID, start uint64) {
	s := span{start, l.seq.Add(1)}
	l.mu.Lock()
	l.lpi(id).acked = append(l.lpi(id).acked, s)
	l.mu.Unlock()
}

// Removed records that an operation of cause c, begun at start, applied
// to ids and may have dropped their pending state, as the rules given to
// [Ledger.Check] say.
func (l *Ledger) Removed(c Cause, start uint64, ids ...model.INTID) {
	l.removed(c, true, start, ids)
}

// MayHaveRemoved records an operation of cause c, begun at start, that
// may or may not have applied to ids: an EnableLPIs toggle of a CPU that
// each of ids may or may not target. It excuses a missing
// acknowledgement as [Ledger.Removed] does, but never counts as a drop
// that must have happened: a rule of [Drops] is read as [MayDrop] for it,
// and acknowledgements after it are not counted as survivors.
func (l *Ledger) MayHaveRemoved(c Cause, start uint64, ids ...model.INTID) {
	l.removed(c, false, start, ids)
}

func (l *Ledger) removed(c Cause, certain bool, start uint64, ids []model.INTID) {
	if c >= NumCauses {
		panic(fmt.Sprintf("ledger: removal cause %d out of range", c))
	}
	r := removal{span{start, l.seq.Add(1)}, c, certain}
	l.mu.Lock()
	for _, id := range ids {
		l.lpi(id).removed = append(l.lpi(id).removed, r)
	}
	l.mu.Unlock()
}

// Barrier records that every operation begun so far has finished and
// every CPU was drained (acknowledged until it had nothing more): the last
// delivery of each LPI before the barrier must have been acknowledged or
// removed before it. A barrier checks what a later delivery would
// otherwise hide, since only an LPI's last delivery before a barrier or
// the end can be told lost from coalesced.
// The name says what the barrier follows, for the errors that name it.
func (l *Ledger) Barrier(name string) {
	s := l.seq.Add(1)
	l.mu.Lock()
	l.barriers = append(l.barriers, barrier{s, name})
	l.mu.Unlock()
}

// History lists everything recorded of LPI id and every barrier, in the
// order they began, one per line: what a report of a failed check needs
// to show how the LPI got there.
func (l *Ledger) History(id model.INTID) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	type line struct {
		start uint64
		text  string
	}
	var lines []line
	if p := l.lpis[id]; p != nil {
		for _, d := range p.delivered {
			lines = append(lines, line{d.start, fmt.Sprintf("[%d,%d] delivered", d.start, d.end)})
		}
		for _, a := range p.acked {
			lines = append(lines, line{a.start, fmt.Sprintf("[%d,%d] acknowledged", a.start, a.end)})
		}
		for _, r := range p.removed {
			may := ""
			if !r.certain {
				may = " (may not apply)"
			}
			lines = append(lines, line{r.start, fmt.Sprintf("[%d,%d] %v%s", r.start, r.end, r.cause, may)})
		}
	}
	for _, b := range l.barriers {
		lines = append(lines, line{b.seq, fmt.Sprintf("%d barrier: %s", b.seq, b.name)})
	}
	slices.SortFunc(lines, func(a, b line) int { return cmp.Compare(a.start, b.start) })
	var out strings.Builder
	for _, ln := range lines {
		out.WriteString(ln.text)
		out.WriteByte('\n')
	}
	return out.String()
}

// Totals returns the number of deliveries and acknowledgements recorded.
func (l *Ledger) Totals() (delivered, acked int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range l.lpis {
		delivered += len(p.delivered)
		acked += len(p.acked)
	}
	return delivered, acked
}

// Report is what [Ledger.Check] found, per cause of removal.
type Report struct {
	Delivered, Acknowledged int
	// Excused counts, per cause, the last deliveries of an LPI (before a
	// barrier or the end) that no acknowledgement followed and a removal
	// of that cause (the latest) excused.
	Excused [NumCauses]int
	// Survived counts, per cause, acknowledgements that consumed a
	// delivery a certain removal of that cause, ruled [MayDrop], came
	// after: the removal left the LPI pending (KVM's discard-pending). It
	// is a lower bound: an acknowledgement that some delivery after the
	// removal could explain is not counted.
	Survived [NumCauses]int
}

// String lists the counts of each cause that has any.
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d delivered, %d acknowledged", r.Delivered, r.Acknowledged)
	for c := range NumCauses {
		if r.Excused[c] != 0 || r.Survived[c] != 0 {
			fmt.Fprintf(&b, "; %v: %d excused, %d survived", c, r.Excused[c], r.Survived[c])
		}
	}
	return b.String()
}

// Check applies rules to the record and returns the report and an error
// naming every LPI whose account does not balance: an acknowledgement
// with no delivery of its own (duplicated), one whose only deliveries a
// removal ruled [Drops] came after (a ghost), or a last delivery before a
// barrier or the end that nothing followed (lost). Call it once every
// operation has finished and every CPU was drained.
func (l *Ledger) Check(rules Rules) (*Report, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := make([]model.INTID, 0, len(l.lpis))
	for id := range l.lpis {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	rep := &Report{}
	var errs []error
	for _, id := range ids {
		p := l.lpis[id]
		rep.Delivered += len(p.delivered)
		rep.Acknowledged += len(p.acked)
		if err := p.check(rules, l.barriers, rep); err != nil {
			errs = append(errs, fmt.Errorf("LPI %d: %w", id, err))
		}
	}
	return rep, errors.Join(errs...)
}

// effect is what r does to the pending state under rules.
func (r removal) effect(rules Rules) Effect {
	e := rules[r.cause]
	if e == Drops && !r.certain {
		return MayDrop
	}
	return e
}

func (p *ledgerLPI) check(rules Rules, barriers []barrier, rep *Report) error {
	if err := p.matchAcknowledgements(rules, rep); err != nil {
		return err
	}
	return p.checkLast(rules, barriers, rep)
}

// latestBefore returns the removal of effect e that ended before seq and
// began last, and whether there is one.
func (p *ledgerLPI) latestBefore(rules Rules, e Effect, certainOnly bool, seq uint64) (removal, bool) {
	var best removal
	found := false
	for _, r := range p.removed {
		if r.effect(rules) == e && (r.certain || !certainOnly) && r.end < seq && (!found || r.start > best.start) {
			best, found = r, true
		}
	}
	return best, found
}

// matchAcknowledgements gives every acknowledgement a delivery of its own,
// earliest-ending first, and counts those that survived a removal.
func (p *ledgerLPI) matchAcknowledgements(rules Rules, rep *Report) error {
	acks := slices.Clone(p.acked)
	slices.SortFunc(acks, func(a, b span) int { return cmp.Compare(a.end, b.end) })
	dels := slices.Clone(p.delivered)
	slices.SortFunc(dels, func(a, b span) int { return cmp.Compare(a.end, b.end) })
	used := make([]bool, len(dels))
	for i, a := range acks {
		// The latest start of an acknowledgement wholly before a: what
		// a consumes was made pending after that one cleared it.
		var after uint64
		for _, b := range acks[:i] {
			if b.end < a.start {
				after = max(after, b.start)
			}
		}
		// A removal that drops, wholly before a, cleared it too.
		strict := after
		drop, dropped := p.latestBefore(rules, Drops, false, a.start)
		if dropped {
			strict = max(strict, drop.start)
		}
		j := slices.IndexFunc(dels, func(d span) bool { return d.start < a.end && d.end > strict })
		for j >= 0 && used[j] {
			k := slices.IndexFunc(dels[j+1:], func(d span) bool { return d.start < a.end && d.end > strict })
			if k < 0 {
				j = -1
				break
			}
			j += 1 + k
		}
		if j < 0 {
			if dropped && slices.ContainsFunc(dels, func(d span) bool { return d.start < a.end && d.end > after }) {
				return fmt.Errorf("acknowledged at [%d,%d] though %v at [%d,%d] came after every delivery it could consume, and %v drops: a ghost", a.start, a.end, drop.cause, drop.start, drop.end, drop.cause)
			}
			return fmt.Errorf("acknowledged at [%d,%d] with no delivery of its own (%d deliveries, %d acknowledgements): duplicated", a.start, a.end, len(p.delivered), len(p.acked))
		}
		used[j] = true
		if may, ok := p.latestBefore(rules, MayDrop, true, a.start); ok && !slices.ContainsFunc(dels, func(d span) bool { return d.start < a.end && d.end > max(strict, may.start) }) {
			rep.Survived[may.cause]++
		}
	}
	return nil
}

// checkLast finds, before every barrier and before the end, the LPI's last
// delivery and an acknowledgement or a removal that may drop it after.
func (p *ledgerLPI) checkLast(rules Rules, barriers []barrier, rep *Report) error {
	const end = ^uint64(0)
	prev := uint64(0)
	for _, bar := range append(slices.Clone(barriers), barrier{end, "the end"}) {
		b := bar.seq
		var last span
		found := false
		for _, d := range p.delivered {
			if d.start > prev && d.end < b && (!found || d.start > last.start) {
				last, found = d, true
			}
		}
		prev = b
		if !found {
			continue
		}
		if slices.ContainsFunc(p.acked, func(a span) bool { return a.end > last.start && a.end < b }) {
			continue
		}
		var why removal
		excused := false
		for _, r := range p.removed {
			if e := r.effect(rules); e != Keeps && r.end > last.start && r.end < b && (!excused || r.start > why.start) {
				why, excused = r, true
			}
		}
		if !excused {
			where := "the end"
			if b != end {
				where = fmt.Sprintf("the barrier at %d (%s)", b, bar.name)
			}
			return fmt.Errorf("delivered at [%d,%d] and neither acknowledged nor removed before %s: lost", last.start, last.end, where)
		}
		rep.Excused[why.cause]++
	}
	return nil
}
