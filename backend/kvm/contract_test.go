package kvm_test

import (
	"testing"

	"github.com/gicits/gicits/model"
)

// Contract tests: one test body run on the simulator and on KVM, each
// asserting what model.Backend promises, not only that the two agree. The
// kvm subtest skips where KVM cannot open (and fails under
// scripts/kvm-harness, which requires it).

// onBothBackends runs f as the subtests "sim" and "kvm".
func onBothBackends(t *testing.T, cfg model.Config, f func(t *testing.T, b model.Backend)) {
	t.Helper()
	t.Run("sim", func(t *testing.T) {
		b, err := model.Open("sim", cfg)
		if err != nil {
			t.Fatalf("open sim: %v", err)
		}
		t.Cleanup(func() { b.Close() })
		f(t, b)
	})
	t.Run("kvm", func(t *testing.T) { f(t, openKVM(t, cfg)) })
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// mapEvent maps DeviceID dev's EventID ev to intid on cpu, through
// collection cpu: MAPC, MAPD with a fresh ITT from alloc, MAPTI.
func mapEvent(t *testing.T, b model.Backend, alloc *model.Allocator, cpu model.CPU, dev model.DeviceID, ev model.EventID, intid model.INTID) {
	t.Helper()
	itt, err := alloc.Alloc(model.ITTSize(5, b.Capabilities().ITTEntrySize), 256)
	mustOK(t, err)
	mustOK(t, model.SubmitCommands(b,
		model.MAPC{ICID: model.ICID(cpu), RDbase: uint64(cpu), Valid: true},
		model.MAPD{DeviceID: dev, Size: 4, ITTAddr: itt, Valid: true},
		model.MAPTI{DeviceID: dev, EventID: ev, INTID: intid, ICID: model.ICID(cpu)}))
}

func readByte(t *testing.T, b model.Backend, addr model.GPA) byte {
	t.Helper()
	var p [1]byte
	mustOK(t, b.Memory().ReadAt(p[:], addr))
	return p[0]
}

// SetLPIConfig writes where the live GICR_PROPBASER points, not where the
// layout put the table: software may move the table before it enables
// LPIs, and the redistributor reads the byte from there when MAPTI
// creates the LPI. (kvm once wrote at Layout.PropTable.)
func TestSetLPIConfigAtLivePROPBASER(t *testing.T) {
	onBothBackends(t, model.Config{}, func(t *testing.T, b model.Backend) {
		l := b.Layout()
		alloc := l.ITTAllocator()
		moved, err := alloc.Alloc(l.PropTableSize(), 64<<10)
		mustOK(t, err)
		prop, err := model.MakePropBaser(moved, l.LPIIDBits)
		mustOK(t, err)
		mustOK(t, b.WriteRedistributorRegister(0, model.GICR_PROPBASER, uint64(prop)))
		if v, err := b.ReadRedistributorRegister(0, model.GICR_PROPBASER); err != nil || model.PropBaser(v).Addr() != moved {
			t.Fatalf("GICR_PROPBASER reads %#x, %v; want the table at %v", v, err, moved)
		}

		const lpi = model.LPIBase + 5
		cfg := model.MakeLPIConfig(0xA0, true)
		mustOK(t, model.SetLPIConfig(b, lpi, cfg))
		if got := readByte(t, b, moved+model.GPA(lpi-model.LPIBase)); got != byte(cfg) {
			t.Errorf("byte of LPI %d in the table GICR_PROPBASER points at = %#x, want %#x", lpi, got, byte(cfg))
		}
		if got := readByte(t, b, l.PropTable+model.GPA(lpi-model.LPIBase)); got != 0 {
			t.Errorf("byte of LPI %d at the layout's (no longer used) table = %#x, want it untouched (0)", lpi, got)
		}

		mustOK(t, model.EnableLPIs(b, 0))
		mapEvent(t, b, alloc, 0, 0x10, 1, lpi)
		d, err := b.SignalMSI(b.Capabilities().Prepare(model.MSI{Doorbell: l.Doorbell(), Data: 1, DeviceID: 0x10}))
		if err != nil || d != model.Delivered {
			t.Fatalf("MSI: %v, %v; want delivered", d, err)
		}
		// The LPI is enabled only if MAPTI read the byte SetLPIConfig wrote.
		if id, err := b.Acknowledge(0); err != nil || id != lpi {
			t.Fatalf("Acknowledge = %d, %v; want %d (enabled by SetLPIConfig)", id, err, lpi)
		}
		mustOK(t, b.EOI(0, lpi))
	})
}
