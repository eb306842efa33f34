package its

import (
	"fmt"
	"sort"
	"sync"

	"github.com/gicits/gicits/model"
)

// Link makes itses the ITSes sharing one set of redistributors: each one's
// peers, with one board for the VMOVPs that software must send to several
// of them (GITS_TYPER.VMOVP = 0). Call it once, before use, with every
// ITS in number order.
func Link(itses []*ITS) {
	board := &moveBoard{moves: map[model.VPEID]*move{}}
	for _, t := range itses {
		t.mu.Lock()
		t.peers, t.board = itses, board
		t.mu.Unlock()
	}
}

// tellPeers runs what commands left for the other ITSes (after a VMOVP
// with GITS_TYPER.VMOVP = 1, their records and VTEs follow the move their
// deliveries already made). It runs after mu is released, so that two
// ITSes telling each other never wait on each other's lock, and before
// WriteRegister returns.
func (t *ITS) tellPeers() {
	t.mu.Lock()
	fns := t.deferred
	t.deferred = nil
	t.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// followVMOVP brings this ITS's record and VTE of vPE vpeid, if it maps
// it, to the redistributor it now delivers to: another ITS executed a
// VMOVP with GITS_TYPER.VMOVP = 1 and moved every ITS's deliveries. The
// target is read from the redistributors, not passed: of two concurrent
// VMOVPs of one vPE on two ITSes, the last to move the deliveries wins
// on every ITS, records included.
func (t *ITS) followVMOVP(vpeid model.VPEID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v := t.vpes[vpeid]
	if v == nil || !v.valid {
		return
	}
	rd, ok := t.vrd.VPETarget(v.handle, t.number)
	if addr, why := t.vteAddr(vpeid); why == "" && ok {
		t.retargetVPE(vpeid, addr, rd)
	}
}

// moveBoard follows the VMOVPs of GITS_TYPER.VMOVP = 0: software sends
// the same VMOVP, with one SequenceNumber and the ITSList of every ITS
// that maps the vPE, to each of those ITSes, and the move is complete when
// all have executed it. A VMOVP with another SequenceNumber while a move
// still waits for some ITS breaks that rule (UNPREDICTABLE): the model
// reports it, and starts the new move.
type moveBoard struct {
	mu    sync.Mutex
	moves map[model.VPEID]*move
}

type move struct {
	seq        uint16
	list, done uint16 // ITS_Number bits
}

// record notes that ITS number executed VMOVP (seq, list) of vpeid, and
// returns an error when a move with another sequence number was still
// waiting for some of its ITSes.
func (b *moveBoard) record(vpeid model.VPEID, seq, list uint16, number int) error {
	if b == nil {
		return nil // one ITS: nothing to coordinate
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var late error
	m := b.moves[vpeid]
	if m != nil && (m.seq != seq || m.list != list) {
		late = fmt.Errorf("VMOVP of vPE %d with SequenceNumber %d, ITSList %#04x while the move with SequenceNumber %d still waits for ITSes %v: UNPREDICTABLE: %w", vpeid, seq, list, m.seq, bitsOf(m.list&^m.done), model.ErrInvalidArgument)
		m = nil
	}
	if m == nil {
		m = &move{seq: seq, list: list}
		b.moves[vpeid] = m
	}
	m.done |= 1 << number
	if m.done&m.list == m.list {
		delete(b.moves, vpeid)
	}
	return late
}

// waiting returns the ITS numbers an incomplete move of vpeid waits for,
// ascending (nil when none).
func (b *moveBoard) waiting(vpeid model.VPEID) []int {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if m := b.moves[vpeid]; m != nil {
		return bitsOf(m.list &^ m.done)
	}
	return nil
}

func bitsOf(v uint16) []int {
	var out []int
	for i := range 16 {
		if v>>i&1 != 0 {
			out = append(out, i)
		}
	}
	sort.Ints(out)
	return out
}
