//go:build linux && arm64

package kvm_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gicits/gicits/backend/kvm"
	"github.com/gicits/gicits/model"
)

// movedSetup opens a 3-CPU kvm backend with collection n on CPU n, device 1
// with events 0 and 1 (LPIs 8192 and 8193, priority 0xF0, the lowest a
// priority mask of 0xFF lets through) in collection 0, and both LPIs
// pending on CPU 0.
func movedSetup(t *testing.T) (model.Backend, func(error)) {
	t.Helper()
	b := openKVM(t, model.Config{CPUs: 3})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	caps, l := b.Capabilities(), b.Layout()
	for i := range 2 {
		must(model.SetLPIConfig(b, model.LPIBase+model.INTID(i), model.MakeLPIConfig(0xF0-0x10*uint8(i), true)))
	}
	for cpu := range model.CPU(3) {
		must(model.EnableLPIs(b, cpu))
		must(model.SubmitCommands(b, model.MAPC{ICID: model.ICID(cpu), RDbase: uint64(cpu), Valid: true}))
	}
	itt, err := l.ITTAllocator().Alloc(model.ITTSize(2, caps.ITTEntrySize), 256)
	must(err)
	must(model.SubmitCommands(b,
		model.MAPD{DeviceID: 1, Size: 1, ITTAddr: itt, Valid: true},
		model.MAPTI{DeviceID: 1, EventID: 0, INTID: model.LPIBase, ICID: 0},
		model.MAPTI{DeviceID: 1, EventID: 1, INTID: model.LPIBase + 1, ICID: 0},
	))
	for ev := range model.EventID(2) {
		if d, err := b.SignalMSI(caps.Prepare(model.MSI{Doorbell: l.Doorbell(), Data: uint32(ev), DeviceID: 1})); err != nil || d != model.Delivered {
			t.Fatalf("MSI ev=%d: %v, %v", ev, d, err)
		}
	}
	return b, must
}

// Open leaves every CPU interface as a guest OS leaves it: priority mask
// 0xFF, Group 1 enabled, idle running priority. KVM resets ICC_PMR_EL1 to
// 0, which would mask every LPI; the guest program's set-up unmasks them.
func TestOpenUnmasksCPUInterface(t *testing.T) {
	b, _ := movedSetup(t)
	for cpu := range model.CPU(3) {
		if rpr, err := kvm.RunningPriority(b, cpu); err != nil || rpr != 0xFF {
			t.Errorf("CPU %d: running priority %#x, %v; want 0xff (idle)", cpu, rpr, err)
		}
	}
	// 8193 has priority 0xE0, 8192 0xF0: both are signalled under PMR 0xFF.
	for _, want := range []model.INTID{model.LPIBase + 1, model.LPIBase} {
		if id, err := b.Acknowledge(0); err != nil || id != want {
			t.Fatalf("Acknowledge(0) = %d, %v; want %d without setting a priority mask", id, err, want)
		}
		if err := b.EOI(0, want); err != nil {
			t.Fatal(err)
		}
	}
}

// A pending LPI moved by MAPC, MOVI or MOVALL is acknowledged on its new
// CPU, not only shown pending there: the backend has KVM move it off the
// old vCPU's list (flush_linux_arm64.go).
func TestMovedPendingLPIAcknowledged(t *testing.T) {
	for _, tc := range []struct {
		name string
		move []model.Command
		to   model.CPU
		lpis []model.INTID // acknowledged on to, in order
	}{
		{"MOVI", []model.Command{model.MOVI{DeviceID: 1, EventID: 0, ICID: 2}}, 2, []model.INTID{model.LPIBase}},
		{"MAPC", []model.Command{model.MAPC{ICID: 0, RDbase: 1, Valid: true}}, 1, []model.INTID{model.LPIBase + 1, model.LPIBase}},
		{"MOVALL", []model.Command{model.MOVALL{RDbase1: 0, RDbase2: 2}}, 2, []model.INTID{model.LPIBase + 1, model.LPIBase}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, must := movedSetup(t)
			must(model.SubmitCommands(b, tc.move...))
			start := time.Now()
			for _, want := range tc.lpis {
				if id, err := b.Acknowledge(tc.to); err != nil || id != want {
					t.Fatalf("Acknowledge(%d) = %d, %v; want the moved %d", tc.to, id, err, want)
				}
				must(b.EOI(tc.to, want))
			}
			t.Logf("%d acknowledges and EOIs after %s: %v", len(tc.lpis), tc.name, time.Since(start))
			if id, err := b.Acknowledge(tc.to); err != nil || id != model.SpuriousINTID {
				t.Errorf("Acknowledge(%d) after the moved LPIs = %d, %v; want spurious", tc.to, id, err)
			}
		})
	}
}

