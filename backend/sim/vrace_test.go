package sim_test

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gicits/gicits/model"
)

// No vLPI is lost while its vPE is scheduled and descheduled under it:
// MSIs for distinct vLPIs race a redistributor toggling the vPE's
// residency (with and without IDAI), on the cached and the walking path;
// once the storm is over and the vPE scheduled, every vLPI sent is
// pending for it, exactly once (the vPE then acknowledges each once).
func TestVLPIsSurviveResidencyChanges(t *testing.T) {
	vmodes(t, func(t *testing.T, v *venv) {
		const n = 64
		v.vmapp(1, 0)
		var cmds []model.Command
		v.must(model.MAPD{DeviceID: 2, Size: 5, ITTAddr: v.itt(6), Valid: true})
		for ev := range n {
			cmds = append(cmds, model.VMAPTI{DeviceID: 2, EventID: model.EventID(ev), VINTID: 8192 + model.INTID(ev), VPEID: 1, Doorbell: model.NoDoorbell})
		}
		v.must(cmds...)
		for round := range 20 {
			var stop atomic.Bool
			var toggler sync.WaitGroup
			toggler.Add(1)
			go func() {
				defer toggler.Done()
				for i := 0; !stop.Load(); i++ {
					v.schedule(0, 1, i%3 == 0)
					v.deschedule(0)
				}
			}()
			var senders sync.WaitGroup
			for g := range 4 {
				senders.Add(1)
				go func() {
					defer senders.Done()
					for ev := g; ev < n; ev += 4 {
						if _, err := v.b.SignalMSI(v.msiOf(2, model.EventID(ev))); err != nil {
							t.Error(err)
						}
					}
				}()
			}
			senders.Wait()
			stop.Store(true)
			toggler.Wait()
			v.schedule(0, 1, round%2 == 0)
			if got := v.vpending(0); len(got) != n {
				t.Fatalf("round %d: %d vLPIs pending after the storm, want %d: lost %v", round, len(got), n, missing(got, n))
			}
			for range n {
				if id := v.vack(0); id == model.SpuriousINTID {
					t.Fatalf("round %d: a pending vLPI was not acknowledged", round)
				}
			}
			if id := v.vack(0); id != model.SpuriousINTID {
				t.Fatalf("round %d: vLPI %d acknowledged twice", round, id)
			}
			v.deschedule(0)
		}
	})
}

func missing(got []model.INTID, n int) []model.INTID {
	var out []model.INTID
	for id := model.INTID(8192); id < 8192+model.INTID(n); id++ {
		if !slices.Contains(got, id) {
			out = append(out, id)
		}
	}
	return out
}
