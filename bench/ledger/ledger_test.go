package ledger

import (
	"strings"
	"testing"
)

// The ledger catches a lost and a duplicated LPI and accepts coalescing.
func TestLedger(t *testing.T) {
	l := New()
	// 8192: two deliveries coalesced into one acknowledgement.
	l.Delivered(8192, l.Begin())
	l.Delivered(8192, l.Begin())
	l.Acknowledged(8192, l.Begin())
	// 8193: delivered once, acknowledged twice.
	l.Delivered(8193, l.Begin())
	l.Acknowledged(8193, l.Begin())
	l.Acknowledged(8193, l.Begin())
	// 8194: delivered after its acknowledgement and never again.
	l.Delivered(8194, l.Begin())
	l.Acknowledged(8194, l.Begin())
	l.Delivered(8194, l.Begin())
	// 8195: delivered, then discarded.
	l.Delivered(8195, l.Begin())
	l.Removed(Discard, l.Begin(), 8195)
	rep, err := l.Check(Rules{})
	if err == nil {
		t.Fatal("Check passed")
	}
	msg := err.Error()
	for _, want := range []string{"LPI 8193: ", "duplicated", "LPI 8194: ", "lost"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Check: %v; want it to mention %q", err, want)
		}
	}
	for _, ok := range []string{"LPI 8192", "LPI 8195"} {
		if strings.Contains(msg, ok) {
			t.Errorf("Check: %v; %s balances", err, ok)
		}
	}
	if d, a := l.Totals(); d != 6 || a != 4 {
		t.Errorf("Totals = %d, %d", d, a)
	}
	if rep.Delivered != 6 || rep.Acknowledged != 4 {
		t.Errorf("Report = %v", rep)
	}
}

// lpi is the one LPI of the rule cases.
const lpi = 8192

// step is one recorded operation of a rule case.
type step func(l *Ledger)

var (
	deliver   step = func(l *Ledger) { l.Delivered(lpi, l.Begin()) }
	ack       step = func(l *Ledger) { l.Acknowledged(lpi, l.Begin()) }
	drained   step = func(l *Ledger) { l.Barrier("drained") }
	discard        = removed(Discard)
	toggle         = removed(EnableLPIs)
	mayToggle step = func(l *Ledger) { l.MayHaveRemoved(EnableLPIs, l.Begin(), lpi) }
)

func removed(c Cause) step { return func(l *Ledger) { l.Removed(c, l.Begin(), lpi) } }

// overlapping records a delivery (or acknowledgement, when acked) whose
// span encloses the removal of cause c.
func overlapping(c Cause, acked bool) step {
	return func(l *Ledger) {
		start := l.Begin()
		l.Removed(c, l.Begin(), lpi)
		if acked {
			l.Acknowledged(lpi, start)
		} else {
			l.Delivered(lpi, start)
		}
	}
}

