package kvm_test

import (
	"slices"
	"testing"
	"time"

	"github.com/gicits/gicits/model"
)

// msiLoop sets up one mapped event on b and returns a function sending n
// MSIs to it.
func msiLoop(t testing.TB, b model.Backend) func(n int) {
	t.Helper()
	caps, l := b.Capabilities(), b.Layout()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", b.Name(), err)
		}
	}
	must(b.SetLPIConfig(model.LPIBase, model.MakeLPIConfig(0xA0, true)))
	must(b.EnableLPIs(0))
	itt, err := l.ITTAllocator().Alloc(model.ITTSize(1, caps.ITTEntrySize), 256)
	must(err)
	must(b.SubmitCommands(
		model.MAPC{ICID: 0, RDbase: 0, Valid: true},
		model.MAPD{DeviceID: 1, Size: 0, ITTAddr: itt, Valid: true},
		model.MAPTI{DeviceID: 1, EventID: 0, INTID: model.LPIBase, ICID: 0},
	))
	m := caps.Prepare(model.MSI{Doorbell: l.Doorbell(), Data: 0, DeviceID: 1})
	return func(n int) {
		for range n {
			if d, err := b.SignalMSI(m); err != nil || d != model.Delivered {
				t.Fatalf("%s: SignalMSI = %v, %v", b.Name(), d, err)
			}
		}
	}
}

// BenchmarkSignalMSI compares KVM_SIGNAL_MSI with the simulator's
// SignalMSI: one mapped event, the LPI pending already (MSIs coalesce).
func BenchmarkSignalMSI(b *testing.B) {
	for _, name := range suiteBackends {
		b.Run(name, func(b *testing.B) {
			var be model.Backend
			if name == "kvm" {
				be = openKVM(b, model.Config{})
			} else {
				var err error
				if be, err = model.Open(name, model.Config{}); err != nil {
					b.Fatal(err)
				}
				defer be.Close()
			}
			send := msiLoop(b, be)
			b.ReportAllocs()
			for b.Loop() {
				send(1)
			}
		})
	}
}

// TestSignalMSICostRatio measures both backends' SignalMSI per-call cost
// in the same run and logs the ratio: under nested emulation only the ratio
// means anything.
func TestSignalMSICostRatio(t *testing.T) {
	if !slices.Contains(model.Backends(), "sim") {
		t.Skip("backend sim not registered")
	}
	k := openKVM(t, model.Config{})
	s, err := model.Open("sim", model.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sendK, sendS := msiLoop(t, k), msiLoop(t, s)
	const n = 20000
	per := func(send func(int)) time.Duration {
		send(n / 10) // warm the caches
		best := time.Duration(1 << 62)
		for range 3 {
			start := time.Now()
			send(n)
			best = min(best, time.Since(start)/n)
		}
		return best
	}
	dk, ds := per(sendK), per(sendS)
	t.Logf("SignalMSI per call, best of 3 x %d: kvm (KVM_SIGNAL_MSI) %v, sim %v, ratio kvm/sim %.1f", n, dk, ds, float64(dk)/float64(ds))
}
