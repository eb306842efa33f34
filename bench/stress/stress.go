package stress

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gicits/gicits/bench/ledger"
	"github.com/gicits/gicits/model"
)

// Options shape [Run].
type Options struct {
	Senders  int           // goroutines signalling MSIs; 0 means 4
	Events   int           // events of the one device, LPIs 8192..; 0 means 64
	Duration time.Duration // how long the churn runs; 0 means 300 ms
	Seed     uint64
	// MSIPause is slept between two MSIs of one sender; with 0 the
	// sender only yields the processor after each MSI, as the consumers
	// do when their CPU had nothing and the churn after each operation,
	// so that on a small machine no role starves the others. A backend
	// whose MSIs are much cheaper than its acknowledgements (KVM under
	// nested emulation) needs a pause to keep the run about churn.
	MSIPause time.Duration
	// AckPause is slept by a consumer after an Acknowledge that found
	// nothing, before it polls its CPU again; with 0 it only yields the
	// processor. A backend whose Acknowledge is costly and serialised
	// with its commands (KVM: a vCPU round trip under the backend's lock)
	// needs it, or polling consumers leave the churn no turn.
	AckPause time.Duration
	// EOIOutsideToggles keeps every EnableLPIs toggle of a CPU apart
	// from its consumer's Acknowledge and EOI: the toggle waits until
	// the consumer has EOId what it acknowledged, and the consumer waits
	// for the toggle, so no LPI is active on a CPU while its EnableLPIs
	// is 0. KVM wedges an LPI whose EOI comes in that window (it stays
	// active and is never signalled again; backend/kvm's
	// TestRaceEOIWhileLPIsDisabled), so a run on KVM that is not about
	// that finding sets it.
	EOIOutsideToggles bool
	// Mix weighs the churn's operations; the zero Mix means DefaultMix.
	Mix Mix
	// Rules say what each removal does to a pending LPI on the backend
	// (see [ledger.Rules]); the zero value rules every removal
	// [ledger.MayDrop].
	Rules ledger.Rules
}

// withDefaults returns o with its zero fields set to their defaults.
func (o Options) withDefaults() Options {
	if o.Senders == 0 {
		o.Senders = 4
	}
	if o.Events == 0 {
		o.Events = 64
	}
	if o.Duration == 0 {
		o.Duration = 300 * time.Millisecond
	}
	if o.Mix == (Mix{}) {
		o.Mix = DefaultMix
	}
	return o
}

// Result is what a [Run] did.
type Result struct {
	Ledger *ledger.Ledger
	// Report is the ledger's check: totals and, per cause of removal,
	// the deliveries it excused and the acknowledgements that survived it.
	Report                  *ledger.Report
	Delivered, Acknowledged int
	// Ops counts the churn's operations by kind (an operation that
	// needs the device mapped while it is not counts as the Remap that
	// ran instead); MOVIs, Discards and Remapped repeat three of them.
	Ops                       [NumOps]int
	MOVIs, Discards, Remapped int
	// Busy counts MSIs refused with model.ErrBusy because their target's
	// LPIs were disabled (only with EnableLPIs in the mix).
	Busy int
	// Probed lists the operations the end of the run probed, in order.
	Probed []Op
}

// String lists the counts of every operation that ran, and the busy MSIs.
func (r *Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d delivered, %d acknowledged, %d busy; churn:", r.Delivered, r.Acknowledged, r.Busy)
	for op, n := range r.Ops {
		if n > 0 {
			fmt.Fprintf(&b, " %v %d,", Op(op), n)
		}
	}
	return strings.TrimSuffix(b.String(), ",")
}

// dev is the one device whose events a run maps and signals.
const dev = model.DeviceID(1)

// lpi returns the LPI event ev is mapped to.
func lpi(ev int) model.INTID { return model.LPIBase + model.INTID(ev) }

