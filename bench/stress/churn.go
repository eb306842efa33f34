package stress

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"

	"github.com/gicits/gicits/bench/ledger"
	"github.com/gicits/gicits/model"
)

// Op is one kind of churn operation.
type Op int

const (
	// MOVI moves a random event to a random collection.
	MOVI Op = iota
	// Discard DISCARDs a random event (a removal) and maps it again
	// (MAPTI) to a random collection.
	Discard
	// Remap re-maps the device (MAPD V=1 while mapped: a removal of
	// every event) and maps every event again on collection event mod
	// CPUs; on an unmapped device it only maps it again.
	Remap
	// Unmap unmaps the device (MAPD V=0: a removal of every event); it
	// stays unmapped, its MSIs blocked, until a Remap. While it is
	// unmapped, an operation that needs a mapped event runs a Remap
	// instead.
	Unmap
	// MAPC retargets a random collection to a random CPU (MAPC V=1 of a
	// mapped collection), moving its events' LPIs.
	MAPC
	// MOVALL moves every LPI targeting a random CPU to another.
	MOVALL
	// INV toggles a random event's LPI's enable bit in the configuration
	// table and issues INV. A disabled LPI stays pending, unacknowledged,
	// until it is enabled again.
	INV
	// EnableLPIs clears and sets GICR_CTLR.EnableLPIs of a random CPU:
	// two register writes, with MSIs racing the window between them
	// (refused with ErrBusy, counted) and no command in it, since the
	// architecture ignores commands involving LPIs of a redistributor
	// whose EnableLPIs is 0 (IHI 0069, GICR_CTLR). A removal of every
	// LPI that may target the CPU.
	EnableLPIs
	// NumOps is the number of kinds.
	NumOps
)

var opNames = [NumOps]string{"MOVI", "DISCARD+MAPTI", "MAPD re-map", "MAPD V=0", "MAPC", "MOVALL", "INV", "EnableLPIs toggle"}

func (op Op) String() string {
	if op >= 0 && op < NumOps {
		return opNames[op]
	}
	return fmt.Sprintf("Op(%d)", int(op))
}

// Mix weighs the churn's operations: each operation is op with
// probability Mix[op] / the sum of all.
type Mix [NumOps]int

// DefaultMix is issue 7's churn: of 20 operations, 9 MOVI, 10 DISCARD +
// MAPTI and 1 MAPD re-map.
var DefaultMix = Mix{MOVI: 9, Discard: 10, Remap: 1}

// FullMix has every operation: MSIs race DISCARD, MOVI, MAPD re-map and
// unmap, MAPC, MOVALL, INV after an enable-bit toggle and EnableLPIs
// toggles.
var FullMix = Mix{MOVI: 6, Discard: 6, Remap: 1, Unmap: 1, MAPC: 2, MOVALL: 2, INV: 4, EnableLPIs: 2}

// String lists the operations of weight above zero with their weights.
func (m Mix) String() string {
	var parts []string
	for op, w := range m {
		if w > 0 {
			parts = append(parts, fmt.Sprintf("%v %d", Op(op), w))
		}
	}
	return strings.Join(parts, ", ")
}

// pick returns the operation r (0 <= r < the sum of m) falls on.
func (m Mix) pick(r int) Op {
	for op, w := range m {
		if r < w {
			return Op(op)
		}
		r -= w
	}
	panic("stress: Mix.pick out of range")
}

func (m Mix) total() int {
	n := 0
	for _, w := range m {
		n += w
	}
	return n
}

// mapping is what the churn knows of the ITS and the LPIs: which CPU each
// collection maps to, each event's collection and enable bit, whether the
// device is mapped, and the CPUs each event's LPI may target.
//
// The target is a set because KVM does not always retarget: MAPTI of an
// INTID whose struct vgic_irq lives on after DISCARD or MAPD (it was
// pending on a vCPU's list: the discard-pending difference) gets that
// vgic_irq back from vgic_add_lpi untouched, target and all, so the LPI
// may target its old CPU or the new collection's until a MOVI, or a MAPC
// of its collection, sets it. MOVALL moves the LPIs targeting RDbase1
// only, as the architecture says; KVM since 2024 moves every LPI, which
// is the same thing with two CPUs.
type mapping struct {
	coll     []int         // collection (ICID) → CPU
	icid     []model.ICID  // event → collection
	targets  []uint64      // event → bit set of the CPUs its LPI may target
	disabled []bool        // event → enable bit clear in the configuration table
	unmapped bool          // the device is unmapped (MAPD V=0)
	all      []model.INTID // every event's LPI
}

