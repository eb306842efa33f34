package ledger

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
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
// every LPI is followed by an acknowledgement or by a removal (DISCARD, a
// re-MAPD) that may legitimately drop it.
//
// Each operation is recorded as a span of a global sequence: call Begin
// before the operation and the matching method after it. Safe for
// concurrent use.
type Ledger struct {
	seq atomic.Uint64

	mu   sync.Mutex
	lpis map[model.INTID]*ledgerLPI
}

type span struct{ start, end uint64 }

type ledgerLPI struct {
	delivered, acked, removed []span
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

// Removed records that a command begun at start may have dropped the
// pending state of ids (DISCARD, MAPD of a mapped device).
func (l *Ledger) Removed(start uint64, ids ...model.INTID) {
	s := span{start, l.seq.Add(1)}
	l.mu.Lock()
	for _, id := range ids {
		l.lpi(id).removed = append(l.lpi(id).removed, s)
	}
	l.mu.Unlock()
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

// Check returns an error naming every LPI whose account does not balance.
// Call it once every operation has finished and every CPU was drained.
func (l *Ledger) Check() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := make([]model.INTID, 0, len(l.lpis))
	for id := range l.lpis {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var errs []error
	for _, id := range ids {
		if err := l.lpis[id].check(); err != nil {
			errs = append(errs, fmt.Errorf("LPI %d: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

func (p *ledgerLPI) check() error {
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
		found := false
		for j, d := range dels {
			if !used[j] && d.start < a.end && d.end > after {
				used[j], found = true, true
				break
			}
		}
		if !found {
			return fmt.Errorf("acknowledged at [%d,%d] with no delivery of its own (%d deliveries, %d acknowledgements): duplicated", a.start, a.end, len(p.delivered), len(p.acked))
		}
	}
	if len(p.delivered) == 0 {
		return nil
	}
	last := slices.MaxFunc(p.delivered, func(a, b span) int { return cmp.Compare(a.start, b.start) })
	for _, c := range append(slices.Clone(p.acked), p.removed...) {
		if c.end > last.start {
			return nil
		}
	}
	return fmt.Errorf("delivered at [%d,%d] and never acknowledged or removed afterwards: lost", last.start, last.end)
}
