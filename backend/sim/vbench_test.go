package sim_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gicits/gicits/backend/sim"
	"github.com/gicits/gicits/model"
)

// vbenchWorld is a GICv4.0 simulator with n events mapped either to
// physical LPIs (alternating between CPUs 0 and 1, as benchWorld's) or to
// vLPIs of two vPEs scheduled on CPUs 0 and 1, keys in the same random
// order: the two differ only in what the events translate to.
type vbenchWorld struct {
	b    *sim.Backend
	keys []model.MSI
}

var vworlds = map[string]*vbenchWorld{}

func vworld(tb testing.TB, n int, virtual bool) *vbenchWorld {
	key := fmt.Sprintf("%d/%v", n, virtual)
	if w := vworlds[key]; w != nil {
		return w
	}
	l := benchLayout()
	b, err := sim.New(model.Config{CPUs: 2, Layout: l, ITSTyper: model.GICv4ITSTyper})
	if err != nil {
		tb.Fatal(err)
	}
	e := &env{t: tb, b: b, alloc: l.ITTAllocator()}
	e.enable(0, 1)
	bits := 14
	for 1<<bits < int(model.LPIBase)+n {
		bits++
	}
	vprop, err := e.alloc.Alloc(1<<bits, 64<<10)
	must(tb, err)
	for i := range n {
		must(tb, model.SetLPIConfig(b, model.LPIBase+model.INTID(i), model.MakeLPIConfig(0xA0, true)))
		must(tb, b.Memory().WriteAt([]byte{byte(model.MakeLPIConfig(0xA0, true))}, vprop+model.GPA(i)))
	}
	var cmds []model.Command
	if virtual {
		for vpe := range 2 {
			vpt, err := e.alloc.Alloc(1<<bits/8, 64<<10)
			must(tb, err)
			cmds = append(cmds, model.VMAPP{VPEID: model.VPEID(vpe), RDbase: uint64(vpe), VPTAddr: vpt, VPTSize: uint8(bits - 1), Valid: true})
			prop, err := model.MakeVPropBaser(vprop, bits)
			must(tb, err)
			pend, err := model.MakeVPendBaser(vpt, true, false)
			must(tb, err)
			must(tb, b.WriteRedistributorRegister(model.CPU(vpe), model.GICR_VPROPBASER, uint64(prop)))
			must(tb, b.WriteRedistributorRegister(model.CPU(vpe), model.GICR_VPENDBASER, uint64(pend)))
		}
	} else {
		cmds = append(cmds, model.MAPC{ICID: 0, RDbase: 0, Valid: true}, model.MAPC{ICID: 1, RDbase: 1, Valid: true})
	}
	e.must(cmds...)
	cmds = cmds[:0]
	for d := 0; d*eventsPerDevice < n; d++ {
		cmds = append(cmds, model.MAPD{DeviceID: model.DeviceID(d), Size: 9, ITTAddr: e.itt(10), Valid: true})
		for ev := 0; ev < eventsPerDevice && d*eventsPerDevice+ev < n; ev++ {
			i := d*eventsPerDevice + ev
			id := model.LPIBase + model.INTID(i)
			if virtual {
				cmds = append(cmds, model.VMAPTI{DeviceID: model.DeviceID(d), EventID: model.EventID(ev), VINTID: id, VPEID: model.VPEID(i % 2), Doorbell: model.NoDoorbell})
			} else {
				cmds = append(cmds, model.MAPTI{DeviceID: model.DeviceID(d), EventID: model.EventID(ev), INTID: id, ICID: model.ICID(i % 2)})
			}
		}
		e.must(cmds...)
		cmds = cmds[:0]
	}
	w := &vbenchWorld{b: b}
	for _, i := range rand.New(rand.NewPCG(1, 2)).Perm(n) {
		w.keys = append(w.keys, e.msiOf(model.DeviceID(i/eventsPerDevice), model.EventID(i%eventsPerDevice)))
	}
	for _, m := range w.keys { // fill the translation cache
		if d, err := b.SignalMSI(m); d != model.Delivered || err != nil {
			tb.Fatalf("warm-up %v: %v %v", m, d, err)
		}
	}
	if got := b.ITS().TranslationCacheLen(); got != n {
		tb.Fatalf("%d translations cached after the warm-up, want %d: the benchmark would not measure the cached path", got, n)
	}
	w.clear()
	vworlds[key] = w
	return w
}

func (w *vbenchWorld) clear() {
	w.b.Redistributors().ClearAllPending()
	w.b.Redistributors().ClearAllVirtualPending()
}

// BenchmarkSignalVLPI measures SignalMSI of events mapped to vLPIs of
// vPEs scheduled where they are delivered (the GICv4.0 direct injection
// path), against the same events mapped to physical LPIs, side by side in
// one run on the same GICv4.0 simulator, translation cache warm, keys in
// random order, pending state cleared off the clock after each pass. The
// target is x-physical <= 2: a vLPI to a resident vPE costs at most twice
// a physical LPI.
func BenchmarkSignalVLPI(b *testing.B) {
	for _, n := range []struct {
		name string
		n    int
	}{{"1K", 1 << 10}, {"1M", 1 << 20}} {
		for _, kind := range []string{"physical", "virtual"} {
			b.Run(n.name+"/"+kind, func(b *testing.B) {
				w := vworld(b, n.n, kind == "virtual")
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if d, err := w.b.SignalMSI(w.keys[i]); d != model.Delivered || err != nil {
						b.Fatalf("%v: %v %v", w.keys[i], d, err)
					}
					if i++; i == len(w.keys) {
						i = 0
						b.StopTimer()
						w.clear()
						b.StartTimer()
					}
				}
				b.StopTimer()
				record(b, "v"+n.name+"/"+kind)
				w.clear()
				if kind == "virtual" {
					ratio(b, "v"+n.name+"/virtual", "v"+n.name+"/physical", "x-physical")
				}
			})
		}
	}
}
