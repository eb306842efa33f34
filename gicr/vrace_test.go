package gicr_test

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gicits/gicits/gicr"
	"github.com/gicits/gicits/model"
)

// A delivery to a vPE that is not scheduled which races a CLEAR (DISCARD,
// VMOVI: revoke, then ClearVirtualPending) leaves no trace once the
// clear has returned: the VPT bit is set only if the record is pending.
// Other vLPIs of the vPE are delivered and cleared meanwhile, so the
// vPE's lock is contended, as a busy guest's would be.
func TestVirtualDeliveryRacingClear(t *testing.T) {
	ram, err := model.NewRAM(0, 16<<20)
	must(t, err)
	r, err := gicr.New(ram, 1, 16)
	must(t, err)
	must(t, r.WriteRegister(0, model.GICR_PROPBASER, 0x100000|15))
	must(t, r.WriteRegister(0, model.GICR_PENDBASER, 0x200000))
	must(t, r.WriteRegister(0, model.GICR_CTLR, model.GICR_CTLR_EnableLPIs))
	r.EnableVirtual()
	const vpt = model.GPA(0x400000)
	h, err := r.VPEHandle(vpt)
	must(t, err)
	must(t, r.SetVPETarget(h, 0, 0))
	const vintid = model.INTID(8192)
	for k := range model.INTID(72) {
		must(t, r.MapVLPI(h, vintid+k))
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(8)) // more preemption inside the window
	var stop atomic.Bool
	var busy sync.WaitGroup
	for g := range 3 {
		busy.Add(1)
		go func() {
			defer busy.Done()
			for k := 0; !stop.Load(); k++ {
				id := vintid + 8 + model.INTID((k*3+g)%64) // other bytes of the VPT than vintid's
				_ = r.SetVirtualPending(h, 0, id, model.NoDoorbell)
				r.ClearVirtualPending(h, id)
			}
		}()
	}
	defer func() { stop.Store(true); busy.Wait() }()
	rounds := 150000
	if testing.Short() || raceEnabled {
		rounds = 10000
	}
	for round := range rounds {
		gen := r.VirtualGeneration(h, vintid)
		var race sync.WaitGroup
		start := make(chan struct{})
		race.Add(2)
		go func() { defer race.Done(); <-start; _, _, _ = r.PendVirtualTranslated(h, 0, vintid, gen) }()
		go func() {
			defer race.Done()
			<-start
			r.RevokeVirtualTranslations(h, vintid)
			r.ClearVirtualPending(h, vintid)
		}()
		close(start)
		race.Wait()
		var b [1]byte
		must(t, ram.ReadAt(b[:], vpt+model.GPA(vintid/8)))
		if pending := r.ClearVirtualPending(h, vintid); b[0]&1 != 0 && !pending {
			t.Fatalf("round %d: the VPT bit is set after the clear returned, and the record is not pending", round)
		}
		if round%1024 == 0 {
			runtime.Gosched()
		}
	}
}