// Run maps Events events of device 1 to LPIs spread over every CPU's
// collection, then for opt.Duration has Senders goroutines signal MSIs
// while one goroutine per CPU acknowledges and EOIs, and another churns
// through the operations of opt.Mix. It then restores the mapping, drains
// every CPU, probes each operation of the mix once with every LPI pending
// (see [Op]), sends one last MSI per event and drains again, and returns
// the result with the ledger checked under opt.Rules: the error says
// which LPI was lost, duplicated or acknowledged after a removal that
// drops it. b must be freshly opened.
func Run(ctx context.Context, b model.Backend, opt Options) (*Result, error) {
	s := &run{b: b, opt: opt.withDefaults(), caps: b.Capabilities(), layout: b.Layout(), led: ledger.New()}
	s.cpus = s.caps.CPUs
	s.cpuMu = make([]sync.Mutex, s.cpus)
	s.res = &Result{Ledger: s.led}
	if err := s.setup(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opt.Duration)
	defer cancel()
	var wg sync.WaitGroup
	for g := range s.opt.Senders {
		wg.Go(func() { s.send(ctx, g) })
	}
	for c := range s.cpus {
		wg.Go(func() { s.acknowledge(ctx, c) })
	}
	s.churn(ctx)
	cancel()
	wg.Wait()
	if len(s.errs) == 0 {
		s.finish()
	}
	return s.result()
}

// run is the state of one [Run].
type run struct {
	b   model.Backend
	opt Options
	// cpuMu[c] is held across CPU c's Acknowledge and EOI, and across
	// a toggle of its EnableLPIs, when Options.EOIOutsideToggles asks.
	cpuMu  []sync.Mutex
	caps   model.Capabilities
	layout model.Layout
	cpus   int
	led    *ledger.Ledger
	res    *Result
	busy   atomic.Int64

	// mapd maps the device; mapAll maps each event (MAPTI), spreading
	// them over the collections. The churn re-issues both.
	mapd   model.MAPD
	mapAll []model.Command
	// st is what the churn knows of the mapping; only the goroutine
	// running Run touches it.
	st mapping

	errMu sync.Mutex
	errs  []error
}

// fail records err; the run goes on and Run returns every error.
func (s *run) fail(err error) {
	s.errMu.Lock()
	s.errs = append(s.errs, err)
	s.errMu.Unlock()
}

// setup enables LPIs on every CPU, maps one collection per CPU and the
// device with an ITT for its events, and maps each event to its LPI, on
// collection event mod CPUs.
func (s *run) setup() error {
	b, opt := s.b, s.opt
	bits := 1
	for 1<<bits < opt.Events {
		bits++
	}
	itt, err := s.layout.ITTAllocator().Alloc(model.ITTSize(bits, s.caps.ITTEntrySize), 256)
	if err != nil {
		return err
	}
	for c := range s.cpus {
		if err := model.EnableLPIs(b, model.CPU(c)); err != nil {
			return err
		}
	}
	setup := []model.Command{}
	for c := range s.cpus {
		setup = append(setup, model.MAPC{ICID: model.ICID(c), RDbase: uint64(c), Valid: true})
	}
	s.mapd = model.MAPD{DeviceID: dev, Size: uint8(bits - 1), ITTAddr: itt, Valid: true}
	s.mapAll = []model.Command{}
	for ev := range opt.Events {
		if err := model.SetLPIConfig(b, lpi(ev), model.MakeLPIConfig(priority, true)); err != nil {
			return err
		}
		s.mapAll = append(s.mapAll, model.MAPTI{DeviceID: dev, EventID: model.EventID(ev), INTID: lpi(ev), ICID: model.ICID(ev % s.cpus)})
	}
	setup = append(setup, s.mapd)
	setup = append(setup, s.mapAll...)
	setup = append(setup, model.SYNC{RDbase: 0})
	if err := model.SubmitCommands(b, setup...); err != nil {
		return fmt.Errorf("stress set-up: %w", err)
	}
	s.st = newMapping(s.cpus, opt.Events)
	return nil
}

// priority is every LPI's priority.
const priority = 0xa0

