//go:build linux && arm64

package kvm_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/gicits/gicits/backend/kvm"
	"github.com/gicits/gicits/model"
)

// gsiSetup enables LPIs on CPU 0 and maps DeviceID 0x10's events 0 and 1
// to LPIs 8192 and 8193 there, and returns the routes of GSI 5 to each.
func gsiSetup(t *testing.T, b model.Backend) (toEv0, toEv1 model.Route) {
	t.Helper()
	for _, id := range []model.INTID{model.LPIBase, model.LPIBase + 1} {
		mustOK(t, model.SetLPIConfig(b, id, model.MakeLPIConfig(0xA0, true)))
	}
	mustOK(t, model.EnableLPIs(b, 0))
	mapEvent(t, b, b.Layout().ITTAllocator(), 0, 0x10, 0, model.LPIBase)
	mustOK(t, model.SubmitCommands(b, model.MAPTI{DeviceID: 0x10, EventID: 1, INTID: model.LPIBase + 1, ICID: 0}))
	caps, db := b.Capabilities(), b.Layout().Doorbell()
	toEv0 = caps.PrepareRoute(model.Route{GSI: 5, MSI: model.MSI{Doorbell: db, Data: 0, DeviceID: 0x10}})
	toEv1 = caps.PrepareRoute(model.Route{GSI: 5, MSI: model.MSI{Doorbell: db, Data: 1, DeviceID: 0x10}})
	return toEv0, toEv1
}

// takeOnly checks that exactly intid is pending on CPU 0, at once, and
// acknowledges and EOIs it.
func takeOnly(t *testing.T, b model.Backend, intid model.INTID, what string) {
	t.Helper()
	if p, err := b.Pending(0); err != nil || !slices.Equal(p, []model.INTID{intid}) {
		t.Fatalf("%s: pending on CPU 0 = %v, %v; want [%d] as soon as it returns", what, p, err, intid)
	}
	if id, err := b.Acknowledge(0); err != nil || id != intid {
		t.Fatalf("%s: Acknowledge = %d, %v; want %d", what, id, err, intid)
	}
	mustOK(t, b.EOI(0, intid))
}

// TriggerGSI raises the GSI through KVM's routing table
// (KVM_SET_GSI_ROUTING), not through a copy the backend keeps: a route
// changed in KVM alone is the one it follows.
func TestTriggerGSIFollowsKVMRoutingTable(t *testing.T) {
	b := openKVM(t, model.Config{})
	toEv0, toEv1 := gsiSetup(t, b)
	mustOK(t, b.SetGSIRouting([]model.Route{toEv0}))
	mustOK(t, b.TriggerGSI(5))
	takeOnly(t, b, model.LPIBase, "TriggerGSI(5) routed to event 0")

	if err := kvm.SetRoutingInKVMOnly(b, []model.Route{toEv1}); err != nil {
		t.Fatal(err)
	}
	mustOK(t, b.TriggerGSI(5))
	takeOnly(t, b, model.LPIBase+1, "TriggerGSI(5) after KVM's route moved to event 1")

	// A trigger bound to the same GSI is the caller's: TriggerGSI neither
	// collides with it nor unbinds it.
	tr, err := b.BindIRQFD(5)
	mustOK(t, err)
	mustOK(t, b.TriggerGSI(5))
	takeOnly(t, b, model.LPIBase+1, "TriggerGSI(5) with an irqfd bound to GSI 5")
	if _, err := b.BindIRQFD(5); !errors.Is(err, model.ErrBusy) {
		t.Errorf("second BindIRQFD(5) after TriggerGSI(5): %v, want ErrBusy (the first is still bound)", err)
	}
	mustOK(t, tr.Signal())
	mustOK(t, tr.Close())
}

// TriggerGSI returns once the LPI is pending, even when KVM's translation
// cache misses and the injection is deferred to a kernel worker (an irqfd
// Signal may return before; Differences, "irqfd-async").
func TestTriggerGSIDeliveredOnReturn(t *testing.T) {
	b := openKVM(t, model.Config{})
	toEv0, _ := gsiSetup(t, b)
	mustOK(t, b.SetGSIRouting([]model.Route{toEv0}))
	for range 10 {
		mustOK(t, b.TriggerGSI(5))
		takeOnly(t, b, model.LPIBase, "TriggerGSI(5) on a cold translation cache")
		// DISCARD empties KVM's translation cache, so the next TriggerGSI
		// misses it again.
		mustOK(t, model.SubmitCommands(b,
			model.DISCARD{DeviceID: 0x10, EventID: 0},
			model.MAPTI{DeviceID: 0x10, EventID: 0, INTID: model.LPIBase, ICID: 0}))
	}
}
