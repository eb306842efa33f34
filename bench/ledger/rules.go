package ledger

import "fmt"

// Cause is an operation that may remove an LPI's pending state.
type Cause uint8

const (
	// Discard is DISCARD of the LPI's event (IHI 0069, 6.3.4: the
	// pending state is removed).
	Discard Cause = iota
	// Unmap is MAPD V=0 of the LPI's device.
	Unmap
	// Remap is MAPD V=1 of the LPI's device while it is mapped, which
	// discards every event of the device first.
	Remap
	// EnableLPIs is GICR_CTLR.EnableLPIs cleared and set again on the
	// CPU the LPI targets: the span runs from the write of 0 to the end
	// of the write of 1.
	EnableLPIs
	// NumCauses is the number of causes.
	NumCauses
)

var causeNames = [NumCauses]string{"DISCARD", "MAPD V=0", "MAPD re-map", "EnableLPIs toggle"}

func (c Cause) String() string {
	if c < NumCauses {
		return causeNames[c]
	}
	return fmt.Sprintf("Cause(%d)", uint8(c))
}

// Effect is what a cause does to a pending LPI on a backend.
type Effect uint8

const (
	// MayDrop: the pending state may be dropped or kept. A removal
	// excuses a missing acknowledgement, and an acknowledgement after it
	// of a delivery before it is allowed and counted
	// ([Report.Survived]). The zero Effect, so that the zero [Rules]
	// accept what the ledger always did.
	MayDrop Effect = iota
	// Drops: the pending state is dropped. A removal excuses a missing
	// acknowledgement, and an acknowledgement wholly after it must
	// consume a delivery that ended after it began: one that only a
	// delivery before it could explain is an error (a ghost).
	Drops
	// Keeps: the pending state survives. A removal of this cause is no
	// removal at all: it excuses nothing.
	Keeps
)

var effectNames = [...]string{"may drop", "drops", "keeps"}

func (e Effect) String() string {
	if int(e) < len(effectNames) {
		return effectNames[e]
	}
	return fmt.Sprintf("Effect(%d)", uint8(e))
}

// Rules say, per [Cause], what it does to a pending LPI on the backend
// under test: write them as Rules{ledger.Discard: ledger.Drops, ...}. The
// zero value rules every cause [MayDrop].
type Rules [NumCauses]Effect

// String lists every cause with its effect.
func (r Rules) String() string {
	s := ""
	for c, e := range r {
		if c > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%v %v", Cause(c), e)
	}
	return s
}
