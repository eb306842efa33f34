//go:build linux

package kvm

import (
	"errors"
	"fmt"

	"github.com/gicits/gicits/backend/kvm/internal/kvmsys"
)

// The host-side ways Open fails before any VM exists go through these,
// so that tests can play a host without /dev/kvm, without permission, or
// with a kernel lacking the vGICv3 or the ITS, on any Linux host and
// without root tricks (docs/bad-input.md, rows H*).
var (
	// devKVMPath is the KVM device Open opens.
	devKVMPath = kvmsys.DevKVM
	// createDevice is KVM_CREATE_DEVICE.
	createDevice = kvmsys.CreateDeviceOf
)

// Errors a user can act on, each distinct (deviceError prefixes them).
var (
	errNoVGICv3 = errors.New("this kernel's KVM cannot create a vGICv3 (KVM_DEV_TYPE_ARM_VGIC_V3): the host GIC must be a GICv3 and the kernel must have vGICv3 support")
	errNoITS    = errors.New("this kernel's KVM cannot create a vGIC ITS (KVM_DEV_TYPE_ARM_VGIC_ITS): a kernel with CONFIG_KVM on arm64 and the ITS emulation is needed")
)

// openDevKVM opens the KVM device: a missing device, no permission and a
// file that is not KVM are distinct errors, all wrapping
// model.ErrNotSupported.
func openDevKVM() (*kvmsys.FD, error) {
	fd, err := kvmsys.OpenKVMAt(devKVMPath)
	if err != nil {
		return nil, wrap(err)
	}
	return fd, nil
}

func deviceError(typ uint32, err error) error {
	missing := errors.Is(err, kvmsys.ENODEV) || errors.Is(err, kvmsys.ENXIO)
	switch {
	case typ == kvmsys.KVM_DEV_TYPE_ARM_VGIC_V3 && missing:
		return wrap(fmt.Errorf("%w: %w", errNoVGICv3, err))
	case typ == kvmsys.KVM_DEV_TYPE_ARM_VGIC_ITS && missing:
		return wrap(fmt.Errorf("%w: %w", errNoITS, err))
	case typ == kvmsys.KVM_DEV_TYPE_ARM_VGIC_V3:
		return wrap(fmt.Errorf("vGICv3: %w", err))
	case typ == kvmsys.KVM_DEV_TYPE_ARM_VGIC_ITS:
		return wrap(fmt.Errorf("ITS: %w", err))
	}
	return wrap(fmt.Errorf("device type %d: %w", typ, err))
}
