package kvm_test

import (
	"errors"
	"testing"

	"github.com/gicits/gicits/backend/kvm"
	"github.com/gicits/gicits/backend/kvm/internal/kvmsys"
	"github.com/gicits/gicits/model"
)

// The DeviceID rule, both branches, as pure functions: the flag and the
// DeviceID go to KVM exactly when the VM needs them.
func TestDeviceIDRule(t *testing.T) {
	l := model.DefaultLayout()
	m := model.MSI{Doorbell: l.Doorbell(), Data: 3, DeviceID: 0x10}
	for _, needs := range []bool{false, true} {
		caps := model.Capabilities{NeedsDeviceID: needs}
		k, err := kvm.KVMMSIFunc(caps.Prepare(m), needs)
		if err != nil {
			t.Fatalf("needs=%v: %v", needs, err)
		}
		want := kvmsys.MSI{AddressLo: 0x08090040, Data: 3}
		if needs {
			want.Flags, want.DevID = kvmsys.KVM_MSI_VALID_DEVID, 0x10
		}
		if k != want {
			t.Errorf("needs=%v: kvm_msi %+v, want %+v", needs, k, want)
		}
		e, err := kvm.RouteEntryFunc(caps.PrepareRoute(model.Route{GSI: 7, MSI: m}), needs)
		if err != nil {
			t.Fatal(err)
		}
		wantE := kvmsys.IRQRoutingEntry{GSI: 7, Type: kvmsys.KVM_IRQ_ROUTING_MSI, Flags: want.Flags,
			MSI: kvmsys.IRQRoutingMSI{AddressLo: 0x08090040, Data: 3, DevID: want.DevID}}
		if e != wantE {
			t.Errorf("needs=%v: routing entry %+v, want %+v", needs, e, wantE)
		}
	}
	// A VM that needs a DeviceID refuses an MSI without one.
	if _, err := kvm.KVMMSIFunc(m, true); !errors.Is(err, model.ErrInvalidArgument) {
		t.Errorf("MSI without DeviceID on a VM that needs one: %v", err)
	}
	// But takes a route without one, as KVM_SET_GSI_ROUTING does: no flag,
	// devid 0 (Differences, "route-devid").
	e, err := kvm.RouteEntryFunc(model.Route{GSI: 7, MSI: m}, true)
	if err != nil {
		t.Fatalf("route without DeviceID on a VM that needs one: %v", err)
	}
	if wantE := (kvmsys.IRQRoutingEntry{GSI: 7, Type: kvmsys.KVM_IRQ_ROUTING_MSI, MSI: kvmsys.IRQRoutingMSI{AddressLo: 0x08090040, Data: 3}}); e != wantE {
		t.Errorf("route without DeviceID: entry %+v, want %+v", e, wantE)
	}
	if _, err := kvm.RouteEntryFunc(model.Route{GSI: model.MaxGSIRoutes, MSI: m}, false); !errors.Is(err, model.ErrInvalidArgument) {
		t.Errorf("GSI out of range: %v", err)
	}
}
