package stress

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
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
	// MSIPause is slept between two MSIs of one sender (0: none). A
	// backend whose MSIs are much cheaper than its acknowledgements (KVM
	// under nested emulation) needs it to keep the run about churn.
	MSIPause time.Duration
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
	return o
}

// Result is what a [Run] did.
type Result struct {
	Ledger                    *ledger.Ledger
	Delivered, Acknowledged   int
	MOVIs, Discards, Remapped int
}

// dev is the one device whose events a run maps and signals.
const dev = model.DeviceID(1)

// lpi returns the LPI event ev is mapped to.
func lpi(ev int) model.INTID { return model.LPIBase + model.INTID(ev) }

// Run maps Events events of device 1 to LPIs spread over every CPU's
// collection, then for opt.Duration has Senders goroutines signal MSIs
// while one goroutine per CPU acknowledges and EOIs, and another moves
// events (MOVI), discards and re-maps them (DISCARD + MAPTI) and re-maps
// the whole device (MAPD). It drains every CPU at the end and returns the
// ledger, already checked: the error says which LPI was lost or
// duplicated. b must be freshly opened.
func Run(ctx context.Context, b model.Backend, opt Options) (*Result, error) {
	s := &run{b: b, opt: opt.withDefaults(), caps: b.Capabilities(), layout: b.Layout(), led: ledger.New()}
	s.cpus = s.caps.CPUs
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
	s.drain()
	return s.result()
}

// run is the state of one [Run].
type run struct {
	b      model.Backend
	opt    Options
	caps   model.Capabilities
	layout model.Layout
	cpus   int
	led    *ledger.Ledger
	res    *Result

	// mapd maps the device; mapAll maps each event (MAPTI), spreading
	// them over the collections. The churn re-issues both.
	mapd   model.MAPD
	mapAll []model.Command

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
		if err := model.SetLPIConfig(b, lpi(ev), model.MakeLPIConfig(0xa0, true)); err != nil {
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
	return nil
}

// send is sender g: it signals MSIs of random events until ctx ends,
// recording each delivery in the ledger.
func (s *run) send(ctx context.Context, g int) {
	rng := rand.New(rand.NewPCG(s.opt.Seed, uint64(g)))
	for ctx.Err() == nil {
		ev := rng.IntN(s.opt.Events)
		m := s.caps.Prepare(model.MSI{Doorbell: s.layout.Doorbell(), Data: uint32(ev), DeviceID: dev})
		start := s.led.Begin()
		d, err := s.b.SignalMSI(m)
		if err != nil {
			s.fail(fmt.Errorf("SignalMSI(ev %d): %w", ev, err))
			return
		}
		if d == model.Delivered {
			s.led.Delivered(lpi(ev), start)
		}
		if s.opt.MSIPause > 0 {
			time.Sleep(s.opt.MSIPause)
		}
	}
}

// ack acknowledges one LPI on cpu, records it and EOIs it. It reports
// whether there was one.
func (s *run) ack(cpu model.CPU) (bool, error) {
	start := s.led.Begin()
	id, err := s.b.Acknowledge(cpu)
	if err != nil || id == model.SpuriousINTID {
		return false, err
	}
	s.led.Acknowledged(id, start)
	return true, s.b.EOI(cpu, id)
}

// acknowledge is CPU c's consumer: it acknowledges until ctx ends.
func (s *run) acknowledge(ctx context.Context, c int) {
	for ctx.Err() == nil {
		if _, err := s.ack(model.CPU(c)); err != nil {
			s.fail(fmt.Errorf("CPU %d: %w", c, err))
			return
		}
	}
}

// churn re-maps until ctx ends: of 20 operations on a random event, 9 MOVI
// it to a random collection, 10 DISCARD it and MAPTI it again, and 1
// re-maps the whole device (MAPD, then every MAPTI).
func (s *run) churn(ctx context.Context) {
	rng := rand.New(rand.NewPCG(s.opt.Seed, 1<<32))
	all := make([]model.INTID, s.opt.Events)
	for ev := range all {
		all[ev] = lpi(ev)
	}
	for ctx.Err() == nil {
		if err := s.churnOnce(rng, all); err != nil {
			s.fail(fmt.Errorf("churn: %w", err))
			break
		}
	}
}

// churnOnce makes one churn operation; all are every LPI of the device.
func (s *run) churnOnce(rng *rand.Rand, all []model.INTID) error {
	b, res := s.b, s.res
	ev := rng.IntN(s.opt.Events)
	var err error
	switch r := rng.IntN(20); {
	case r < 9:
		err = model.SubmitCommands(b, model.MOVI{DeviceID: dev, EventID: model.EventID(ev), ICID: model.ICID(rng.IntN(s.cpus))})
		res.MOVIs++
	case r < 19:
		start := s.led.Begin()
		err = model.SubmitCommands(b, model.DISCARD{DeviceID: dev, EventID: model.EventID(ev)})
		s.led.Removed(ledger.Discard, start, lpi(ev))
		if err == nil {
			err = model.SubmitCommands(b, model.MAPTI{DeviceID: dev, EventID: model.EventID(ev), INTID: lpi(ev), ICID: model.ICID(rng.IntN(s.cpus))})
		}
		res.Discards++
	default:
		start := s.led.Begin()
		err = model.SubmitCommands(b, s.mapd)
		s.led.Removed(ledger.Remap, start, all...)
		if err == nil {
			err = model.SubmitCommands(b, s.mapAll...)
		}
		res.Remapped++
	}
	return err
}

// drain acknowledges every LPI still pending on every CPU.
func (s *run) drain() {
	for c := range s.cpus {
		for {
			more, err := s.ack(model.CPU(c))
			if err != nil {
				s.fail(fmt.Errorf("drain CPU %d: %w", c, err))
			}
			if !more {
				break
			}
		}
	}
}

// result totals the ledger and returns the run's errors, or else the
// ledger's check.
func (s *run) result() (*Result, error) {
	res := s.res
	res.Delivered, res.Acknowledged = s.led.Totals()
	if err := errors.Join(s.errs...); err != nil {
		return res, err
	}
	if res.Delivered == 0 {
		return res, errors.New("stress: no MSI was delivered")
	}
	// The zero rules take every removal as one that may drop: what
	// this package always claimed.
	_, err := s.led.Check(ledger.Rules{})
	return res, err
}