// Each case runs under the rules it is about and under another set (flip)
// that differs in the rule it is about. Where the two outcomes differ the
// case fails if that rule is dropped or misread; where they agree it
// shows the rule stays out of the way (or, for barriers, that no rule
// hides a loss).
func TestRules(t *testing.T) {
	// The simulator's rules and KVM's (backend/sim and backend/kvm's race
	// tests say why).
	sim := Rules{Discard: Drops, Unmap: Drops, Remap: Drops, EnableLPIs: Keeps}
	kvm := Rules{Discard: MayDrop, Unmap: MayDrop, Remap: MayDrop, EnableLPIs: Drops}
	for _, c := range []struct {
		name        string
		steps       []step
		rules, flip Rules
		want        string         // error under rules; "": it passes
		wantFlip    string         // error under flip; "": it passes
		excused     [NumCauses]int // under rules
		survived    [NumCauses]int // under rules
	}{{
		name:     "DISCARD drops the pending state",
		steps:    []step{deliver, discard},
		rules:    sim,
		flip:     Rules{Discard: Keeps},
		wantFlip: "lost",
		excused:  [NumCauses]int{Discard: 1},
	}, {
		name:     "an acknowledgement after a dropping DISCARD is a ghost",
		steps:    []step{deliver, discard, ack},
		rules:    sim,
		flip:     kvm,
		want:     "DISCARD at [3,4] came after every delivery it could consume, and DISCARD drops: a ghost",
		wantFlip: "",
	}, {
		name:     "KVM's discard-pending: the acknowledgement survives DISCARD, counted",
		steps:    []step{deliver, discard, ack},
		rules:    kvm,
		flip:     sim,
		wantFlip: "a ghost",
		survived: [NumCauses]int{Discard: 1},
	}, {
		name:     "a delivery after DISCARD explains the acknowledgement",
		steps:    []step{deliver, discard, deliver, ack},
		rules:    sim,
		flip:     Rules{Discard: Keeps},
		wantFlip: "", // passes either way: the rule must not get in the way
	}, {
		name:     "a delivery overlapping DISCARD may have landed after it",
		steps:    []step{deliver, overlapping(Discard, false), ack},
		rules:    sim,
		flip:     kvm,
		wantFlip: "",
	}, {
		name:     "an acknowledgement overlapping DISCARD may have taken it first",
		steps:    []step{deliver, overlapping(Discard, true)},
		rules:    sim,
		flip:     kvm,
		wantFlip: "",
	}, {
		name:     "KVM drops what targets a CPU when EnableLPIs is set again",
		steps:    []step{deliver, toggle},
		rules:    kvm,
		flip:     sim,
		wantFlip: "lost",
		excused:  [NumCauses]int{EnableLPIs: 1},
	}, {
		name:     "the simulator keeps it: acknowledged after the toggle",
		steps:    []step{deliver, toggle, ack},
		rules:    sim,
		flip:     kvm,
		wantFlip: "EnableLPIs toggle drops: a ghost",
	}, {
		name:     "a toggle of a CPU the LPI may not target drops nothing for sure",
		steps:    []step{deliver, mayToggle, ack},
		rules:    kvm,
		flip:     Rules{EnableLPIs: Keeps},
		wantFlip: "",
	}, {
		name:     "but it may have, so it excuses",
		steps:    []step{deliver, mayToggle},
		rules:    kvm,
		flip:     Rules{EnableLPIs: Keeps},
		wantFlip: "lost",
		excused:  [NumCauses]int{EnableLPIs: 1},
	}, {
		name:     "a barrier finds the loss a later delivery hides",
		steps:    []step{deliver, drained, deliver, ack},
		rules:    sim,
		flip:     sim,
		want:     "delivered at [1,2] and neither acknowledged nor removed before the barrier at 3 (drained): lost",
		wantFlip: "delivered at [1,2] and neither acknowledged nor removed before the barrier at 3 (drained): lost",
	}, {
		name:     "a removal before a barrier excuses what came before it",
		steps:    []step{deliver, discard, drained, deliver, ack},
		rules:    sim,
		flip:     Rules{Discard: Keeps},
		wantFlip: "before the barrier at 5 (drained): lost",
		excused:  [NumCauses]int{Discard: 1},
	}, {
		name:     "a removal after the barrier excuses nothing before it",
		steps:    []step{deliver, drained, discard},
		rules:    sim,
		flip:     sim,
		want:     "before the barrier at 3 (drained): lost",
		wantFlip: "before the barrier at 3 (drained): lost",
	}} {
		t.Run(c.name, func(t *testing.T) {
			run := func(rules Rules) (*Report, error) {
				l := New()
				for _, s := range c.steps {
					s(l)
				}
				return l.Check(rules)
			}
			rep, err := run(c.rules)
			checkErr(t, "under its rule", err, c.want)
			if err == nil && (rep.Excused != c.excused || rep.Survived != c.survived) {
				t.Errorf("report %v; want excused %v, survived %v", rep, c.excused, c.survived)
			}
			_, err = run(c.flip)
			checkErr(t, "under the other rule", err, c.wantFlip)
		})
	}
}

func checkErr(t *testing.T, when string, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%s: Check: %v; want it to pass", when, err)
	case want != "" && err == nil:
		t.Errorf("%s: Check passed; want %q", when, want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("%s: Check: %v; want %q", when, err, want)
	}
}

func TestCauseAndEffectNames(t *testing.T) {
	if got := (Rules{EnableLPIs: Keeps}).String(); got != "DISCARD may drop, MAPD V=0 may drop, MAPD re-map may drop, EnableLPIs toggle keeps" {
		t.Errorf("Rules.String = %q", got)
	}
	if got := Cause(9).String() + " " + Effect(9).String(); got != "Cause(9) Effect(9)" {
		t.Errorf("out of range: %q", got)
	}
}

func TestHistory(t *testing.T) {
	l := New()
	l.Delivered(8192, l.Begin())
	l.Barrier("drained")
	l.MayHaveRemoved(EnableLPIs, l.Begin(), 8192)
	l.Acknowledged(8192, l.Begin())
	l.Delivered(8193, l.Begin())
	want := "[1,2] delivered\n3 barrier: drained\n[4,5] EnableLPIs toggle (may not apply)\n[6,7] acknowledged\n"
	if got := l.History(8192); got != want {
		t.Errorf("History:\n%s\nwant:\n%s", got, want)
	}
}
