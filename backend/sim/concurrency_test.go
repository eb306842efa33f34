package sim_test

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gicits/gicits/model"
)

// TestConcurrentMSIsAndCommands sends MSIs from several goroutines while
// another moves, discards and remaps events and each CPU acknowledges. At the
// end every LPI delivered after its last removal must have been
// acknowledged after that delivery began, and no LPI acknowledged more often
// than it was delivered. Run it with -race.
func TestConcurrentMSIsAndCommands(t *testing.T) {
	modes(t, func(t *testing.T, cfg model.Config) {
		e := open(t, cfg)
		e.enable(0, 1)
		const events = 64
		for ev := range events {
			e.config(0xA0, true, model.LPIBase+model.INTID(ev))
		}
		itt := e.itt(6)
		mapAll := []model.Command{model.MAPD{DeviceID: 1, Size: 5, ITTAddr: itt, Valid: true}}
		for ev := range events {
			mapAll = append(mapAll, model.MAPTI{DeviceID: 1, EventID: model.EventID(ev), INTID: model.LPIBase + model.INTID(ev), ICID: model.ICID(ev % 2)})
		}
		e.must(model.MAPC{ICID: 0, RDbase: 0, Valid: true}, model.MAPC{ICID: 1, RDbase: 1, Valid: true})
		e.must(mapAll...)

		var seq atomic.Uint64
		var mu sync.Mutex
		var delivered, acked [events]int
		var lastDelivery, lastAck, lastRemoval [events]uint64
		stop := make(chan struct{})
		var senders, others sync.WaitGroup

		for g := range 4 {
			senders.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(g), 1))
				for {
					select {
					case <-stop:
						return
					default:
					}
					ev := rng.IntN(events)
					s := seq.Add(1)
					d, err := e.b.SignalMSI(e.msiOf(1, model.EventID(ev)))
					if err != nil {
						t.Errorf("SignalMSI: %v", err)
						return
					}
					if d == model.Delivered {
						mu.Lock()
						delivered[ev]++
						lastDelivery[ev] = max(lastDelivery[ev], s)
						mu.Unlock()
					}
				}
			})
		}
		ack := func(cpu model.CPU) bool {
			id, err := e.b.Acknowledge(cpu)
			if err != nil {
				t.Error(err)
				return false
			}
			if id == model.SpuriousINTID {
				return false
			}
			s := seq.Add(1)
			ev := int(id - model.LPIBase)
			mu.Lock()
			acked[ev]++
			lastAck[ev] = max(lastAck[ev], s)
			mu.Unlock()
			if err := e.b.EOI(cpu, id); err != nil {
				t.Error(err)
			}
			return true
		}
		for cpu := range model.CPU(2) {
			others.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
						ack(cpu)
					}
				}
			})
		}
		removed := func(evs ...int) {
			s := seq.Add(1)
			mu.Lock()
			for _, ev := range evs {
				lastRemoval[ev] = s
			}
			mu.Unlock()
		}
		rng := rand.New(rand.NewPCG(9, 9))
		deadline := time.Now().Add(300 * time.Millisecond)
		for time.Now().Before(deadline) {
			ev := rng.IntN(events)
			switch rng.IntN(3) {
			case 0:
				e.must(model.MOVI{DeviceID: 1, EventID: model.EventID(ev), ICID: model.ICID(rng.IntN(2))})
			case 1:
				e.must(model.DISCARD{DeviceID: 1, EventID: model.EventID(ev)})
				removed(ev)
				e.must(model.MAPTI{DeviceID: 1, EventID: model.EventID(ev), INTID: model.LPIBase + model.INTID(ev), ICID: model.ICID(rng.IntN(2))})
			case 2:
				if rng.IntN(20) == 0 {
					e.must(model.MAPD{DeviceID: 1, Size: 5, ITTAddr: itt, Valid: true})
					all := make([]int, events)
					for i := range all {
						all[i] = i
					}
					removed(all...)
					e.must(mapAll[1:]...)
				}
			}
		}
		close(stop)
		senders.Wait()
		others.Wait()
		for cpu := range model.CPU(2) {
			for ack(cpu) {
			}
		}
		total := 0
		for ev := range events {
			total += delivered[ev]
			if acked[ev] > delivered[ev] {
				t.Errorf("LPI %d acknowledged %d times, delivered %d", model.LPIBase+model.INTID(ev), acked[ev], delivered[ev])
			}
			if lastDelivery[ev] > lastRemoval[ev] && lastAck[ev] < lastDelivery[ev] {
				l, _ := e.b.Redistributors().LookupLPI(model.LPIBase + model.INTID(ev))
				t.Errorf("LPI %d: delivered at %d after its last removal at %d, but last acknowledged at %d: lost (now %+v)", model.LPIBase+model.INTID(ev), lastDelivery[ev], lastRemoval[ev], lastAck[ev], l)
			}
		}
		if total == 0 {
			t.Error("no MSI was delivered")
		}
		t.Logf("%d MSIs delivered", total)
	})
}
