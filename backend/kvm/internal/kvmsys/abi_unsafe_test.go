package kvmsys

import (
	"testing"
	"unsafe"
)

// The mirrored structures must have exactly the kernel's sizes: an ioctl
// number encodes the size, and the kernel copies that many bytes.
func TestStructSizes(t *testing.T) {
	for _, c := range []struct {
		name string
		got  uintptr
		want uintptr
	}{
		{"kvm_userspace_memory_region", unsafe.Sizeof(UserspaceMemoryRegion{}), 32},
		{"kvm_create_device", unsafe.Sizeof(CreateDevice{}), 12},
		{"kvm_device_attr", unsafe.Sizeof(DeviceAttr{}), 24},
		{"kvm_msi", unsafe.Sizeof(MSI{}), 32},
		{"kvm_irq_routing_msi", unsafe.Sizeof(IRQRoutingMSI{}), 16},
		{"kvm_irq_routing_entry", unsafe.Sizeof(IRQRoutingEntry{}), 48},
		{"kvm_irqfd", unsafe.Sizeof(IRQFD{}), 32},
		{"kvm_vcpu_init", unsafe.Sizeof(VCPUInit{}), 32},
		{"kvm_one_reg", unsafe.Sizeof(OneReg{}), 16},
	} {
		if c.got != c.want {
			t.Errorf("sizeof(struct %s) = %d, want %d", c.name, c.got, c.want)
		}
	}
	// Offsets the kernel reads.
	if o := unsafe.Offsetof(MSI{}.DevID); o != 16 {
		t.Errorf("kvm_msi.devid at %d, want 16", o)
	}
	if o := unsafe.Offsetof(IRQRoutingEntry{}.MSI); o != 16 {
		t.Errorf("kvm_irq_routing_entry.u at %d, want 16", o)
	}
	if o := unsafe.Offsetof(DeviceAttr{}.Addr); o != 16 {
		t.Errorf("kvm_device_attr.addr at %d, want 16", o)
	}
}
