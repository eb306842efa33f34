package kvm_test

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/gicits/gicits/backend/kvm"
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

// setPendingBit sets intid's bit in the pending table at table, as
// software does before it enables LPIs.
func setPendingBit(t *testing.T, b model.Backend, table model.GPA, intid model.INTID) {
	t.Helper()
	addr := table + model.GPA(intid/8)
	mustOK(t, b.Memory().WriteAt([]byte{readByte(t, b, addr) | 1<<(intid%8)}, addr))
}

func pendingBit(t *testing.T, b model.Backend, table model.GPA, intid model.INTID) bool {
	t.Helper()
	return readByte(t, b, table+model.GPA(intid/8))&(1<<(intid%8)) != 0
}

// pendBase reads cpu's GICR_PENDBASER and returns its table's address.
func pendBase(t *testing.T, b model.Backend, cpu model.CPU) model.GPA {
	t.Helper()
	v, err := b.ReadRedistributorRegister(cpu, model.GICR_PENDBASER)
	mustOK(t, err)
	return model.PendBaser(v).Addr()
}

// pendTableBytes is how much of a pending table the tests compare: the
// bits of every INTID below 2^16, KVM's limit.
const pendTableBytes = 1 << 16 / 8

func readTable(t *testing.T, b model.Backend, addr model.GPA) []byte {
	t.Helper()
	p := make([]byte, pendTableBytes)
	mustOK(t, b.Memory().ReadAt(p, addr))
	return p
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

// Before EnableLPIs the pending table is software's: a bit set there is an
// LPI that becomes pending when EnableLPIs loads the table (PTZ = 0). An
// observation must not lose it, whichever CPU it asks about: Pending
// leaves guest memory as it found it. (kvm once zeroed every pending table
// around KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES; and that save alone writes
// the bit of every LPI with a target, clearing one set for an LPI not yet
// pending.)
func TestPendingKeepsBitsSetBeforeEnableLPIs(t *testing.T) {
	onBothBackends(t, model.Config{CPUs: 2}, func(t *testing.T, b model.Backend) {
		const lpi = model.LPIBase + 42
		alloc := b.Layout().ITTAllocator()
		mustOK(t, model.SetLPIConfig(b, lpi, model.MakeLPIConfig(0xA0, true)))
		mustOK(t, model.EnableLPIs(b, 0))
		// The LPI exists and targets CPU 1, whose LPIs are still disabled.
		mapEvent(t, b, alloc, 1, 0x10, 3, lpi)
		table := pendBase(t, b, 1)
		setPendingBit(t, b, table, lpi)
		before := [][]byte{readTable(t, b, pendBase(t, b, 0)), readTable(t, b, table)}

		for _, cpu := range []model.CPU{0, 1} {
			p, err := b.Pending(cpu)
			mustOK(t, err)
			if len(p) != 0 {
				t.Errorf("Pending(%d) before EnableLPIs = %v, want none (the bit is loaded by EnableLPIs)", cpu, p)
			}
		}
		for cpu, want := range before {
			if got := readTable(t, b, pendBase(t, b, model.CPU(cpu))); !bytes.Equal(got, want) {
				t.Errorf("Pending changed CPU %d's pending table", cpu)
			}
		}
		if !pendingBit(t, b, table, lpi) {
			t.Fatalf("Pending cleared the bit of LPI %d that software set in CPU 1's pending table", lpi)
		}

		mustOK(t, model.EnableLPIs(b, 1))
		if p, err := b.Pending(1); err != nil || !slices.Equal(p, []model.INTID{lpi}) {
			t.Errorf("Pending(1) after EnableLPIs = %v, %v; want [%d] loaded from the table", p, err, lpi)
		}
		if id, err := b.Acknowledge(1); err != nil || id != lpi {
			t.Fatalf("Acknowledge(1) = %d, %v; want %d", id, err, lpi)
		}
		mustOK(t, b.EOI(1, lpi))
	})
}

// Pending and SaveTables use the pending table GICR_PENDBASER points at,
// not the layout's: software may move it before it enables LPIs. (kvm
// once read, and zeroed, Layout.PendTable.)
func TestPendingTablesAtLivePENDBASER(t *testing.T) {
	onBothBackends(t, model.Config{}, func(t *testing.T, b model.Backend) {
		l := b.Layout()
		alloc := l.ITTAllocator()
		moved, err := alloc.Alloc(l.PendTableStride(), 64<<10)
		mustOK(t, err)
		pend, err := model.MakePendBaser(moved, false)
		mustOK(t, err)
		mustOK(t, b.WriteRedistributorRegister(0, model.GICR_PENDBASER, uint64(pend)))
		if got := pendBase(t, b, 0); got != moved {
			t.Fatalf("GICR_PENDBASER points at %v, want %v", got, moved)
		}
		// The layout's table is now plain memory: nothing may touch it.
		const marker = model.LPIBase + 7
		setPendingBit(t, b, l.PendTable(0), marker)
		layoutTable := readTable(t, b, l.PendTable(0))

		const lpi = model.LPIBase + 9
		mustOK(t, model.SetLPIConfig(b, lpi, model.MakeLPIConfig(0xA0, true)))
		mustOK(t, model.EnableLPIs(b, 0))
		mapEvent(t, b, alloc, 0, 0x10, 2, lpi)
		if _, err := b.SignalMSI(b.Capabilities().Prepare(model.MSI{Doorbell: l.Doorbell(), Data: 2, DeviceID: 0x10})); err != nil {
			t.Fatal(err)
		}
		if p, err := b.Pending(0); err != nil || !slices.Equal(p, []model.INTID{lpi}) {
			t.Errorf("Pending(0) = %v, %v; want [%d]", p, err, lpi)
		}

		// SaveTables writes the moved table exactly: the pending LPI's bit,
		// and no stale one.
		const stale = model.LPIBase + 100
		setPendingBit(t, b, moved, stale)
		mustOK(t, b.SaveTables())
		if !pendingBit(t, b, moved, lpi) || pendingBit(t, b, moved, stale) {
			t.Errorf("after SaveTables the table GICR_PENDBASER points at has LPI %d's bit %v (want set) and the stale bit of %d %v (want clear)",
				lpi, pendingBit(t, b, moved, lpi), stale, pendingBit(t, b, moved, stale))
		}
		if got := readTable(t, b, l.PendTable(0)); !bytes.Equal(got, layoutTable) {
			t.Errorf("Pending or SaveTables changed memory at the layout's pending table, which GICR_PENDBASER no longer points at")
		}
	})
}

// Differences, "enable-lpis-load": EnableLPIs (PTZ = 0) loads the pending
// table. The simulator adds each bit to the LPI's pending state and clears
// it; KVM sets the pending state to the bit and leaves the bit, so an LPI
// made pending before the enable by a MAPTI that consumed its bit is lost,
// and a loaded bit comes back at the next MAPTI of the same INTID.
func TestDifferenceEnableLPIsLoad(t *testing.T) {
	listed(t, "enable-lpis-load")
	onBothBackends(t, model.Config{CPUs: 2}, func(t *testing.T, b model.Backend) {
		onKVM := b.Name() == "kvm"
		const loaded, early = model.LPIBase + 42, model.LPIBase + 43
		alloc := b.Layout().ITTAllocator()
		for _, id := range []model.INTID{loaded, early} {
			mustOK(t, model.SetLPIConfig(b, id, model.MakeLPIConfig(0xA0, true)))
		}
		mustOK(t, model.EnableLPIs(b, 0))
		mapEvent(t, b, alloc, 1, 0x10, 3, loaded)
		table := pendBase(t, b, 1)
		setPendingBit(t, b, table, loaded)
		setPendingBit(t, b, table, early)
		// Both backends: MAPTI consumes the bit of the LPI it creates.
		mustOK(t, model.SubmitCommands(b, model.MAPTI{DeviceID: 0x10, EventID: 4, INTID: early, ICID: 1}))
		if p, err := b.Pending(1); err != nil || !slices.Equal(p, []model.INTID{early}) || pendingBit(t, b, table, early) {
			t.Fatalf("after MAPTI of %d: pending %v, %v, bit %v; want [%d] and the bit consumed", early, p, err, pendingBit(t, b, table, early), early)
		}

		mustOK(t, model.EnableLPIs(b, 1))
		want := []model.INTID{loaded, early}
		if onKVM {
			want = []model.INTID{loaded} // its bit was clear: replaced
		}
		p, err := b.Pending(1)
		mustOK(t, err)
		if !slices.Equal(p, want) {
			t.Errorf("after EnableLPIs: pending %v, want %v", p, want)
		}
		if got := pendingBit(t, b, table, loaded); got != onKVM {
			t.Errorf("after EnableLPIs: LPI %d's bit %v, want %v", loaded, got, onKVM)
		}
		for _, id := range want {
			if got, err := b.Acknowledge(1); err != nil || got != id {
				t.Fatalf("Acknowledge(1) = %d, %v; want %d", got, err, id)
			}
			mustOK(t, b.EOI(1, id))
		}

		// Nothing is pending; a new MAPTI of the loaded INTID consumes the bit
		// KVM left.
		mustOK(t, model.SubmitCommands(b,
			model.DISCARD{DeviceID: 0x10, EventID: 3},
			model.MAPTI{DeviceID: 0x10, EventID: 3, INTID: loaded, ICID: 1}))
		want = nil
		if onKVM {
			want = []model.INTID{loaded}
		}
		if p, err := b.Pending(1); err != nil || !slices.Equal(p, want) {
			t.Errorf("after DISCARD and MAPTI of %d: pending %v, %v; want %v", loaded, p, err, want)
		}
	})
}

// listed fails the test unless kvm.Differences lists id.
func listed(t *testing.T, id string) {
	t.Helper()
	if !slices.ContainsFunc(kvm.Differences, func(d kvm.Difference) bool { return d.ID == id }) {
		t.Fatalf("difference %q is not listed in kvm.Differences", id)
	}
}

// Differences, "trigger-unreported": a GSI raised through KVM's routing
// table (TriggerGSI, a bound trigger) reports nothing of a refused MSI;
// the simulator reports what SignalMSI would.
func TestDifferenceTriggerUnreported(t *testing.T) {
	listed(t, "trigger-unreported")
	onBothBackends(t, model.Config{CPUs: 2}, func(t *testing.T, b model.Backend) {
		onKVM := b.Name() == "kvm"
		const lpi = model.LPIBase + 3
		l, caps := b.Layout(), b.Capabilities()
		mustOK(t, model.SetLPIConfig(b, lpi, model.MakeLPIConfig(0xA0, true)))
		mustOK(t, model.EnableLPIs(b, 0))
		// The LPI targets CPU 1, whose LPIs stay disabled: its MSI is refused.
		mapEvent(t, b, l.ITTAllocator(), 1, 0x10, 0, lpi)
		refused := caps.Prepare(model.MSI{Doorbell: l.Doorbell(), Data: 0, DeviceID: 0x10})
		if _, err := b.SignalMSI(refused); !errors.Is(err, model.ErrBusy) {
			t.Fatalf("SignalMSI to CPU 1 with its LPIs disabled: %v, want ErrBusy on both backends", err)
		}
		// A doorbell outside the ITS frame. (KVM finds its ITS by the frame,
		// so any address inside it would do there.)
		noITS := refused
		noITS.Doorbell = l.RAMBase
		if _, err := b.SignalMSI(noITS); !errors.Is(err, model.ErrInvalidArgument) {
			t.Fatalf("SignalMSI to a doorbell in RAM: %v, want ErrInvalidArgument on both backends", err)
		}
		mustOK(t, b.SetGSIRouting([]model.Route{{GSI: 5, MSI: refused}, {GSI: 6, MSI: noITS}}))

		check := func(what string, err, simWants error) {
			t.Helper()
			switch {
			case onKVM && err != nil:
				t.Errorf("%s: %v, want nil: KVM reports nothing through an irqfd", what, err)
			case !onKVM && !errors.Is(err, simWants):
				t.Errorf("%s: %v, want %v", what, err, simWants)
			}
		}
		check("TriggerGSI(5), target's LPIs disabled", b.TriggerGSI(5), model.ErrBusy)
		check("TriggerGSI(6), doorbell outside the ITS", b.TriggerGSI(6), model.ErrInvalidArgument)
		tr, err := b.BindIRQFD(5)
		mustOK(t, err)
		check("Signal of GSI 5, target's LPIs disabled", tr.Signal(), model.ErrBusy)
		mustOK(t, tr.Close()) // on KVM, waits for a deferred injection
		unrouted, err := b.BindIRQFD(9)
		mustOK(t, err)
		check("Signal of GSI 9, no route", unrouted.Signal(), model.ErrInvalidArgument)
		mustOK(t, unrouted.Close())
		// Both backends: TriggerGSI itself knows the GSIs that have a route.
		if err := b.TriggerGSI(9); !errors.Is(err, model.ErrInvalidArgument) {
			t.Errorf("TriggerGSI(9), no route: %v, want ErrInvalidArgument", err)
		}

		mustOK(t, model.EnableLPIs(b, 1))
		if p, err := b.Pending(1); err != nil || len(p) != 0 {
			t.Errorf("pending on CPU 1 = %v, %v; want nothing delivered", p, err)
		}

		// The ITS disabled: an MSI to an enabled CPU is refused too.
		const lpi0 = model.LPIBase + 4
		mustOK(t, model.SetLPIConfig(b, lpi0, model.MakeLPIConfig(0xA0, true)))
		mustOK(t, model.SubmitCommands(b,
			model.MAPC{ICID: 0, RDbase: 0, Valid: true},
			model.MAPTI{DeviceID: 0x10, EventID: 1, INTID: lpi0, ICID: 0}))
		toCPU0 := caps.Prepare(model.MSI{Doorbell: l.Doorbell(), Data: 1, DeviceID: 0x10})
		mustOK(t, b.SetGSIRouting([]model.Route{{GSI: 7, MSI: toCPU0}}))
		mustOK(t, b.WriteITSRegister(model.GITS_CTLR, 0))
		if _, err := b.SignalMSI(toCPU0); !errors.Is(err, model.ErrBusy) {
			t.Fatalf("SignalMSI with the ITS disabled: %v, want ErrBusy on both backends", err)
		}
		check("TriggerGSI(7), ITS disabled", b.TriggerGSI(7), model.ErrBusy)
		if p, err := b.Pending(0); err != nil || len(p) != 0 {
			t.Errorf("pending on CPU 0 = %v, %v; want nothing delivered", p, err)
		}
	})
}

// TestDifferenceMSIDoorbell: an MSI written to the ITS's control frame
// (GITS_CTLR's address) instead of GITS_TRANSLATER is refused by the
// simulator and translated by KVM, which finds its ITS by the frame.
func TestDifferenceMSIDoorbell(t *testing.T) {
	listed(t, "msi-doorbell")
	onBothBackends(t, model.Config{CPUs: 1}, func(t *testing.T, b model.Backend) {
		const lpi = model.LPIBase + 5
		l, caps := b.Layout(), b.Capabilities()
		mustOK(t, model.SetLPIConfig(b, lpi, model.MakeLPIConfig(0xA0, true)))
		mustOK(t, model.EnableLPIs(b, 0))
		mapEvent(t, b, l.ITTAllocator(), 0, 0x10, 2, lpi)
		m := caps.Prepare(model.MSI{Doorbell: l.ITSBase + model.GPA(model.GITS_CTLR), Data: 2, DeviceID: 0x10})
		d, err := b.SignalMSI(m)
		if b.Name() == "kvm" {
			if err != nil || d != model.Delivered {
				t.Fatalf("SignalMSI to GITS_CTLR's address on kvm = %v, %v; want delivered (KVM translates any write in the ITS frame)", d, err)
			}
			p, err := b.Pending(0)
			mustOK(t, err)
			if !slices.Equal(p, []model.INTID{lpi}) {
				t.Errorf("pending on CPU 0 = %v, want [%d]", p, lpi)
			}
			return
		}
		if !errors.Is(err, model.ErrInvalidArgument) {
			t.Fatalf("SignalMSI to GITS_CTLR's address on sim = %v, %v; want ErrInvalidArgument", d, err)
		}
	})
}
