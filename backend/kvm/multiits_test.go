package kvm_test

import (
	"slices"
	"testing"

	"github.com/gicits/gicits/model"
)

// TestSeveralITSes: a layout with three ITSes gives three ITSes on either
// backend (KVM: three KVM_DEV_TYPE_ARM_VGIC_ITS devices), each with its own
// registers, queue and tables; an MSI's doorbell picks the ITS; LPIs are
// shared; each ITS saves and restores its own tables.
func TestSeveralITSes(t *testing.T) {
	l := model.DefaultLayout()
	l.ITSes = 3
	onBothBackends(t, model.Config{CPUs: 2, Layout: l}, func(t *testing.T, b model.Backend) {
		if n := b.Capabilities().ITSes; n != 3 {
			t.Fatalf("Capabilities.ITSes = %d, want 3", n)
		}
		mustOK(t, model.EnableLPIs(b, 0))
		mustOK(t, model.EnableLPIs(b, 1))
		for id := model.INTID(8192); id < 8200; id++ {
			mustOK(t, model.SetLPIConfig(b, id, model.MakeLPIConfig(0xA0, true)))
		}
		alloc := b.Layout().ITTAllocator()
		var views []model.Backend
		for i := range 3 {
			v, err := model.ITSOf(b, i)
			mustOK(t, err)
			views = append(views, v)
			if cb, err := v.ReadITSRegister(model.GITS_CBASER); err != nil || model.CBASER(cb).Addr() != v.Layout().CommandQueue {
				t.Fatalf("ITS %d: GITS_CBASER %#x, %v; want its own queue at %v", i, cb, err, v.Layout().CommandQueue)
			}
			// The same DeviceID on every ITS, to a different LPI each.
			mapEvent(t, v, alloc, model.CPU(i%2), 0x10, 1, 8192+model.INTID(i))
		}
		for i, v := range views {
			m := b.Capabilities().Prepare(model.MSI{Doorbell: v.Layout().Doorbell(), Data: 1, DeviceID: 0x10})
			if d, err := b.SignalMSI(m); d != model.Delivered || err != nil {
				t.Fatalf("ITS %d: MSI %v, %v", i, d, err)
			}
		}
		p0, err := b.Pending(0)
		mustOK(t, err)
		p1, err := b.Pending(1)
		mustOK(t, err)
		if !slices.Equal(p0, []model.INTID{8192, 8194}) || !slices.Equal(p1, []model.INTID{8193}) {
			t.Errorf("pending CPU 0 %v, CPU 1 %v; want [8192 8194] and [8193]: each ITS translates its own device 0x10", p0, p1)
		}
		// ITS 2's tables hold ITS 2's device only, and restore in place.
		mustOK(t, views[2].SaveTables())
		dt, err := views[2].ReadITSRegister(model.GITS_BASER(0))
		mustOK(t, err)
		if addr := model.Baser(dt).Addr(); addr != views[2].Layout().DeviceTable {
			t.Errorf("ITS 2's GITS_BASER0 at %v, want its own device table %v", addr, views[2].Layout().DeviceTable)
		}
		dte, err := model.ReadUint64(b.Memory(), views[2].Layout().DeviceTable+0x10*model.TableEntrySize)
		mustOK(t, err)
		if !model.DecodeDTE(dte).Valid {
			t.Errorf("ITS 2's saved DTE of device 0x10 is %v", model.DecodeDTE(dte))
		}
		mustOK(t, views[2].WriteITSRegister(model.GITS_CTLR, 0))
		mustOK(t, views[2].RestoreTables())
		mustOK(t, views[2].WriteITSRegister(model.GITS_CTLR, model.GITS_CTLR_Enabled))
		m := b.Capabilities().Prepare(model.MSI{Doorbell: views[2].Layout().Doorbell(), Data: 1, DeviceID: 0x10})
		if d, err := b.SignalMSI(m); d != model.Delivered || err != nil {
			t.Errorf("ITS 2 after restoring in place: MSI %v, %v", d, err)
		}
		if _, err := model.ITSOf(b, 3); err == nil {
			t.Error("ITS 3 of 3 opened")
		}
	})
}
