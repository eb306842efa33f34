package model

import (
	"fmt"
	"math"
)

// DeviceID identifies a device that writes MSIs to an ITS. It is sideband
// information from the bus: for PCI it is the requester ID
// (see [PCIRequesterID]).
type DeviceID uint32

// EventID identifies one interrupt of a device: the data of the MSI write to
// GITS_TRANSLATER.
type EventID uint32

// INTID is a physical interrupt ID. LPIs are the INTIDs from [LPIBase] up.
type INTID uint32

// ICID is an interrupt collection ID: the indirection between an event and
// the redistributor (CPU) its LPI is delivered to.
type ICID uint16

// CPU is a processor number: the index of a redistributor (GICR_TYPER
// Processor_Number), which is the vcpu_id on KVM. With GITS_TYPER.PTA = 0,
// as on KVM, the RDbase field of ITS commands holds this number.
type CPU uint32

// GSI is a global system interrupt number: the index of a route in the
// GSI routing table (KVM_SET_GSI_ROUTING).
type GSI uint32

const (
	// LPIBase is the first LPI INTID (IHI 0069, 1.2.1 "INTIDs").
	LPIBase INTID = 8192

	// SpuriousINTID is what an acknowledge returns when no interrupt is
	// pending above the priority mask (ICC_IAR1_EL1 reads 1023).
	SpuriousINTID INTID = 1023

	// MaxGSIRoutes is the number of routes KVM accepts in one
	// KVM_SET_GSI_ROUTING call (KVM_MAX_IRQ_ROUTES); GSIs are below it.
	MaxGSIRoutes = 4096
)

// IsLPI reports whether id is in the LPI range.
func (id INTID) IsLPI() bool { return id >= LPIBase }

// GPA is a guest physical address.
type GPA uint64

// Add returns a + n, or an error if the sum overflows the 64-bit guest
// physical address space.
func (a GPA) Add(n uint64) (GPA, error) {
	if n > math.MaxUint64-uint64(a) {
		return 0, fmt.Errorf("guest physical address %#x + %#x overflows: %w", uint64(a), n, ErrInvalidArgument)
	}
	return a + GPA(n), nil
}

// IsAligned reports whether a is a multiple of align, which must be a power
// of two.
func (a GPA) IsAligned(align uint64) bool { return uint64(a)&(align-1) == 0 }

// String formats a as hexadecimal.
func (a GPA) String() string { return fmt.Sprintf("%#x", uint64(a)) }

// PCIRequesterID returns the DeviceID a PCI function presents to the ITS:
// its requester ID, bus<<8 | devfn, where devfn = device<<3 | function.
// This is what QEMU and kvmtool put in kvm_irq_routing_msi.devid.
func PCIRequesterID(bus, devfn uint8) DeviceID {
	return DeviceID(uint32(bus)<<8 | uint32(devfn))
}

// PCIDevFn returns the devfn byte of a PCI function (device 0..31,
// function 0..7), or an error naming the value out of range.
func PCIDevFn(device, function uint8) (uint8, error) {
	if device > 31 {
		return 0, fmt.Errorf("PCI device number %d out of range 0..31: %w", device, ErrInvalidArgument)
	}
	if function > 7 {
		return 0, fmt.Errorf("PCI function number %d out of range 0..7: %w", function, ErrInvalidArgument)
	}
	return device<<3 | function, nil
}
