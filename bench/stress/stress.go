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

// Result is what a [Run] did.
type Result struct {
	Ledger                    *ledger.Ledger
	Delivered, Acknowledged   int
	MOVIs, Discards, Remapped int
}

// Run maps Events events of device 1 to LPIs spread over every CPU's
// collection, then for opt.Duration has Senders goroutines signal MSIs
// while one goroutine per CPU acknowledges and EOIs, and another moves
// events (MOVI), discards and re-maps them (DISCARD + MAPTI) and re-maps
// the whole device (MAPD). It drains every CPU at the end and returns the
// ledger, already checked: the error says which LPI was lost or
// duplicated. b must be freshly opened.
func Run(ctx context.Context, b model.Backend, opt Options) (*Result, error) {
	if opt.Senders == 0 {
		opt.Senders = 4
	}
	if opt.Events == 0 {
		opt.Events = 64
	}
	if opt.Duration == 0 {
		opt.Duration = 300 * time.Millisecond
	}
	caps := b.Capabilities()
	cpus := caps.CPUs
	l := b.Layout()
	const dev = model.DeviceID(1)
	bits := 1
	for 1<<bits < opt.Events {
		bits++
	}
	itt, err := l.ITTAllocator().Alloc(model.ITTSize(bits, caps.ITTEntrySize), 256)
	if err != nil {
		return nil, err
	}
	lpi := func(ev int) model.INTID { return model.LPIBase + model.INTID(ev) }
	for c := range cpus {
		if err := b.EnableLPIs(model.CPU(c)); err != nil {
			return nil, err
		}
	}
	setup := []model.Command{}
	for c := range cpus {
		setup = append(setup, model.MAPC{ICID: model.ICID(c), RDbase: uint64(c), Valid: true})
	}
	mapd := model.MAPD{DeviceID: dev, Size: uint8(bits - 1), ITTAddr: itt, Valid: true}
	mapAll := []model.Command{}
	for ev := range opt.Events {
		if err := b.SetLPIConfig(lpi(ev), model.MakeLPIConfig(0xa0, true)); err != nil {
			return nil, err
		}
		mapAll = append(mapAll, model.MAPTI{DeviceID: dev, EventID: model.EventID(ev), INTID: lpi(ev), ICID: model.ICID(ev % cpus)})
	}
	setup = append(setup, mapd)
	setup = append(setup, mapAll...)
	setup = append(setup, model.SYNC{RDbase: 0})
	if err := b.SubmitCommands(setup...); err != nil {
		return nil, fmt.Errorf("stress set-up: %w", err)
	}

	led := ledger.New()
	res := &Result{Ledger: led}
	var errMu sync.Mutex
	var errs []error
	fail := func(err error) {
		errMu.Lock()
		errs = append(errs, err)
		errMu.Unlock()
	}
	ctx, cancel := context.WithTimeout(ctx, opt.Duration)
	defer cancel()
	var wg sync.WaitGroup
	for g := range opt.Senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(opt.Seed, uint64(g)))
			for ctx.Err() == nil {
				ev := rng.IntN(opt.Events)
				m := caps.Prepare(model.MSI{Doorbell: l.Doorbell(), Data: uint32(ev), DeviceID: dev})
				s := led.Begin()
				d, err := b.SignalMSI(m)
				if err != nil {
					fail(fmt.Errorf("SignalMSI(ev %d): %w", ev, err))
					return
				}
				if d == model.Delivered {
					led.Delivered(lpi(ev), s)
				}
				if opt.MSIPause > 0 {
					time.Sleep(opt.MSIPause)
				}
			}
		}()
	}
	ack := func(cpu model.CPU) (bool, error) {
		s := led.Begin()
		id, err := b.Acknowledge(cpu)
		if err != nil || id == model.SpuriousINTID {
			return false, err
		}
		led.Acknowledged(id, s)
		return true, b.EOI(cpu, id)
	}
	for c := range cpus {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if _, err := ack(model.CPU(c)); err != nil {
					fail(fmt.Errorf("CPU %d: %w", c, err))
					return
				}
			}
		}()
	}
	rng := rand.New(rand.NewPCG(opt.Seed, 1<<32))
	all := make([]model.INTID, opt.Events)
	for ev := range all {
		all[ev] = lpi(ev)
	}
	for ctx.Err() == nil {
		ev := rng.IntN(opt.Events)
		var err error
		switch r := rng.IntN(20); {
		case r < 9:
			err = b.SubmitCommands(model.MOVI{DeviceID: dev, EventID: model.EventID(ev), ICID: model.ICID(rng.IntN(cpus))})
			res.MOVIs++
		case r < 19:
			s := led.Begin()
			err = b.SubmitCommands(model.DISCARD{DeviceID: dev, EventID: model.EventID(ev)})
			led.Removed(s, lpi(ev))
			if err == nil {
				err = b.SubmitCommands(model.MAPTI{DeviceID: dev, EventID: model.EventID(ev), INTID: lpi(ev), ICID: model.ICID(rng.IntN(cpus))})
			}
			res.Discards++
		default:
			s := led.Begin()
			err = b.SubmitCommands(mapd)
			led.Removed(s, all...)
			if err == nil {
				err = b.SubmitCommands(mapAll...)
			}
			res.Remapped++
		}
		if err != nil {
			fail(fmt.Errorf("churn: %w", err))
			break
		}
	}
	cancel()
	wg.Wait()
	for c := range cpus {
		for {
			more, err := ack(model.CPU(c))
			if err != nil {
				fail(fmt.Errorf("drain CPU %d: %w", c, err))
			}
			if !more {
				break
			}
		}
	}
	res.Delivered, res.Acknowledged = led.Totals()
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	if res.Delivered == 0 {
		return res, errors.New("stress: no MSI was delivered")
	}
	return res, led.Check()
}