func newMapping(cpus, events int) mapping {
	m := mapping{coll: make([]int, cpus), icid: make([]model.ICID, events), targets: make([]uint64, events), disabled: make([]bool, events)}
	for c := range cpus {
		m.coll[c] = c
	}
	for ev := range events {
		m.icid[ev] = model.ICID(ev % cpus)
		m.targets[ev] = 1 << (ev % cpus)
		m.all = append(m.all, lpi(ev))
	}
	return m
}

// mapped records that ev was mapped (MAPTI) to collection icid: a new LPI
// targets the collection's CPU, a living one keeps its target.
func (m *mapping) mapped(ev int, icid model.ICID) {
	m.icid[ev] = icid
	m.targets[ev] |= 1 << m.coll[icid]
}

// moved records that ev was moved (MOVI) to collection icid.
func (m *mapping) moved(ev int, icid model.ICID) {
	m.icid[ev] = icid
	m.targets[ev] = 1 << m.coll[icid]
}

// retargeted records MAPC of collection icid to cpu: its mapped events'
// LPIs now target cpu.
func (m *mapping) retargeted(icid model.ICID, cpu int) {
	m.coll[icid] = cpu
	if m.unmapped {
		return
	}
	for ev, c := range m.icid {
		if c == icid {
			m.targets[ev] = 1 << cpu
		}
	}
}

// movedAll records MOVALL from → to.
func (m *mapping) movedAll(from, to int) {
	for ev, t := range m.targets {
		if t&(1<<from) != 0 {
			m.targets[ev] = t&^(1<<from) | 1<<to
		}
	}
}

// targeting returns the LPIs that surely target cpu and those that may.
func (m *mapping) targeting(cpu int) (surely, maybe []model.INTID) {
	for ev, t := range m.targets {
		switch {
		case t == 1<<cpu:
			surely = append(surely, lpi(ev))
		case t&(1<<cpu) != 0:
			maybe = append(maybe, lpi(ev))
		}
	}
	return surely, maybe
}

// churn runs operations of the mix until ctx ends: first one of each,
// in random order, so that a short run on a slow backend still races
// every one with the MSIs, then picked by weight.
func (s *run) churn(ctx context.Context) {
	rng := rand.New(rand.NewPCG(s.opt.Seed, 1<<32))
	total := s.opt.Mix.total()
	var first []Op
	for op, w := range s.opt.Mix {
		if w > 0 {
			first = append(first, Op(op))
		}
	}
	rng.Shuffle(len(first), func(i, j int) { first[i], first[j] = first[j], first[i] })
	for ctx.Err() == nil {
		op := s.opt.Mix.pick(rng.IntN(total))
		if len(first) > 0 {
			op, first = first[0], first[1:]
		}
		if s.st.unmapped && (op == MOVI || op == Discard || op == INV || op == Unmap) {
			op = Remap
		}
		if op == MOVALL && s.cpus < 2 {
			op = MOVI
		}
		if err := s.do(op, rng); err != nil {
			s.fail(fmt.Errorf("churn: %v: %w", op, err))
			return
		}
		s.res.Ops[op]++
		runtime.Gosched()
	}
}

// do makes one operation op on random events, collections and CPUs.
func (s *run) do(op Op, rng *rand.Rand) error {
	ev := rng.IntN(s.opt.Events)
	icid := model.ICID(rng.IntN(s.cpus))
	switch op {
	case MOVI:
		return s.movi(ev, icid)
	case Discard:
		return s.discard([]int{ev}, []model.ICID{icid})
	case Remap:
		return s.remap()
	case Unmap:
		return s.unmap()
	case MAPC:
		return s.mapc(icid, rng.IntN(s.cpus))
	case MOVALL:
		from := rng.IntN(s.cpus)
		return s.movall(from, (from+1+rng.IntN(s.cpus-1))%s.cpus)
	case INV:
		return s.setEnabled([]int{ev}, s.st.disabled[ev])
	case EnableLPIs:
		return s.toggleLPIs(rng.IntN(s.cpus))
	}
	return fmt.Errorf("unknown operation %v", op)
}

