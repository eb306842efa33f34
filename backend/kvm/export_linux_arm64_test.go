//go:build linux && arm64

package kvm

import (
	"fmt"

	"github.com/gicits/gicits/backend/kvm/internal/kvmsys"
	"github.com/gicits/gicits/model"
)

// OpenWithoutITS opens a VM with a vGICv3 but no ITS device, whose
// KVM_CAP_MSI_DEVID answer is therefore 0.
func OpenWithoutITS(cfg model.Config) (model.Backend, error) { return open(cfg.WithDefaults(), false) }

// Hold makes cpu's guest stay inside KVM_RUN (in a WFI loop), so that the
// next attribute access has to stop it.
func Hold(b model.Backend, cpu model.CPU) error {
	_, err := b.(*backend).cpuRequest(cpu, opHold, 0)
	return err
}

// Held reports whether cpu is held in the guest.
func Held(b model.Backend, cpu model.CPU) bool { return b.(*backend).vcpus[cpu].isHeld() }

// Release stops a held cpu and sends it back to its request loop.
func Release(b model.Backend, cpu model.CPU) error {
	k := b.(*backend)
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.vcpus[cpu].release(uint64(k.loopAddr))
}

// RunningPriority reads ICC_RPR_EL1 on cpu.
func RunningPriority(b model.Backend, cpu model.CPU) (uint8, error) {
	return b.(*backend).runningPriority(cpu)
}

// SetCreateDevice replaces KVM_CREATE_DEVICE until the returned function
// is called: tests play a kernel without the vGICv3 or the ITS with it.
func SetCreateDevice(f func(vm *kvmsys.FD, typ uint32) (*kvmsys.FD, error)) (restore func()) {
	old := createDevice
	createDevice = f
	return func() { createDevice = old }
}

// FailCreateDevice returns a KVM_CREATE_DEVICE that fails with errno for
// device type typ and creates every other device.
func FailCreateDevice(typ uint32, errno error) func(vm *kvmsys.FD, t uint32) (*kvmsys.FD, error) {
	return func(vm *kvmsys.FD, t uint32) (*kvmsys.FD, error) {
		if t == typ {
			return nil, &kvmsys.Error{Op: "KVM_CREATE_DEVICE", What: fmt.Sprint("type ", t), Errno: errno}
		}
		return kvmsys.CreateDeviceOf(vm, t)
	}
}

// SetDevKVMPath makes Open open path instead of /dev/kvm until the
// returned function is called.
func SetDevKVMPath(path string) (restore func()) {
	old := devKVMPath
	devKVMPath = path
	return func() { devKVMPath = old }
}

// Device types and errnos for the fakes.
const (
	DevTypeVGICv3 = kvmsys.KVM_DEV_TYPE_ARM_VGIC_V3
	DevTypeITS    = kvmsys.KVM_DEV_TYPE_ARM_VGIC_ITS
)

var ENODEV = kvmsys.ENODEV

// SetRoutingInKVMOnly replaces KVM's GSI routing table with routes without
// the backend's knowing: its own record stays as SetGSIRouting left it.
func SetRoutingInKVMOnly(b model.Backend, routes []model.Route) error {
	k := b.(*backend)
	entries := make([]kvmsys.IRQRoutingEntry, len(routes))
	for i, r := range routes {
		e, err := kvmRoute(r, k.caps.NeedsDeviceID)
		if err != nil {
			return err
		}
		entries[i] = e
	}
	return kvmsys.SetGSIRouting(k.vm, entries)
}
