//go:build linux && arm64

package kvm_test

import (
	"errors"
	"os"
	"testing"

	"github.com/gicits/gicits/backend/kvm"
	"github.com/gicits/gicits/model"
)

// Both branches of the DeviceID rule on a real VM: without an ITS the VM
// answers KVM_CAP_MSI_DEVID = 0 and routes go without the flag (KVM accepts
// them); with one it answers 1, an MSI without a DeviceID is refused and a
// route without one is taken but delivers nothing.
func TestDeviceIDCapabilityOnVM(t *testing.T) {
	openKVM(t, model.Config{}) // skips or fails as the host requires
	noITS, err := kvm.OpenWithoutITS(model.Config{})
	if err != nil {
		t.Fatalf("open without ITS: %v", err)
	}
	defer noITS.Close()
	caps := noITS.Capabilities()
	if caps.NeedsDeviceID {
		t.Fatalf("VM without ITS: NeedsDeviceID = true, want false (KVM_CAP_MSI_DEVID = 0)")
	}
	route := caps.PrepareRoute(model.Route{GSI: 4, MSI: model.MSI{Doorbell: noITS.Layout().Doorbell(), Data: 1, DeviceID: 0x10}})
	if route.MSI.DeviceIDValid {
		t.Fatalf("route prepared with DeviceIDValid")
	}
	if err := noITS.SetGSIRouting([]model.Route{route}); err != nil {
		t.Fatalf("route without DeviceID on a VM that needs none: %v", err)
	}

	b := openKVM(t, model.Config{})
	caps = b.Capabilities()
	if !caps.NeedsDeviceID {
		t.Fatalf("VM with ITS: NeedsDeviceID = false, want true (KVM_CAP_MSI_DEVID = 1)")
	}
	m := model.MSI{Doorbell: b.Layout().Doorbell(), Data: 1, DeviceID: 0x10}
	if _, err := b.SignalMSI(m); !errors.Is(err, model.ErrInvalidArgument) {
		t.Errorf("MSI without DeviceID: %v, want ErrInvalidArgument", err)
	}
	// KVM takes a route without one, and raising it delivers nothing
	// (Differences, "route-devid").
	if err := b.SetGSIRouting([]model.Route{{GSI: 4, MSI: m}}); err != nil {
		t.Errorf("route without DeviceID: %v, want it accepted as KVM accepts it", err)
	}
	if err := b.TriggerGSI(4); err != nil {
		t.Errorf("TriggerGSI of a route without DeviceID: %v, want nothing delivered and no error", err)
	}
	if err := b.SetGSIRouting([]model.Route{caps.PrepareRoute(model.Route{GSI: 4, MSI: m})}); err != nil {
		t.Errorf("route with DeviceID: %v", err)
	}
}

// A vCPU inside KVM_RUN makes KVM refuse attribute accesses with EBUSY;
// the backend stops it (immediate_exit + SIGURG) and restarts it.
func TestStopsRunningVCPUs(t *testing.T) {
	b := openKVM(t, model.Config{CPUs: 2})
	if err := kvm.Hold(b, 1); err != nil {
		t.Fatal(err)
	}
	if !kvm.Held(b, 1) {
		t.Fatal("vCPU 1 not held")
	}
	for i := range 3 {
		if _, err := b.ReadITSRegister(model.GITS_CREADR); err != nil {
			t.Fatalf("read %d with vCPU 1 in KVM_RUN: %v", i, err)
		}
		if err := model.SubmitCommands(b, model.MAPC{ICID: 1, RDbase: 1, Valid: true}); err != nil {
			t.Fatalf("commands with vCPU 1 in KVM_RUN: %v", err)
		}
		if _, err := b.Pending(0); err != nil {
			t.Fatalf("Pending with vCPU 1 in KVM_RUN: %v", err)
		}
	}
	if !kvm.Held(b, 1) {
		t.Fatal("vCPU 1 not restarted")
	}
	if err := kvm.Release(b, 1); err != nil {
		t.Fatal(err)
	}
	if id, err := b.Acknowledge(1); err != nil || id != model.SpuriousINTID {
		t.Fatalf("Acknowledge after release: %d, %v", id, err)
	}
	// Close while a vCPU runs.
	if err := kvm.Hold(b, 0); err != nil {
		t.Fatal(err)
	}
}

func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// Every fd and mapping is released by Close, also with irqfds bound, vCPUs
// held in the guest, and after a failed Open.
func TestCloseReleasesEverything(t *testing.T) {
	openKVM(t, model.Config{}).Close()
	before := countFDs(t)
	for i := range 4 {
		b, err := model.Open(kvm.Name, model.Config{CPUs: 2})
		if err != nil {
			t.Fatal(err)
		}
		caps := b.Capabilities()
		b.SetGSIRouting([]model.Route{caps.PrepareRoute(model.Route{GSI: 1, MSI: model.MSI{Doorbell: b.Layout().Doorbell(), DeviceID: 1}})})
		if _, err := b.BindIRQFD(1); err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 {
			if err := kvm.Hold(b, 1); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := b.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if _, err := b.Pending(0); !errors.Is(err, model.ErrClosed) {
			t.Errorf("Pending after Close: %v", err)
		}
		if _, err := b.SignalMSI(model.MSI{}); !errors.Is(err, model.ErrClosed) && !errors.Is(err, model.ErrInvalidArgument) {
			t.Errorf("SignalMSI after Close: %v", err)
		}
		if err := b.Memory().ReadAt(make([]byte, 1), b.Layout().RAMBase); !errors.Is(err, model.ErrClosed) {
			t.Errorf("memory after Close: %v", err)
		}
	}
	// A failed Open: redistributors overlapping the distributor are
	// refused by KVM half-way through set-up (CTRL_INIT).
	l := model.DefaultLayout()
	l.GICRBase = l.GICDBase
	if b, err := model.Open(kvm.Name, model.Config{Layout: l}); err == nil {
		b.Close()
		t.Error("Open with GICR overlapping GICD succeeded")
	} else {
		t.Logf("failed Open, as wanted: %v", err)
	}
	if after := countFDs(t); after != before {
		t.Errorf("open fds: %d before, %d after", before, after)
	}
}
