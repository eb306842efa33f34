package kvm

import (
	"fmt"

	"github.com/gicits/gicits/backend/kvm/internal/kvmsys"
	"github.com/gicits/gicits/model"
)

// kvmMSI returns the struct kvm_msi for m on a VM whose KVM_CAP_MSI_DEVID
// answer is needsDeviceID. The DeviceID and KVM_MSI_VALID_DEVID go in only
// when the VM needs them; an MSI without a valid DeviceID for a VM that
// needs one is refused here, because KVM's answer to it depends on the
// translation cache (EINVAL cold, 1 warm).
func kvmMSI(m model.MSI, needsDeviceID bool) (kvmsys.MSI, error) {
	k := kvmsys.MSI{AddressLo: uint32(m.Doorbell), AddressHi: uint32(uint64(m.Doorbell) >> 32), Data: m.Data}
	if needsDeviceID {
		if !m.DeviceIDValid {
			return kvmsys.MSI{}, fmt.Errorf("%v: this VM needs a DeviceID (KVM_CAP_MSI_DEVID) and the MSI has none: %w", m, model.ErrInvalidArgument)
		}
		k.Flags = kvmsys.KVM_MSI_VALID_DEVID
		k.DevID = uint32(m.DeviceID)
	}
	return k, nil
}

// kvmRoute returns the struct kvm_irq_routing_entry for r, by the same
// rule as [kvmMSI], except that a route without a valid DeviceID on a VM
// that needs one is accepted, as KVM_SET_GSI_ROUTING accepts it (it checks
// only the flags it knows): the entry goes without KVM_MSI_VALID_DEVID and
// with devid 0, what a VMM that does not know the capability sends, and
// raising it delivers nothing: KVM refuses the MSI, unless its translation
// cache answers for DeviceID 0 (Differences, "route-devid").
func kvmRoute(r model.Route, needsDeviceID bool) (kvmsys.IRQRoutingEntry, error) {
	if r.GSI >= model.MaxGSIRoutes {
		return kvmsys.IRQRoutingEntry{}, fmt.Errorf("route %v: GSI %d not below %d: %w", r, r.GSI, model.MaxGSIRoutes, model.ErrInvalidArgument)
	}
	m, err := kvmMSI(r.MSI, needsDeviceID && r.MSI.DeviceIDValid)
	if err != nil {
		return kvmsys.IRQRoutingEntry{}, fmt.Errorf("route gsi=%d: %w", r.GSI, err)
	}
	return kvmsys.IRQRoutingEntry{
		GSI:   uint32(r.GSI),
		Type:  kvmsys.KVM_IRQ_ROUTING_MSI,
		Flags: m.Flags,
		MSI:   kvmsys.IRQRoutingMSI{AddressLo: m.AddressLo, AddressHi: m.AddressHi, Data: m.Data, DevID: m.DevID},
	}, nil
}