// The cost of making KVM move LPIs: a command batch that moves one costs
// one round trip of every vCPU, once; acknowledges with nothing moved cost
// what they did.
func TestMoveSettleCost(t *testing.T) {
	b, must := movedSetup(t)
	const n = 20
	timeIt := func(f func()) time.Duration {
		start := time.Now()
		for range n {
			f()
		}
		return time.Since(start) / n
	}
	ack := timeIt(func() {
		if _, err := b.Acknowledge(2); err != nil {
			t.Fatal(err)
		}
	})
	sync := timeIt(func() { must(model.SubmitCommands(b, model.SYNC{RDbase: 1})) })
	icid := model.ICID(0)
	movi := timeIt(func() {
		icid = (icid + 1) % 3
		must(model.SubmitCommands(b, model.MOVI{DeviceID: 1, EventID: 0, ICID: icid}))
	})
	t.Logf("3 vCPUs, mean of %d: Acknowledge with nothing moved %v; SYNC batch %v; MOVI batch (with the settle) %v", n, ack, sync, movi)
}

// The backend settles after whatever commands KVM ran, whoever wrote them:
// a MOVI written into the queue by hand and started with a GITS_CWRITER
// write, and a MOVI that waited in the queue while the ITS was disabled
// and ran when the GITS_CTLR write enabling it ran the queue.
func TestMovedByCommandsTheBackendDidNotWrite(t *testing.T) {
	movi := model.MOVI{DeviceID: 1, EventID: 0, ICID: 2}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, b model.Backend, must func(error))
	}{
		{"by hand", func(t *testing.T, b model.Backend, must func(error)) {
			cbv, err := b.ReadITSRegister(model.GITS_CBASER)
			must(err)
			cw, err := b.ReadITSRegister(model.GITS_CWRITER)
			must(err)
			cb := model.CBASER(cbv)
			p, err := movi.Encode()
			must(err)
			must(b.Memory().WriteAt(p[:], cb.Addr()+model.GPA(cw)))
			must(b.WriteITSRegister(model.GITS_CWRITER, (cw+model.CommandSize)%uint64(cb.SizeBytes())))
		}},
		{"after enabling the ITS", func(t *testing.T, b model.Backend, must func(error)) {
			must(b.WriteITSRegister(model.GITS_CTLR, 0))
			if err := model.SubmitCommands(b, movi); !errors.Is(err, model.ErrBusy) {
				t.Fatalf("MOVI with the ITS disabled: %v, want ErrBusy (it waits in the queue)", err)
			}
			must(b.WriteITSRegister(model.GITS_CTLR, model.GITS_CTLR_Enabled))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, must := movedSetup(t)
			// Settle what the set-up's MAPTIs left to settle, so that only
			// tc.run's commands, seen by the backend, can move the LPI.
			if id, err := b.Acknowledge(1); err != nil || id != model.SpuriousINTID {
				t.Fatalf("Acknowledge(1) before the MOVI = %d, %v; want spurious", id, err)
			}
			tc.run(t, b, must)
			if id, err := b.Acknowledge(2); err != nil || id != model.LPIBase {
				t.Fatalf("Acknowledge(2) = %d, %v; want the moved %d", id, err, model.LPIBase)
			}
			must(b.EOI(2, model.LPIBase))
		})
	}
}
