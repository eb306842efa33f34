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
	must(model.SetLPIConfig(b, model.LPIBase, model.MakeLPIConfig(0xA0, true)))
	must(model.EnableLPIs(b, 0))
	itt, err := l.ITTAllocator().Alloc(model.ITTSize(1, caps.ITTEntrySize), 256)
	must(err)
	must(model.SubmitCommands(b,
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
// means anything, so no absolute time is asserted. What is asserted is
// that the measurement is sound: both costs are positive; every MSI was
// delivered (msiLoop fails on any other answer) and landed (the LPI is
// pending on CPU 0 afterwards and is acknowledged there); and
// KVM_SIGNAL_MSI, a system call into the vGIC, costs at least
// minKVMOverSim times the simulator's in-process call. Seen: 130x under
// the QEMU harness on x86-64; a kvm/sim ratio near 1 means the kvm side
// never reached the kernel, or the timing is broken.
func TestSignalMSICostRatio(t *testing.T) {
	if !slices.Contains(model.Backends(), "sim") {
		t.Skip("backend sim not registered")
	}
	const minKVMOverSim = 2
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
	if dk <= 0 || ds <= 0 {
		t.Fatalf("SignalMSI per call: kvm %v, sim %v; want both positive", dk, ds)
	}
	ratio := float64(dk) / float64(ds)
	t.Logf("SignalMSI per call, best of 3 x %d: kvm (KVM_SIGNAL_MSI) %v, sim %v, ratio kvm/sim %.1f", n, dk, ds, ratio)
	for _, b := range []model.Backend{k, s} {
		id, err := b.Acknowledge(0)
		if err != nil || id != model.LPIBase {
			t.Errorf("%s: Acknowledge(0) after %d MSIs = %d, %v; want LPI %d pending", b.Name(), n/10+3*n, id, err, model.LPIBase)
			continue
		}
		if err := b.EOI(0, id); err != nil {
			t.Errorf("%s: EOI: %v", b.Name(), err)
		}
	}
	if ratio < minKVMOverSim {
		t.Errorf("kvm/sim SignalMSI cost ratio %.2f, want at least %d: a system call into KVM's vGIC is not clearly dearer than an in-process call", ratio, minKVMOverSim)
	}
}