// send is sender g: it signals MSIs of random events until ctx ends,
// recording each delivery in the ledger.
func (s *run) send(ctx context.Context, g int) {
	rng := rand.New(rand.NewPCG(s.opt.Seed, uint64(g)))
	for ctx.Err() == nil {
		if err := s.signal(rng.IntN(s.opt.Events)); err != nil {
			s.fail(err)
			return
		}
		if s.opt.MSIPause > 0 {
			time.Sleep(s.opt.MSIPause)
		} else {
			runtime.Gosched()
		}
	}
}

// signal sends event ev's MSI and records a delivery. An MSI the target
// refuses because its LPIs are disabled is counted, and an error only
// when the mix never disables them.
func (s *run) signal(ev int) error {
	m := s.caps.Prepare(model.MSI{Doorbell: s.layout.Doorbell(), Data: uint32(ev), DeviceID: dev})
	start := s.led.Begin()
	d, err := s.b.SignalMSI(m)
	switch {
	case err != nil && errors.Is(err, model.ErrBusy) && s.opt.Mix[EnableLPIs] > 0:
		s.busy.Add(1)
	case err != nil:
		return fmt.Errorf("SignalMSI(ev %d): %w", ev, err)
	case d == model.Delivered:
		s.led.Delivered(lpi(ev), start)
	}
	return nil
}

// ack acknowledges one LPI on cpu, records it and EOIs it. It returns
// the LPI, or SpuriousINTID when there was none.
func (s *run) ack(cpu model.CPU) (model.INTID, error) {
	if s.opt.EOIOutsideToggles {
		s.cpuMu[cpu].Lock()
		defer s.cpuMu[cpu].Unlock()
	}
	start := s.led.Begin()
	id, err := s.b.Acknowledge(cpu)
	if err != nil || id == model.SpuriousINTID {
		return model.SpuriousINTID, err
	}
	s.led.Acknowledged(id, start)
	return id, s.b.EOI(cpu, id)
}

// acknowledge is CPU c's consumer: it acknowledges until ctx ends,
// pausing (Options.AckPause) or yielding the processor when the CPU had
// nothing, so that polling consumers do not starve the churn.
func (s *run) acknowledge(ctx context.Context, c int) {
	for ctx.Err() == nil {
		id, err := s.ack(model.CPU(c))
		if err != nil {
			s.fail(fmt.Errorf("CPU %d: %w", c, err))
			return
		}
		switch {
		case id != model.SpuriousINTID:
		case s.opt.AckPause > 0:
			time.Sleep(s.opt.AckPause)
		default:
			runtime.Gosched()
		}
	}
}

// drain acknowledges every LPI still pending on every CPU and returns
// them.
func (s *run) drain() []model.INTID {
	var got []model.INTID
	for c := range s.cpus {
		for {
			id, err := s.ack(model.CPU(c))
			if err != nil {
				s.fail(fmt.Errorf("drain CPU %d: %w", c, err))
			}
			if id == model.SpuriousINTID {
				break
			}
			got = append(got, id)
		}
	}
	return got
}

// result totals the ledger, checks it, and returns the run's errors and
// the ledger's.
func (s *run) result() (*Result, error) {
	res := s.res
	res.Delivered, res.Acknowledged = s.led.Totals()
	res.Busy = int(s.busy.Load())
	res.MOVIs, res.Discards, res.Remapped = res.Ops[MOVI], res.Ops[Discard], res.Ops[Remap]
	rep, err := s.led.Check(s.opt.Rules)
	res.Report = rep
	if runErr := errors.Join(s.errs...); runErr != nil {
		if err != nil {
			// What the ledger says of a run cut short may be the cut's
			// doing (a drain that did not run): it comes second.
			return res, errors.Join(runErr, fmt.Errorf("and the ledger of the run cut short: %w", err))
		}
		return res, runErr
	}
	if res.Delivered == 0 {
		return res, errors.New("stress: no MSI was delivered")
	}
	return res, err
}