func (s *run) submit(cmds ...model.Command) error { return model.SubmitCommands(s.b, cmds...) }

func (s *run) movi(ev int, icid model.ICID) error {
	if err := s.submit(model.MOVI{DeviceID: dev, EventID: model.EventID(ev), ICID: icid}); err != nil {
		return err
	}
	s.st.moved(ev, icid)
	return nil
}

// discard DISCARDs events evs (one removal) and maps each again on the
// collection of the same index in icids.
func (s *run) discard(evs []int, icids []model.ICID) error {
	discards := make([]model.Command, len(evs))
	maps := make([]model.Command, len(evs))
	ids := make([]model.INTID, len(evs))
	for i, ev := range evs {
		discards[i] = model.DISCARD{DeviceID: dev, EventID: model.EventID(ev)}
		maps[i] = model.MAPTI{DeviceID: dev, EventID: model.EventID(ev), INTID: lpi(ev), ICID: icids[i]}
		ids[i] = lpi(ev)
	}
	start := s.led.Begin()
	err := s.submit(discards...)
	s.led.Removed(ledger.Discard, start, ids...)
	if err != nil {
		return err
	}
	if err := s.submit(maps...); err != nil {
		return err
	}
	for i, ev := range evs {
		s.st.mapped(ev, icids[i])
	}
	return nil
}

// remap maps the device again (a removal of every event if it was mapped)
// and every event on collection event mod CPUs.
func (s *run) remap() error {
	start := s.led.Begin()
	err := s.submit(s.mapd)
	if !s.st.unmapped {
		s.led.Removed(ledger.Remap, start, s.st.all...)
	}
	if err != nil {
		return err
	}
	s.st.unmapped = false
	if err := s.submit(s.mapAll...); err != nil {
		return err
	}
	for ev := range s.opt.Events {
		s.st.mapped(ev, model.ICID(ev%s.cpus))
	}
	return nil
}

func (s *run) unmap() error {
	unmap := s.mapd
	unmap.Valid = false
	start := s.led.Begin()
	err := s.submit(unmap)
	s.led.Removed(ledger.Unmap, start, s.st.all...)
	s.st.unmapped = true
	return err
}

func (s *run) mapc(icid model.ICID, cpu int) error {
	if err := s.submit(model.MAPC{ICID: icid, RDbase: uint64(cpu), Valid: true}); err != nil {
		return err
	}
	s.st.retargeted(icid, cpu)
	return nil
}

func (s *run) movall(from, to int) error {
	if err := s.submit(model.MOVALL{RDbase1: uint64(from), RDbase2: uint64(to)}); err != nil {
		return err
	}
	s.st.movedAll(from, to)
	return nil
}

// setEnabled writes the enable bit of events evs' LPIs in the
// configuration table and issues INV for each.
func (s *run) setEnabled(evs []int, enabled bool) error {
	invs := make([]model.Command, len(evs))
	for i, ev := range evs {
		if err := model.SetLPIConfig(s.b, lpi(ev), model.MakeLPIConfig(priority, enabled)); err != nil {
			return err
		}
		s.st.disabled[ev] = !enabled
		invs[i] = model.INV{DeviceID: dev, EventID: model.EventID(ev)}
	}
	return s.submit(invs...)
}

// toggleLPIs clears and sets GICR_CTLR.EnableLPIs of cpu: a removal of
// the LPIs that surely target it, and a possible one of those that may.
func (s *run) toggleLPIs(cpu int) error {
	if s.opt.EOIOutsideToggles {
		s.cpuMu[cpu].Lock()
		defer s.cpuMu[cpu].Unlock()
	}
	c := model.CPU(cpu)
	start := s.led.Begin()
	ctlr, err := s.b.ReadRedistributorRegister(c, model.GICR_CTLR)
	if err == nil {
		err = s.b.WriteRedistributorRegister(c, model.GICR_CTLR, ctlr&^model.GICR_CTLR_EnableLPIs)
	}
	if err == nil {
		runtime.Gosched() // let MSIs and acknowledgements into the window
		err = model.EnableLPIs(s.b, c)
	}
	surely, maybe := s.st.targeting(cpu)
	s.led.Removed(ledger.EnableLPIs, start, surely...)
	s.led.MayHaveRemoved(ledger.EnableLPIs, start, maybe...)
	return err
}
