package stress

import (
	"fmt"

	"github.com/gicits/gicits/model"
)

// probeOrder is the order in which finish probes the operations of the
// mix: the moves, the enable bits, then the removals.
var probeOrder = []Op{MOVI, MAPC, MOVALL, INV, EnableLPIs, Discard, Unmap, Remap}

// finish ends a run whose churn and consumers have stopped. It restores a
// known mapping and drains every CPU (a ledger barrier); then, for each
// operation of the mix, it makes every LPI pending with one MSI per event,
// applies the operation to every event (or collection, or CPU) at once,
// drains and sets a barrier, so that what the operation does to a pending
// LPI is checked on every LPI, not left to the chance of the churn; last
// it sends one MSI per event and drains, so every LPI's last delivery is
// one that must be acknowledged.
func (s *run) finish() {
	if err := s.restore(); err != nil {
		s.fail(fmt.Errorf("restoring the mapping: %w", err))
		return
	}
	s.drain()
	s.led.Barrier("the churn, restored and drained")
	for _, op := range probeOrder {
		if s.opt.Mix[op] == 0 || (op == MOVALL && s.cpus < 2) {
			continue
		}
		if err := s.probe(op); err != nil {
			s.fail(fmt.Errorf("probe %v: %w", op, err))
			return
		}
		s.res.Probed = append(s.res.Probed, op)
	}
	if err := s.signalAll(); err != nil {
		s.fail(fmt.Errorf("last round: %w", err))
		return
	}
	s.drain()
}

// restore maps the device if it is unmapped, enables every LPI and
// settles every event's target.
func (s *run) restore() error {
	if s.st.unmapped {
		if err := s.remap(); err != nil {
			return err
		}
	}
	var off []int
	for ev, disabled := range s.st.disabled {
		if disabled {
			off = append(off, ev)
		}
	}
	if len(off) > 0 {
		if err := s.setEnabled(off, true); err != nil {
			return err
		}
	}
	return s.settle()
}

// settle moves every event to the collection it is on (MOVI), which is
// architecturally nothing but makes KVM set the target of an LPI that
// kept its old one through a MAPTI (see mapping): afterwards every LPI
// surely targets one CPU.
func (s *run) settle() error {
	cmds := make([]model.Command, s.opt.Events)
	for ev := range cmds {
		cmds[ev] = model.MOVI{DeviceID: dev, EventID: model.EventID(ev), ICID: s.st.icid[ev]}
	}
	if err := s.submit(cmds...); err != nil {
		return err
	}
	for ev := range cmds {
		s.st.moved(ev, s.st.icid[ev])
	}
	return nil
}

// signalAll sends one MSI per event; every one must be delivered.
func (s *run) signalAll() error {
	for ev := range s.opt.Events {
		m := s.caps.Prepare(model.MSI{Doorbell: s.layout.Doorbell(), Data: uint32(ev), DeviceID: dev})
		start := s.led.Begin()
		d, err := s.b.SignalMSI(m)
		if err != nil {
			return fmt.Errorf("SignalMSI(ev %d): %w", ev, err)
		}
		if d != model.Delivered {
			return fmt.Errorf("MSI of event %d: %v, want %v", ev, d, model.Delivered)
		}
		s.led.Delivered(lpi(ev), start)
	}
	return nil
}

// probe makes every LPI pending, applies op to all of them, drains and
// sets a barrier.
func (s *run) probe(op Op) error {
	if err := s.signalAll(); err != nil {
		return err
	}
	if err := s.applyToAll(op); err != nil {
		return err
	}
	s.drain()
	s.led.Barrier(fmt.Sprintf("the probe of %v", op))
	return nil
}

// applyToAll applies op to every event, collection or CPU.
func (s *run) applyToAll(op Op) error {
	all := make([]int, s.opt.Events)
	for ev := range all {
		all[ev] = ev
	}
	switch op {
	case MOVI:
		cmds := make([]model.Command, len(all))
		for ev := range all {
			cmds[ev] = model.MOVI{DeviceID: dev, EventID: model.EventID(ev), ICID: (s.st.icid[ev] + 1) % model.ICID(s.cpus)}
		}
		if err := s.submit(cmds...); err != nil {
			return err
		}
		for ev := range all {
			s.st.moved(ev, (s.st.icid[ev]+1)%model.ICID(s.cpus))
		}
		return nil
	case MAPC:
		for icid := range s.cpus {
			if err := s.mapc(model.ICID(icid), (s.st.coll[icid]+1)%s.cpus); err != nil {
				return err
			}
		}
		return nil
	case MOVALL:
		for from := range s.cpus - 1 {
			if err := s.movall(from, from+1); err != nil {
				return err
			}
		}
		return nil
	case INV:
		return s.probeDisabled(all)
	case EnableLPIs:
		for c := range s.cpus {
			if err := s.toggleLPIs(c); err != nil {
				return err
			}
		}
		return nil
	case Discard:
		if err := s.discard(all, s.st.icid); err != nil {
			return err
		}
	case Unmap:
		if err := s.unmap(); err != nil {
			return err
		}
		if err := s.remap(); err != nil {
			return err
		}
	case Remap:
		if err := s.remap(); err != nil {
			return err
		}
	}
	return s.settle()
}

// probeDisabled disables every LPI (enable bit, INV), checks that no CPU
// acknowledges one, and enables them again: each stays pending, to be
// acknowledged in the drain after.
func (s *run) probeDisabled(all []int) error {
	if err := s.setEnabled(all, false); err != nil {
		return err
	}
	if got := s.drain(); len(got) > 0 {
		return fmt.Errorf("acknowledged %v while disabled in the configuration table", got)
	}
	return s.setEnabled(all, true)
}
