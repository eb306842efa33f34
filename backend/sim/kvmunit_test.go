package sim_test

import (
	"testing"

	"github.com/gicits/gicits/model"
)

// Ports of kvm-unit-tests' ITS tests (arm/gic.c) to the simulator. "The PE
// receives LPI X exactly once" becomes "Acknowledge on CPU P returns X, once,
// then spurious".

// itsTriggerSetup is arm/gic.c's its_prerequisites + test_its_trigger
// set-up: 4 CPUs, device 2 (8 events) and device 7 (256 events), collection
// 3 → CPU 3 and 2 → CPU 2, dev2/ev20 → 8195 in col 3, dev7/ev255 → 8196 in
// col 2.
func itsTriggerSetup(e *env) {
	e.enable(0, 1, 2, 3)
	e.config(0xA0, true, 8195, 8196)
	e.must(
		model.MAPD{DeviceID: 2, Size: 7, ITTAddr: e.itt(8), Valid: true},
		model.MAPD{DeviceID: 7, Size: 7, ITTAddr: e.itt(8), Valid: true},
		model.MAPC{ICID: 3, RDbase: 3, Valid: true},
		model.MAPC{ICID: 2, RDbase: 2, Valid: true},
		model.MAPTI{DeviceID: 2, EventID: 20, INTID: 8195, ICID: 3},
		model.MAPTI{DeviceID: 7, EventID: 255, INTID: 8196, ICID: 2},
	)
}

func TestKVMUnitITSTrigger(t *testing.T) {
	modes(t, func(t *testing.T, cfg model.Config) {
		cfg.CPUs = 4
		e := open(t, cfg)
		itsTriggerSetup(e)
		// int-valid
		e.must(model.INT{DeviceID: 2, EventID: 20})
		e.takesOnce(3, 8195)
		e.must(model.INT{DeviceID: 7, EventID: 255})
		e.takesOnce(2, 8196)
		// no LPI when disabled in the property table (after INV)
		e.config(0xA0, false, 8195)
		e.must(model.INV{DeviceID: 2, EventID: 20}, model.INT{DeviceID: 2, EventID: 20})
		e.takesOnce(3)
		// re-enabled: INVALL, and the pending LPI fires
		e.config(0xA0, true, 8195)
		e.must(model.INVALL{ICID: 3})
		e.takesOnce(3, 8195)
		// MAPD V=0: INT fails and no LPI is received
		e.must(model.MAPD{DeviceID: 2})
		if got := e.codes(model.INT{DeviceID: 2, EventID: 20}); len(got) != 1 || got[0] != model.E_ITS_INT_UNMAPPED_DEVICE {
			t.Errorf("INT on an unmapped device: %v", got)
		}
		e.takesOnce(3)
	})
}

// migrate saves the tables of e, copies guest memory into a fresh simulator
// and restores there, as a live migration does.
func migrate(t *testing.T, e *env) *env {
	t.Helper()
	must(t, e.b.SaveTables())
	cfg := model.Config{CPUs: e.b.Capabilities().CPUs, Layout: e.b.Layout()}
	f := open(t, cfg)
	must(t, f.b.Memory().WriteAt(e.ramBytes(), f.b.Layout().RAMBase))
	for cpu := range model.CPU(cfg.CPUs) {
		f.enable(cpu)
	}
	must(t, f.b.RestoreTables())
	return f
}

func TestKVMUnitITSMigration(t *testing.T) {
	e := open(t, model.Config{CPUs: 4})
	itsTriggerSetup(e)
	f := migrate(t, e)
	f.must(model.INT{DeviceID: 2, EventID: 20})
	f.takesOnce(3, 8195)
	f.must(model.INT{DeviceID: 7, EventID: 255})
	f.takesOnce(2, 8196)
}

func TestKVMUnitITSPendingMigration(t *testing.T) {
	e := open(t, model.Config{CPUs: 2})
	e.enable(0, 1)
	const n = 256
	var want [2][]model.INTID
	e.must(model.MAPD{DeviceID: 0, Size: 7, ITTAddr: e.itt(8), Valid: true},
		model.MAPD{DeviceID: 1, Size: 7, ITTAddr: e.itt(8), Valid: true},
		model.MAPC{ICID: 0, RDbase: 0, Valid: true}, model.MAPC{ICID: 1, RDbase: 1, Valid: true})
	for i := range n {
		cpu := i % 2
		id := model.LPIBase + model.INTID(i)
		e.config(0xA0, true, id)
		e.must(model.MAPTI{DeviceID: model.DeviceID(cpu), EventID: model.EventID(i / 2), INTID: id, ICID: model.ICID(cpu)})
		e.msi(model.DeviceID(cpu), model.EventID(i/2))
		want[cpu] = append(want[cpu], id)
	}
	f := migrate(t, e)
	f.takesOnce(0, want[0]...)
	f.takesOnce(1, want[1]...)
}

func TestKVMUnitITSMigrateUnmappedCollection(t *testing.T) {
	e := open(t, model.Config{CPUs: 2})
	e.enable(0, 1)
	e.config(0xA0, true, 8192)
	// The collection is named by MAPTI but never mapped before migration.
	e.must(model.MAPD{DeviceID: 2, Size: 7, ITTAddr: e.itt(8), Valid: true},
		model.MAPTI{DeviceID: 2, EventID: 20, INTID: 8192, ICID: 4})
	f := migrate(t, e)
	f.must(model.MAPC{ICID: 4, RDbase: 1, Valid: true}, model.INT{DeviceID: 2, EventID: 20})
	f.takesOnce(1, 8192)
}
