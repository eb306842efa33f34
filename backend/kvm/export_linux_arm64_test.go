//go:build linux && arm64

package kvm

import "github.com/gicits/gicits/model"

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
