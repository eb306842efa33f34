package kvm_test

import (
	"slices"
	"testing"

	"github.com/gicits/gicits/model"
)

// A CPU whose GICR_PENDBASER is 0 (as software may leave it until it sets
// up a pending table) has no table in RAM to borrow, zero or save into:
// Pending of another CPU and SaveTables leave it out and work. (kvm once
// read and zeroed 0 bytes at address 0 for it, which is outside RAM, and
// failed both.)
func TestPendingTablesSkipCPUWithoutOne(t *testing.T) {
	onBothBackends(t, model.Config{CPUs: 2}, func(t *testing.T, b model.Backend) {
		l := b.Layout()
		mustOK(t, b.WriteRedistributorRegister(1, model.GICR_PENDBASER, 0))
		if got := pendBase(t, b, 1); got != 0 {
			t.Fatalf("CPU 1's GICR_PENDBASER points at %v, want 0", got)
		}

		const lpi = model.LPIBase + 9
		mustOK(t, model.SetLPIConfig(b, lpi, model.MakeLPIConfig(0xA0, true)))
		mustOK(t, model.EnableLPIs(b, 0))
		mapEvent(t, b, l.ITTAllocator(), 0, 0x10, 2, lpi)
		if _, err := b.SignalMSI(b.Capabilities().Prepare(model.MSI{Doorbell: l.Doorbell(), Data: 2, DeviceID: 0x10})); err != nil {
			t.Fatal(err)
		}
		if p, err := b.Pending(0); err != nil || !slices.Equal(p, []model.INTID{lpi}) {
			t.Errorf("Pending(0) = %v, %v; want [%d]", p, err, lpi)
		}
		if err := b.SaveTables(); err != nil {
			t.Errorf("SaveTables: %v", err)
		} else if !pendingBit(t, b, pendBase(t, b, 0), lpi) {
			t.Errorf("after SaveTables CPU 0's pending table lacks the bit of pending LPI %d", lpi)
		}
	})
}
